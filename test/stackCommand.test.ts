import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { CliInstaller, PULUMI_CLI_RANGE, PULUMI_CLI_VERSION, cliInstallRoot, downloadCli } from "../scripts/pulumiCli";
import { Terminal, stackCommand } from "../scripts/stackCommand";
import { PROJECT_DIR } from "./support/program";

/**
 * The stack command (scripts/stackCommand.ts) on a scratch project, with stand-in `pulumi` CLIs
 * that record each call (arguments, and the backend and passphrase file they were given), keep
 * each stack as a file in their backend, and print what the command reads back.
 */
describe("the stack command", () => {
    let dir: string;
    let project: string;
    const log = () => path.join(dir, "pulumi-calls.log");
    const savedEnv = process.env;
    let warn: jest.SpyInstance;

    /** Writes a stand-in CLI reporting `version`, whose calls are logged as `name: ...`. */
    function standIn(file: string, name: string, version: string): void {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const script = `#!/bin/sh
echo "${name}: args=$* backend=$PULUMI_BACKEND_URL passfile=$PULUMI_CONFIG_PASSPHRASE_FILE" >> "${log()}"
case "$PULUMI_BACKEND_URL" in file://*) stacks="\${PULUMI_BACKEND_URL#file://}/.pulumi/stacks" ;; *) stacks="${dir}/remote-stacks" ;; esac
stack=; prev=; for a in "$@"; do [ "$prev" = --stack ] && stack=$a; prev=$a; done
case "$1 $2" in
"version ") echo "v${version}" ;;
"stack select")
    [ -z "$FAIL_SELECT" ] || { echo "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase" >&2; exit 255; }
    [ -f "$stacks/$stack" ] || { echo "error: no stack named '$stack' found" >&2; exit 255; } ;;
"stack init") mkdir -p "$stacks" && touch "$stacks/$3" ;;
"config --show-secrets") if [ -f "$stacks/$stack.config.json" ]; then cat "$stacks/$stack.config.json"; else echo '{}'; fi ;;
"config set")
    # The value comes on standard input; it must never be an argument.
    value=$(cat)
    node -e 'const fs = require("fs"); const [file, key, value, kind] = process.argv.slice(1);
        const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
        config[key] = { value, secret: kind === "--secret" }; fs.writeFileSync(file, JSON.stringify(config));' "$stacks/$stack.config.json" "$3" "$value" "$4" ;;
"stack output")
    case "$*" in *--show-secrets*) echo '{"appUrl":"http://localhost:3000","mysqlPassword":"s3cret-pw"}' ;;
    *) echo '{"appUrl":"http://localhost:3000","mysqlPassword":"[secret]"}' ;; esac ;;
"stack history") echo "[]" ;;
"preview "*)
    echo "Previewing update ($stack)"
    # The rest only once the command has shown that line: output must arrive as it comes.
    if [ -n "$WAIT_FOR" ]; then i=0; while [ ! -f "$WAIT_FOR" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; [ -f "$WAIT_FOR" ] || echo "(nothing was shown while the CLI ran)"; fi
    echo "    + 12 to create" ;;
"up "*)
    echo "Updating ($stack)"
    [ -z "$FAIL_UP" ] || { echo "error: update failed: sb-mysql: Bind for 0.0.0.0:3306 failed: port is already allocated" >&2; exit 255; }
    echo "Resources: + 12 created" ;;
esac
`;
        fs.writeFileSync(file, script, { mode: 0o755 });
    }

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-command-"));
        project = path.join(dir, "project");
        fs.mkdirSync(project);
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: smart-building\nruntime: nodejs\n");
        standIn(path.join(dir, "bin/pulumi"), "path", PULUMI_CLI_VERSION);
        const clean = Object.fromEntries(Object.entries(savedEnv).filter(([k]) => !k.startsWith("PULUMI_") && k !== "STACK"));
        process.env = { ...clean, PATH: `${path.join(dir, "bin")}:/usr/bin:/bin` };
        // The stand-ins send no engine events, so the Automation API warns of a preview without a summary.
        warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    });
    afterEach(() => {
        for (const [message] of warn.mock.calls) expect(message).toMatch(/Failed to parse summary event/);
        warn.mockRestore();
        process.env = savedEnv;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    interface Run {
        code: number;
        out: string;
        err: string;
        questions: string[];
    }
    const neverInstall: CliInstaller = () => Promise.reject(new Error("the test did not expect an install"));

    async function run(args: string[], env: Record<string, string> = {}, answer?: string, installCli: CliInstaller = neverInstall, onOut?: (text: string) => void): Promise<Run> {
        Object.assign(process.env, env);
        const result: Run = { code: -1, out: "", err: "", questions: [] };
        const terminal: Terminal = {
            out: (text) => {
                result.out += text;
                onOut?.(text);
            },
            err: (text) => (result.err += text),
            ask: async (question) => {
                result.questions.push(question);
                return answer;
            },
            askHidden: async () => {
                throw new Error("no test asks for a hidden answer");
            },
            shared: false,
        };
        result.code = await stackCommand(args, { projectDir: project, terminal, installCli });
        for (const key of Object.keys(env)) delete process.env[key];
        return result;
    }
    /** Every call so far, as `name: args=... backend=... passfile=...`. */
    const calls = () => (fs.existsSync(log()) ? fs.readFileSync(log(), "utf8").trim().split("\n") : []);
    /** The calls that touch a stack, arguments only. */
    const stackCalls = () =>
        calls()
            .map((c) => /args=(.*) backend=/.exec(c)![1])
            .filter((args) => /^(stack (select|init)|preview|up|destroy|refresh|config) /.test(args));

    const passfile = () => path.join(project, ".pulumi/passphrase");
    const local = () => `backend=file://${project}/.pulumi passfile=${passfile()}`;

    it("brings up dev on a file backend inside the project: passphrase and stack created, policy pack loaded", async () => {
        const result = await run(["up", "--yes"]);
        expect(result).toMatchObject({ code: 0, questions: [] });
        expect(stackCalls()).toEqual([
            "stack select --stack dev --non-interactive",
            "stack init dev --secrets-provider passphrase --non-interactive",
            "config --show-secrets --json --stack dev --non-interactive",
            "config set smart-building:mysqlRootPassword --secret --stack dev --non-interactive",
            "config set smart-building:mysqlPassword --secret --stack dev --non-interactive",
            "config set smart-building:jupyterToken --secret --stack dev --non-interactive",
            "up --yes --skip-preview --policy-pack policy --exec-kind auto.local --stack dev --non-interactive",
        ]);
        for (const call of calls().filter((c) => !c.includes("args=version "))) expect(call).toContain(local());
        expect(result.out).toContain("Updating (dev)\nResources: + 12 created\n");
        expect(result.err).toMatch(new RegExp(`^Generated ${passfile()}, the key to this stack's secrets: back it up.\nKept in the stack's encrypted config`));
    });

    it("keeps the passwords and the token in the stack's encrypted config before an up: taken over from the stack, else generated, once, never on a command line", async () => {
        const first = await run(["up", "--yes"]);
        const config = () => JSON.parse(fs.readFileSync(path.join(project, ".pulumi/.pulumi/stacks/dev.config.json"), "utf8"));
        const kept = config();
        // The stand-in stack already has an application password in its outputs: it is kept, not replaced.
        expect(kept["smart-building:mysqlPassword"]).toEqual({ value: "s3cret-pw", secret: true });
        expect(kept["smart-building:mysqlRootPassword"]).toEqual({ value: expect.stringMatching(/^[A-Za-z0-9]{32}$/), secret: true });
        expect(kept["smart-building:jupyterToken"]).toEqual({ value: expect.stringMatching(/^[A-Za-z0-9]{32}$/), secret: true });
        expect(first.err).toContain("taken over from the stack: MySQL application user's password; generated: MySQL root password, Jupyter login token.");
        const everything = calls().join("\n") + first.out + first.err;
        for (const secret of Object.values<{ value: string }>(kept)) expect(everything).not.toContain(secret.value);

        fs.rmSync(log());
        const second = await run(["up", "--yes"]);
        expect(config()).toEqual(kept);
        expect(stackCalls().filter((c) => c.startsWith("config set"))).toEqual([]);
        expect(second.err).toBe("");
    });

    it("refuses an up that would hand MySQL's users a password MySQL does not have, unless told it was rotated in MySQL first", async () => {
        await run(["up", "--yes"]);
        const file = path.join(project, ".pulumi/.pulumi/stacks/dev.config.json");
        const config = JSON.parse(fs.readFileSync(file, "utf8"));
        config["smart-building:mysqlPassword"] = { value: "a-new-password-set-by-hand", secret: true };
        fs.writeFileSync(file, JSON.stringify(config));
        fs.rmSync(log());

        const refused = await run(["up", "--yes"]);
        expect(refused.code).toBe(1);
        expect(refused.err).toContain("smart-building:mysqlPassword differs from the MySQL application user's password the stack runs with");
        expect(stackCalls().some((c) => c.startsWith("up "))).toBe(false);
        expect(refused.err + refused.out).not.toContain("a-new-password-set-by-hand");

        const rotated = await run(["up", "--yes", "--password-rotated"]);
        expect(rotated.code).toBe(0);
        expect(stackCalls().filter((c) => c.startsWith("up "))).toEqual([expect.not.stringContaining("password-rotated")]);
    });

    it("creates nothing again on a second run: same passphrase, readable by its owner alone, same stack", async () => {
        await run(["preview"]);
        const first = fs.readFileSync(passfile(), "utf8");
        expect(first.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(fs.statSync(passfile()).mode & 0o777).toBe(0o600);
        fs.rmSync(log());

        const second = await run(["preview"]);
        expect(fs.readFileSync(passfile(), "utf8")).toBe(first);
        expect(stackCalls()).toEqual(["stack select --stack dev --non-interactive", expect.stringMatching(/^preview /)]);
        expect(second.err).toBe("");
    });

    it("previews with the policy pack, streaming Pulumi's output while the CLI still runs", async () => {
        const shown = path.join(dir, "shown");
        const result = await run(["preview"], { WAIT_FOR: shown }, undefined, neverInstall, (text) => {
            if (text.includes("Previewing update")) fs.writeFileSync(shown, "");
        });
        expect(result.code).toBe(0);
        expect(stackCalls()[2]).toMatch(/^preview --policy-pack policy --exec-kind auto.local --event-log \S+ --stack dev --non-interactive$/);
        expect(result.out).toBe("Previewing update (dev)\n    + 12 to create\n");
    });

    it("asks before an update, and changes nothing unless told yes", async () => {
        const declined = await run(["up"], {}, "no");
        expect(declined.code).toBe(1);
        expect(declined.questions).toEqual(["Do you want to perform this update? (yes/no) "]);
        expect(declined.out).toContain("+ 12 to create");
        expect(declined.err).toContain("Nothing was changed.");
        expect(stackCalls().filter((c) => /^(preview|up) /.test(c)).map((c) => c.split(" ")[0])).toEqual(["preview"]);

        const noAnswer = await run(["destroy"]);
        expect(noAnswer.code).toBe(1);
        expect(noAnswer.questions).toEqual(["Do you want to destroy these resources? (yes/no) "]);
        expect(noAnswer.err).toContain("nothing was changed. --yes changes without asking.");
        expect(stackCalls().filter((c) => c.startsWith("destroy "))).toEqual([expect.stringMatching(/^destroy --preview-only /)]);

        fs.rmSync(log());
        const accepted = await run(["up"], {}, "yes");
        expect(accepted.code).toBe(0);
        expect(stackCalls().filter((c) => /^(preview|up) /.test(c)).map((c) => c.split(" ")[0])).toEqual(["preview", "up"]);
        expect(accepted.out).toContain("Resources: + 12 created");
    });

    it("works on the stack named by --stack, else by STACK", async () => {
        await run(["preview"], { STACK: "prod" });
        await run(["preview", "--stack", "staging"], { STACK: "prod" });
        expect(stackCalls().filter((c) => c.startsWith("preview ")).map((c) => /--stack (\S+)/.exec(c)![1])).toEqual(["prod", "staging"]);
        expect(stackCalls().filter((c) => c.startsWith("stack init "))).toEqual([
            "stack init prod --secrets-provider passphrase --non-interactive",
            "stack init staging --secrets-provider passphrase --non-interactive",
        ]);
    });

    it("maps the flags Pulumi users give an update onto the Automation API", async () => {
        const urn = "urn:pulumi:dev::smart-building::random:index/randomPassword:RandomPassword::mysql-user-password";
        expect((await run(["up", "--target-replace", urn, "-y", "--diff", "--message=rotate"])).code).toBe(0);
        expect(stackCalls().at(-1)).toBe(
            `up --yes --skip-preview --message rotate --diff --replace ${urn} --target ${urn} --policy-pack policy --exec-kind auto.local --stack dev --non-interactive`,
        );
    });

    it("passes other commands and flags to the CLI as typed, on the chosen stack", async () => {
        await run(["config", "set", "--secret", "mysqlPassword", "a-long-password"], { STACK: "prod" });
        await run(["stack", "export", "--file", "dev.json"]);
        await run(["up", "--skip-preview"]);
        await run(["outputs", "--json"]);
        expect(calls().filter((c) => !/args=(version|stack select|stack init)\b/.test(c))).toEqual([
            `path: args=config set --secret mysqlPassword a-long-password --stack prod ${local()}`,
            `path: args=stack export --file dev.json --stack dev ${local()}`,
            `path: args=up --skip-preview --stack dev --policy-pack policy ${local()}`,
            `path: args=stack output --show-secrets --json --stack dev ${local()}`,
        ]);
    });

    it("shows the stack's outputs, secrets included, or one of them", async () => {
        const all = await run(["outputs"]);
        expect(all).toMatchObject({ code: 0, out: "appUrl         http://localhost:3000\nmysqlPassword  s3cret-pw\n" });
        expect((await run(["outputs", "mysqlPassword"])).out).toBe("s3cret-pw\n");
        const missing = await run(["outputs", "nope"]);
        expect(missing).toMatchObject({ code: 1, err: "The stack has no output named nope; it has: appUrl, mysqlPassword.\n" });
    });

    it("uses a team's backend and passphrase when they are set, and writes nothing locally", async () => {
        await run(["preview"], { PULUMI_BACKEND_URL: "s3://state-bucket/smart-building", PULUMI_CONFIG_PASSPHRASE: "from-the-team" });
        const previews = calls().filter((c) => c.includes("args=preview "));
        expect(previews).toEqual([expect.stringMatching(/ backend=s3:\/\/state-bucket\/smart-building passfile=$/)]);
        expect(fs.existsSync(path.join(project, ".pulumi"))).toBe(false);
    });

    it("exits with Pulumi's code when an update fails, Pulumi's own message shown", async () => {
        const result = await run(["up", "--yes"], { FAIL_UP: "1" });
        expect(result.code).toBe(255);
        expect(result.err).toContain("error: update failed: sb-mysql: Bind for 0.0.0.0:3306 failed: port is already allocated\n");
        expect(result.err.match(/update failed/g)).toHaveLength(1);
    });

    it("shows Pulumi's message when it fails before any output", async () => {
        const result = await run(["preview"], { FAIL_SELECT: "1" });
        expect(result.code).toBe(255);
        expect(result.err).toBe(`Generated ${passfile()}, the key to this stack's secrets: back it up.\nerror: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n`);
    });

    it("shows its usage without a command", async () => {
        const result = await run([]);
        expect(result.code).toBe(2);
        expect(result.err).toMatch(/^usage: /);
        expect(calls()).toEqual([]);
    });

    describe("the Pulumi CLI it runs", () => {
        /** Installs a stand-in as Pulumi's installer would, into `root/bin/pulumi`. */
        const installer = () =>
            jest.fn(async (root: string, version: string) => {
                standIn(path.join(root, "bin/pulumi"), "installed", version);
                return PulumiCommand.get({ root });
            });

        it("is the one on the PATH when its version fits, with nothing installed", async () => {
            const install = installer();
            await run(["preview"], {}, undefined, install);
            expect(install).not.toHaveBeenCalled();
            expect(calls().every((c) => c.startsWith("path: "))).toBe(true);
        });

        it("is the pinned version, installed into .pulumi once, when the one on the PATH is too old", async () => {
            standIn(path.join(dir, "bin/pulumi"), "path", "3.100.0");
            const install = installer();
            const first = await run(["preview"], {}, undefined, install);
            expect(first.code).toBe(0);
            expect(install.mock.calls).toEqual([[cliInstallRoot(project), PULUMI_CLI_VERSION]]);
            expect(cliInstallRoot(project)).toBe(path.join(project, `.pulumi/cli/${PULUMI_CLI_VERSION}`));
            expect(first.err.split("\n")[0]).toBe(
                `The Pulumi CLI on the PATH is 3.100.0; this project needs ${PULUMI_CLI_RANGE}: installing Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION} (once; the only download this needs).`,
            );
            expect(calls().filter((c) => !c.includes("args=version ")).every((c) => c.startsWith("installed: "))).toBe(true);

            fs.rmSync(log());
            const second = await run(["preview"], {}, undefined, install);
            expect(second).toMatchObject({ code: 0, err: "" });
            expect(install).toHaveBeenCalledTimes(1);
            expect(stackCalls()).toHaveLength(2);
            expect(calls().filter((c) => !c.includes("args=version ")).every((c) => c.startsWith("installed: "))).toBe(true);
        });

        it("is installed when there is none on the PATH; a failed download is said in one line, and nothing else is done", async () => {
            process.env.PATH = "/usr/bin:/bin";
            const install = jest.fn(() => Promise.reject(new Error("Failed to download https://get.pulumi.com/install.sh: fetch failed")));
            const result = await run(["up"], {}, undefined, install);
            expect(result.code).toBe(1);
            expect(result.err.trim().split("\n")).toEqual([
                `No Pulumi CLI on the PATH: installing Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION} (once; the only download this needs).`,
                `Could not download the Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION}: Failed to download https://get.pulumi.com/install.sh: fetch failed. ` +
                    "Install it yourself (https://www.pulumi.com/docs/iac/download-install/) and run this again.",
            ]);
            expect(fs.existsSync(passfile())).toBe(false);
        });

        it("is installed by Pulumi's own installer, at the pinned version", async () => {
            const install = jest.spyOn(PulumiCommand, "install").mockRejectedValue(new Error("no network in tests"));
            await expect(downloadCli("/somewhere", PULUMI_CLI_VERSION)).rejects.toThrow("no network in tests");
            expect(install).toHaveBeenCalledTimes(1);
            const [opts] = install.mock.calls[0];
            expect(opts?.root).toBe("/somewhere");
            expect(opts?.version?.version).toBe(PULUMI_CLI_VERSION);
            install.mockRestore();
        });

        it("is pinned to the release of the @pulumi/pulumi SDK the project pins, or a later 3.x", () => {
            const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));
            expect(PULUMI_CLI_VERSION).toBe(pkg.dependencies["@pulumi/pulumi"]);
            expect(PULUMI_CLI_RANGE).toBe(`^${PULUMI_CLI_VERSION}`);
        });
    });
});

describe("npm run up, preview, destroy, refresh, outputs and stack", () => {
    it("run the stack command under plain Node", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")).scripts;
        expect(scripts).toMatchObject({
            stack: "node scripts/stack.js",
            up: "node scripts/stack.js up",
            preview: "node scripts/stack.js preview",
            destroy: "node scripts/stack.js destroy",
            refresh: "node scripts/stack.js refresh",
            outputs: "node scripts/stack.js outputs",
        });
        const result = spawnSync(process.execPath, [path.join(PROJECT_DIR, "scripts/stack.js")], { encoding: "utf8" });
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(/^usage: npm run <preview\|up\|destroy\|refresh\|outputs\|adopt\|backup\|restore>/);
    });
});
