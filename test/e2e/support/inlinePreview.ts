/**
 * `pulumi preview` of the project's program through the real CLI, run as its own Node process:
 * `node -r scripts/typescript.js test/e2e/support/inlinePreview.ts <workDir> <stack>`, with the
 * CLI's root in PULUMI_TOOLCHAIN_ROOT and the backend, passphrase and home in the environment.
 * The Automation API serves the program from this process (an inline program: the CLI talks to
 * it, so no Node.js language host is needed), as the language host would run index.ts. Prints one
 * line of JSON: whether the preview succeeded, and everything the CLI printed.
 */
import path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";

const PROJECT_DIR = path.resolve(__dirname, "../../..");

async function main(): Promise<void> {
    const [workDir, stackName] = process.argv.slice(2);
    const pulumiCommand = await PulumiCommand.get({ root: process.env.PULUMI_TOOLCHAIN_ROOT, skipVersionCheck: true });
    const projectName = "smart-building";
    const stack = await LocalWorkspace.createOrSelectStack(
        {
            stackName,
            projectName,
            program: async () => {
                // The program reads Pulumi.yaml and relative paths from the project, as under `pulumi up` there.
                process.chdir(PROJECT_DIR);
                return import(path.join(PROJECT_DIR, "index.ts"));
            },
        },
        { workDir, pulumiCommand },
    );
    let output = "";
    const collect = (text: string) => void (output += text);
    try {
        await stack.preview({ onOutput: collect, onError: collect, color: "never" });
        process.stdout.write(`${JSON.stringify({ ok: true, output })}\n`);
    } catch (err) {
        process.stdout.write(`${JSON.stringify({ ok: false, output, error: (err as Error).message })}\n`);
    }
}

// A program that fails also rejects promises nobody awaits inside the runtime: the verdict is printed above.
process.on("unhandledRejection", () => undefined);
void main().then(() => process.exit(0));
