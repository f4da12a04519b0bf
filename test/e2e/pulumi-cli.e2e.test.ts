/**
 * The real Pulumi CLI v3.248.0, built here from the Go module proxy by `npm run toolchain`, on
 * what it can do without the parts the proxy does not serve (the Node.js language host, the
 * Docker and random providers; toolchain/build.sh names them): resolving every committed stack's
 * config, and refusing the declaration that once stopped every command.
 *
 * Each check compares the real CLI with what the project's own tests assume of it
 * (test/support/program.ts `stackConfig`, test/cliConfig.test.ts): where they differ, the
 * imitation is wrong. `REQUIRE_PULUMI_CLI=true` (set by .ci/run) makes a missing CLI a failure.
 */
import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { parse } from "yaml";
import { PULUMI_CLI_VERSION, toolchainRoot } from "../../scripts/pulumiCli";
import { PROJECT, PROJECT_DIR, committedStacks, stackConfig } from "../support/program";

/** The CLI `npm run toolchain` built, else one on the PATH of this project's version (as in the pull-request workflow's job). */
function findCli(): string | undefined {
    const built = path.join(toolchainRoot(), "bin", "pulumi");
    if (fs.existsSync(built)) return built;
    const onPath = spawnSync("pulumi", ["version"], { encoding: "utf8", timeout: 60_000 });
    return onPath.stdout?.trim() === `v${PULUMI_CLI_VERSION}` ? "pulumi" : undefined;
}

const foundCli = findCli();
const cli = foundCli ?? path.join(toolchainRoot(), "bin", "pulumi");
const found = foundCli !== undefined;
const required = process.env.REQUIRE_PULUMI_CLI === "true";
if (!found && !required) console.warn(`pulumi-cli: skipping: no Pulumi CLI ${PULUMI_CLI_VERSION} in ${toolchainRoot()} or on the PATH; build it with npm run toolchain.`);
const describeWithCli = found || required ? describe : describe.skip;

/** A folder holding Pulumi.yaml and a stack file, with a file backend and a passphrase of its own. */
function projectCopy(stack: string, projectYaml = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")): { dir: string; env: Record<string, string> } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-pulumi-cli-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectYaml);
    fs.copyFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), path.join(dir, `Pulumi.${stack}.yaml`));
    fs.mkdirSync(path.join(dir, "state"));
    const env = {
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "test passphrase",
        PULUMI_HOME: path.join(dir, "home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    return { dir, env };
}

function pulumi(dir: string, env: Record<string, string>, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(cli, args, { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8", timeout: 120_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describeWithCli(`the real Pulumi CLI (${cli})`, () => {
    const made: string[] = [];
    afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it(`is ${PULUMI_CLI_VERSION}`, () => {
        expect(pulumi(os.tmpdir(), {}, ["version"]).stdout.trim()).toBe(`v${PULUMI_CLI_VERSION}`);
    });

    it.each(committedStacks())("resolves the %s stack's config to what the tests feed the program (Pulumi.yaml's defaults under the stack's values)", (stack) => {
        const { dir, env } = projectCopy(stack);
        made.push(dir);
        expect(pulumi(dir, env, ["stack", "init", stack]).status).toBe(0);
        const shown = pulumi(dir, env, ["config", "--json", "--show-secrets", "--stack", stack]);
        expect(shown.stderr).toBe("");
        const resolved = JSON.parse(shown.stdout) as Record<string, { value: string; objectValue?: unknown }>;
        const ours = Object.fromEntries(Object.entries(resolved).filter(([k]) => k.startsWith(`${PROJECT}:`)).map(([k, v]) => [k.slice(PROJECT.length + 1), v.value]));
        expect(ours).toEqual(stackConfig(stack));
    });

    it("stops every command on a stack that lacks a secret declared without a default, as Pulumi.yaml once did", () => {
        const project = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8");
        expect(Object.keys(parse(project))).toEqual(["name", "description", "runtime", "config"]);
        // `config:` is the file's last section: the declaration is appended to it.
        const { dir, env } = projectCopy("dev", `${project}  mysqlPassword:\n    type: string\n    secret: true\n    description: declared as it was\n`);
        made.push(dir);
        pulumi(dir, env, ["stack", "init", "dev"]);
        const shown = pulumi(dir, env, ["config", "--json", "--stack", "dev"]);
        expect(shown.status).not.toBe(0);
        expect(shown.stderr).toContain("Stack 'dev' is missing configuration value 'mysqlPassword'");
    });

    /** `pulumi preview` of the program through the real CLI (inlinePreview.ts, in a Node process of its own). */
    function preview(dir: string, env: Record<string, string>, stack: string): { ok: boolean; output: string; error?: string } {
        const run = spawnSync(process.execPath, ["-r", path.join(PROJECT_DIR, "scripts/typescript.js"), path.join(__dirname, "support/inlinePreview.ts"), dir, stack], {
            env: { ...process.env, ...env, PULUMI_TOOLCHAIN_ROOT: path.dirname(path.dirname(cli)) },
            encoding: "utf8",
            timeout: 300_000,
        });
        const last = run.stdout.trim().split("\n").pop() ?? "";
        if (!last.startsWith("{")) throw new Error(`inlinePreview printed no verdict: ${run.stdout}${run.stderr}`);
        return JSON.parse(last);
    }

    it("runs the program under pulumi preview and stops it on a mistyped key and a bad value, naming both, before any resource", () => {
        const { dir, env } = projectCopy("dev");
        made.push(dir);
        expect(pulumi(dir, env, ["stack", "init", "dev"]).status).toBe(0);
        expect(pulumi(dir, env, ["config", "set", "--stack", "dev", "jupyterPort", "5000"]).status).toBe(0);
        expect(pulumi(dir, env, ["config", "set", "--stack", "dev", "mysqlHostPort", "70000"]).status).toBe(0);
        const result = preview(dir, env, "dev");
        expect(result.ok).toBe(false);
        expect(result.output).toContain("smart-building:jupyterPort is set, but this project has no such setting; did you mean smart-building:jupyterHostPort?");
        expect(result.output).toContain('smart-building:mysqlHostPort: "70000" is not valid');
        expect(result.output).not.toContain("docker:index");
    }, 300_000);

    it("runs the program under pulumi preview with the dev stack's config up to the Docker provider, which this machine cannot have", () => {
        const { dir, env } = projectCopy("dev");
        made.push(dir);
        expect(pulumi(dir, env, ["stack", "init", "dev"]).status).toBe(0);
        const result = preview(dir, env, "dev");
        // The Docker provider plugin is not served by the Go module proxy (toolchain/build.sh --check);
        // the program got past its config and asked the engine for it.
        expect(result.ok).toBe(false);
        expect(result.output).toMatch(/pulumi:providers:docker/);
        expect(result.output).toMatch(/no resource plugin 'pulumi-resource-docker'|could not find plugin|plugin.*docker/i);
    }, 300_000);
});
