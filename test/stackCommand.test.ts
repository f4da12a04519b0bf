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
"stack init")
    mkdir -p "$stacks" && touch "$stacks/$3"
    # As Pulumi does: the new stack's salt goes into its file beside Pulumi.yaml (the working directory).
    grep -q '^encryptionsalt:' "Pulumi.$3.yaml" 2>/dev/null || echo "encryptionsalt: v1:stand-in-salt" >> "Pulumi.$3.yaml" ;;
"config --show-secrets") if [ -f "$stacks/$stack.config.json" ]; then cat "$stacks/$stack.config.json"; else echo '{}'; fi ;;
"config set")
    [ -z "$FAIL_CONFIG_SET" ] || { echo "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase" >&2; exit 255; }
    # The value comes on standard input; it must never be an argument.
    value=$(cat)
    echo "# $3: secure: v1:stand-in" >> "Pulumi.$stack.yaml"
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
        for (const stack of ["dev", "prod"]) fs.writeFileSync(stackFile(stack), STACK_FILE);
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

    /** Runs the command; each question gets the next of `answers` (undefined once they are used up: the input has ended). */
    async function run(args: string[], env: Record<string, string> = {}, answers?: string | string[], installCli: CliInstaller = neverInstall, onOut?: (text: string) => void): Promise<Run> {
        Object.assign(process.env, env);
        const result: Run = { code: -1, out: "", err: "", questions: [] };
        const queue = typeof answers === "string" ? [answers] : [...(answers ?? [])];
        const terminal: Terminal = {
            out: (text) => {
                result.out += text;
                onOut?.(text);
            },
            err: (text) => (result.err += text),
            ask: async (question) => {
                result.questions.push(question);
                onAsk?.(question);
                return typeof answers === "string" ? answers : queue.shift();
            },
            askHidden: async () => {
                throw new Error("no test asks for a hidden answer");
            },
            shared: false,
        };
        result.code = await stackCommand(args, { projectDir: project, terminal, installCli, toolchainDir: path.join(dir, "toolchain") });
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

    /** Called with each question as it is asked. */
    let onAsk: ((question: string) => void) | undefined;
    beforeEach(() => (onAsk = undefined));

    const passfile = () => path.join(project, ".pulumi/passphrase");
    const stackFile = (stack: string) => path.join(project, `Pulumi.${stack}.yaml`);
    /** A committed stack file, as this project's are: comments and plain config, no salt, no secret. */
    const STACK_FILE = "# A stack of the test project.\nconfig:\n  smart-building:environment: development\n";
    const localStacks = () => path.join(project, ".pulumi/.pulumi/stacks");
    /** A stack an earlier run created in the stand-in's backend, with `config` (keys without namespace) in it. */
    function existing(stack: string, config: Record<string, string> = {}, stacks = localStacks()): void {
        fs.mkdirSync(stacks, { recursive: true });
        fs.writeFileSync(path.join(stacks, stack), "");
        const values = Object.fromEntries(Object.entries(config).map(([key, value]) => [`smart-building:${key}`, { value, secret: false }]));
        fs.writeFileSync(path.join(stacks, `${stack}.config.json`), JSON.stringify(values));
    }
    /** The kept secrets, as an up leaves them in a stack's config. */
    const KEPT = { mysqlRootPassword: "r".repeat(32), mysqlPassword: "s3cret-pw", jupyterToken: "t".repeat(32) };
    const local = () => `backend=file://${project}/.pulumi passfile=${passfile()}`;

    it("brings up dev on a file backend inside the project: passphrase and stack created, policy pack loaded", async () => {
        const result = await run(["up", "--yes"]);
        expect(result).toMatchObject({ code: 0, questions: [] });
        expect(stackCalls()).toEqual([
            "stack select --stack dev --non-interactive",
            "stack init dev --secrets-provider passphrase --non-interactive",
            "config set smart-building:mysqlRootPassword --secret --stack dev --non-interactive",
            "config set smart-building:mysqlPassword --secret --stack dev --non-interactive",
            "config set smart-building:jupyterToken --secret --stack dev --non-interactive",
            "up --yes --skip-preview --policy-pack policy --exec-kind auto.local --stack dev --non-interactive",
        ]);
        for (const call of calls().filter((c) => !c.includes("args=version "))) expect(call).toContain(local());
        expect(result.out).toContain("Updating (dev)\nResources: + 12 created\n");
        expect(result.err).toMatch(new RegExp(`^Generated ${passfile()}, the key to this stack's secrets: back it up.\nnpm run up writes into Pulumi.dev.yaml`));
        expect(result.err).toContain("\nKept in the stack's encrypted config");
    });

    it("keeps the passwords and the token in the stack's encrypted config before an up: taken over from the stack, else generated, once, never on a command line", async () => {
        // A stack brought up before the secrets were kept in config.
        existing("dev");
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
        await run(["up", "--yes"]);
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
        existing("dev");
        const shown = path.join(dir, "shown");
        const result = await run(["preview"], { WAIT_FOR: shown }, undefined, neverInstall, (text) => {
            if (text.includes("Previewing update")) fs.writeFileSync(shown, "");
        });
        expect(result.code).toBe(0);
        expect(stackCalls()[1]).toMatch(/^preview --policy-pack policy --exec-kind auto.local --event-log \S+ --stack dev --non-interactive$/);
        expect(result.out).toBe("Previewing update (dev)\n    + 12 to create\n");
    });

    it("asks before an update, and changes nothing unless told yes", async () => {
        existing("dev", KEPT);
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

    it("works on the stack named by --stack, else by STACK: one of the stack files, a new one added by its file", async () => {
        fs.writeFileSync(stackFile("staging"), STACK_FILE);
        await run(["up", "--yes"], { STACK: "prod" });
        await run(["up", "--yes", "--stack", "staging"], { STACK: "prod" });
        expect(stackCalls().filter((c) => c.startsWith("up ")).map((c) => /--stack (\S+)/.exec(c)![1])).toEqual(["prod", "staging"]);
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
        await run(["stack", "history", "--show-secrets", "-j", "--stack", "prod"]);
        expect(calls().filter((c) => !/args=(version|stack select|stack init)\b/.test(c))).toEqual([
            `path: args=config set --secret mysqlPassword a-long-password --stack prod ${local()}`,
            `path: args=stack export --file dev.json --stack dev ${local()}`,
            `path: args=stack history --show-secrets -j --stack prod ${local()}`,
        ]);
    });

    it("shows the stack's outputs, secrets included, or one of them, as JSON with --json", async () => {
        existing("dev");
        const all = await run(["outputs"]);
        expect(all).toMatchObject({ code: 0, out: "appUrl         http://localhost:3000\nmysqlPassword  s3cret-pw\n" });
        expect((await run(["outputs", "mysqlPassword"])).out).toBe("s3cret-pw\n");
        const missing = await run(["outputs", "nope"]);
        expect(missing).toMatchObject({ code: 1, err: "The stack has no output named nope; it has: appUrl, mysqlPassword.\n" });
        expect(JSON.parse((await run(["outputs", "--json"])).out)).toEqual({ appUrl: "http://localhost:3000", mysqlPassword: "s3cret-pw" });
        expect((await run(["outputs", "appUrl", "--json"])).out).toBe('"http://localhost:3000"\n');
    });

    it("uses a team's backend and passphrase when they are set, and writes nothing locally", async () => {
        existing("dev", {}, path.join(dir, "remote-stacks"));
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

    it("shows Pulumi's message when it fails before any output, and where a team's passphrase comes from when it was not given", async () => {
        const result = await run(["preview"], { FAIL_SELECT: "1" });
        expect(result.code).toBe(255);
        expect(result.err).toBe(
            `Generated ${passfile()}, the key to this stack's secrets: back it up.\n` +
                "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n" +
                "The stack's secrets are encrypted with another passphrase than .pulumi/passphrase: for a stack the team shares, set " +
                "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) from the team's secret store.\n",
        );
        const team = await run(["preview"], { FAIL_SELECT: "1", PULUMI_CONFIG_PASSPHRASE: "mistyped" });
        expect(team.err).toBe("error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n");
    });

    it("shows its usage without a command", async () => {
        const result = await run([]);
        expect(result.code).toBe(2);
        expect(result.err).toMatch(/^usage: /);
        expect(calls()).toEqual([]);
    });

    describe("--help", () => {
        it("shows each command's usage on --help or -h, and does nothing else: no CLI, no stack, no passphrase, no engine", async () => {
            for (const command of ["preview", "up", "destroy", "refresh", "outputs", "adopt", "backup", "restore"]) {
                for (const help of ["--help", "-h"]) {
                    // Asked for help, a newcomer gets it whatever else is on the line: flags, a stack, a mistyped $STACK.
                    const result = await run([command, "--yes", help, "--stack", "prod"], { STACK: "prdo" });
                    expect({ command, help, code: result.code, err: result.err }).toEqual({ command, help, code: 0, err: "" });
                    expect(result.out).toMatch(new RegExp(`^usage: npm run ${command} `));
                    expect(result.out).toContain("--stack, -s <name>");
                    expect(result.out).toContain("dev, prod");
                }
            }
            expect((await run(["up", "--help"])).out).toContain("--password-rotated");
            expect((await run(["restore", "-h"])).out).toMatch(/^usage: npm run restore -- <backup> \[--yes\]\n/);
            expect(calls()).toEqual([]);
            expect(fs.existsSync(path.join(project, ".pulumi"))).toBe(false);
        });

        it("shows the usage of every command on its own --help, on standard output, with exit code 0", async () => {
            for (const help of [["--help"], ["-h"], ["--stack", "prod", "--help"]]) {
                const result = await run(help);
                expect(result).toMatchObject({ code: 0, err: "" });
                expect(result.out).toMatch(/^usage: npm run <preview\|up\|destroy\|refresh\|outputs\|adopt\|backup\|restore> \[-- <flags>\]\n/);
                expect(result.out).toContain("npm run stack -- <any other pulumi command>");
                expect(result.out).toContain("npm run <command> -- --help");
            }
            expect(calls()).toEqual([]);
        });

        it("hands a Pulumi command's --help to the CLI as typed, on no stack: nothing created", async () => {
            const result = await run(["stack", "init", "--help"], { STACK: "prdo" });
            expect(result.code).toBe(0);
            expect(calls()).toEqual([expect.stringMatching(/^path: args=version /), "path: args=stack init --help backend= passfile="]);
            expect(fs.existsSync(path.join(project, ".pulumi"))).toBe(false);
        });
    });

    describe("a command line it cannot run", () => {
        it("refuses a flag the command does not know, by name, before anything is looked up", async () => {
            for (const command of ["preview", "up", "destroy", "refresh", "outputs", "adopt", "backup", "restore"]) {
                const result = await run([command, "--skip-preview"]);
                expect({ command, code: result.code, out: result.out }).toEqual({ command, code: 2, out: "" });
                expect(result.err).toBe(`npm run ${command} has no flag --skip-preview; npm run ${command} -- --help lists what it takes.\n`);
            }
            // A flag of another command, one without its value, a value where none is taken, a bad number.
            expect((await run(["destroy", "--expect-no-changes"])).err).toContain("npm run destroy has no flag --expect-no-changes;");
            expect((await run(["up", "--target"])).err).toBe("--target needs a value, <urn> (npm run up); npm run up -- --help lists what it takes.\n");
            expect((await run(["up", "--yes=no"])).err).toContain("--yes takes no value");
            expect(await run(["up", "--parallel", "many"])).toMatchObject({ code: 2, err: '--parallel takes a whole number of at least 1, not "many".\n' });
            expect(await run(["preview", "now"])).toMatchObject({ code: 2, err: expect.stringContaining('npm run preview takes no arguments, and was given "now"') });
            expect(await run(["outputs", "a", "b"])).toMatchObject({ code: 2, err: expect.stringContaining("npm run outputs takes at most 1") });
            expect(calls()).toEqual([]);
            expect(fs.existsSync(path.join(project, ".pulumi"))).toBe(false);
        });

        it("refuses a stack with no Pulumi.<name>.yaml, by name, before anything is created: which stacks there are, how to add one", async () => {
            for (const [args, env, from] of [
                [["up", "--stack", "prdo"], {}, "--stack"],
                [["preview", "-s", "prdo"], {}, "-s"],
                [["backup"], { STACK: "prdo" }, "$STACK"],
                [["config", "set", "namePrefix", "x-", "--stack=prdo"], {}, "--stack"],
            ] as const) {
                const result = await run([...args], env);
                expect(result.code).toBe(2);
                expect(result.err).toBe(
                    `Unknown stack "prdo" (${from}): the stacks of this project are dev, prod, one committed Pulumi.<name>.yaml each beside ` +
                        `Pulumi.yaml; nothing was created. To add one, add Pulumi.prdo.yaml (copy Pulumi.prod.yaml and change what differs, ` +
                        `as the README's "Stacks" says) and run npm test.\n`,
                );
            }
            expect((await run(["up", "--stack"])).err).toBe("--stack needs a stack name.\n");
            expect(calls()).toEqual([]);
            expect(fs.existsSync(path.join(project, ".pulumi"))).toBe(false);
            expect(fs.existsSync(stackFile("prdo"))).toBe(false);
        });
    });

    describe("what an up writes into the stack's file", () => {
        it("says what it will add to Pulumi.<stack>.yaml and with which passphrase, and asks; with no answer, writes nothing", async () => {
            const result = await run(["up"]);
            expect(result.code).toBe(1);
            expect(result.questions).toEqual(["Write these into Pulumi.dev.yaml? (yes/no) "]);
            expect(result.err).toBe(
                [
                    `Generated ${passfile()}, the key to this stack's secrets: back it up.`,
                    "npm run up writes into Pulumi.dev.yaml, a file of the repository, before it previews:",
                    "  - encryptionsalt: the salt of the stack's secrets, as the stack is created in .pulumi/ (this project's local backend)",
                    "  - mysqlRootPassword, encrypted (secure:): the MySQL root password, generated",
                    "  - mysqlPassword, encrypted (secure:): the MySQL application user's password, generated",
                    "  - jupyterToken, encrypted (secure:): the Jupyter login token, generated",
                    "  (Pulumi saves the whole file as it writes: its numbers and booleans come back quoted, which means the same.)",
                    "They are encrypted with .pulumi/passphrase, the passphrase generated on this machine: they are readable only with that file " +
                        "(back it up). A stack the team shares needs the team's passphrase instead: set PULUMI_CONFIG_PASSPHRASE (or " +
                        "PULUMI_CONFIG_PASSPHRASE_FILE) from the team's secret store, then run npm run up.",
                    "No answer (the input has ended): nothing was changed. --yes changes without asking.",
                    "",
                ].join("\n"),
            );
            expect(fs.readFileSync(stackFile("dev"), "utf8")).toBe(STACK_FILE);
            expect(stackCalls()).toEqual(["stack select --stack dev --non-interactive"]);
        });

        it("writes the stack file only once told yes, before the preview and the update's own question", async () => {
            const atQuestion: { file: string; calls: string[] }[] = [];
            onAsk = () => atQuestion.push({ file: fs.readFileSync(stackFile("dev"), "utf8"), calls: stackCalls() });
            const result = await run(["up"], {}, ["yes", "no"]);
            expect(result.code).toBe(1);
            expect(result.questions).toEqual(["Write these into Pulumi.dev.yaml? (yes/no) ", "Do you want to perform this update? (yes/no) "]);
            expect(atQuestion[0]).toEqual({ file: STACK_FILE, calls: ["stack select --stack dev --non-interactive"] });
            expect(atQuestion[1].calls.slice(1).map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual([
                "stack init",
                "config set",
                "config set",
                "config set",
                expect.stringMatching(/^preview /),
            ]);
            expect(fs.readFileSync(stackFile("dev"), "utf8")).toMatch(/^# A stack of the test project\.\n(?:.*\n)*encryptionsalt: v1:stand-in-salt\n/);
            expect(stackCalls().some((c) => c.startsWith("up "))).toBe(false);
        });

        it("with the team's passphrase, says the values are for the team to commit and read; adds only what is missing", async () => {
            existing("dev", { mysqlRootPassword: KEPT.mysqlRootPassword, mysqlPassword: "s3cret-pw" });
            const result = await run(["up"], { PULUMI_CONFIG_PASSPHRASE: "the-team's" });
            expect(result.err).toBe(
                [
                    "npm run up writes into Pulumi.dev.yaml, a file of the repository, before it previews:",
                    "  - jupyterToken, encrypted (secure:): the Jupyter login token, generated",
                    "  (Pulumi saves the whole file as it writes: its numbers and booleans come back quoted, which means the same.)",
                    "They are encrypted with the passphrase of $PULUMI_CONFIG_PASSPHRASE: commit Pulumi.dev.yaml, and whoever has that " +
                        "passphrase (the team's secret store) can read them.",
                    "No answer (the input has ended): nothing was changed. --yes changes without asking.",
                    "",
                ].join("\n"),
            );
            expect(stackCalls().filter((c) => c.startsWith("config set"))).toEqual([]);
        });

        it("adds nothing to a stack file the team committed with its salt and secrets: a new clone's first up asks only about the update", async () => {
            const shared =
                STACK_FILE +
                ["mysqlRootPassword", "mysqlPassword", "jupyterToken"].map((key) => `  smart-building:${key}:\n    secure: v1:team-encrypted\n`).join("") +
                "encryptionsalt: v1:the-team-salt\n";
            fs.writeFileSync(stackFile("dev"), shared);
            const result = await run(["up"], { PULUMI_CONFIG_PASSPHRASE: "the-team's" });
            expect(result.questions).toEqual(["Do you want to perform this update? (yes/no) "]);
            expect(result.err).not.toContain("writes into");
            expect(stackCalls().map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual(["stack select", "stack init", expect.stringMatching(/^preview /)]);
            expect(fs.readFileSync(stackFile("dev"), "utf8")).toBe(shared);
        });

        it("never lets a preview write the stack file: no stack created for it, no secret added", async () => {
            const fresh = await run(["preview"]);
            expect(fresh.code).toBe(1);
            expect(fresh.err).toContain(
                "Stack dev is not in .pulumi/ (this project's local backend) yet, and a preview does not create it (that writes Pulumi.dev.yaml): " +
                    "npm run up creates it, saying what it writes and asking first.\n",
            );
            expect((await run(["destroy", "--stack", "prod"])).err).toContain("Stack prod is not in .pulumi/ (this project's local backend) yet: npm run up -- --stack prod creates it");

            existing("dev");
            expect((await run(["preview"])).code).toBe(0);
            expect(stackCalls().filter((c) => /^(stack init|config set)/.test(c))).toEqual([]);
            expect(fs.readFileSync(stackFile("dev"), "utf8")).toBe(STACK_FILE);
        });
    });

    describe("an expected failure", () => {
        /** The project's own Pulumi.yaml (its declared config), so that backup and adopt can read a stack's config. */
        beforeEach(() => fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(project, "Pulumi.yaml")));
        const noEngine = () => `unix://${path.join(dir, "no-docker.sock")}`;
        /** A stack brought up before: valid secrets, and `config` (keys without namespace). */
        const brought = (config: Record<string, string>) => existing("dev", { ...KEPT, mysqlPassword: "p".repeat(32), ...config });
        const team = { PULUMI_CONFIG_PASSPHRASE: "the-team's" };

        it("says in one line that the Docker engine cannot be reached: backup, restore, adopt", async () => {
            brought({ backupEnabled: "true", dockerHost: noEngine() });
            for (const args of [["backup"], ["backup", "--list"], ["restore", "mysql/bas_dev-20250101-060000.sql.gz"], ["adopt", "--yes"]]) {
                const result = await run(args, team);
                expect({ args, code: result.code, err: result.err }).toEqual({
                    args,
                    code: 1,
                    err: `Cannot reach the Docker engine at ${path.join(dir, "no-docker.sock")} (ENOENT): no socket there: is Docker installed and running, and is the stack's dockerHost right?\n`,
                });
            }
        });

        it("says an adoption or a backup refused in one line", async () => {
            brought({ backupEnabled: "true", dockerHost: "ssh://deploy@example.com" });
            for (const command of ["adopt", "backup"]) {
                const result = await run([command], team);
                expect({ command, code: result.code, err: result.err }).toEqual({
                    command,
                    code: 1,
                    err: "npm run adopt, backup and restore run on the Docker host itself, through its socket; the stack's dockerHost is ssh://deploy@example.com: run them there.\n",
                });
            }
        });

        it("says a refused config once, each problem once, without a stack trace", async () => {
            brought({ backupEnabled: "true", backupInterval: "forever", dockerHost: noEngine() });
            const result = await run(["backup"], team);
            expect(result.code).toBe(1);
            expect(result.err).toMatch(/^Invalid stack configuration \(1 problem\); nothing was declared:\n {2}- smart-building:backupInterval: /);
            expect(result.err.match(/backupInterval/g)).toHaveLength(1);
            expect(result.err).not.toMatch(/\n\s+at /);
        });

        it("says a config value Pulumi refuses to set in one line, with Pulumi's reason", async () => {
            const result = await run(["up", "--yes"], { FAIL_CONFIG_SET: "1" });
            expect(result.code).toBe(1);
            expect(result.err.trim().split("\n").at(-1)).toBe(
                "pulumi config set smart-building:mysqlRootPassword failed: error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase",
            );
            expect(stackCalls().some((c) => c.startsWith("up "))).toBe(false);
        });
    });

    describe("the Pulumi CLI it runs", () => {
        /** Installs a stand-in as Pulumi's installer would, into `root/bin/pulumi`. */
        const installer = () =>
            jest.fn(async (root: string, version: string) => {
                standIn(path.join(root, "bin/pulumi"), "installed", version);
                return PulumiCommand.get({ root });
            });

        it("is the one on the PATH when its version fits, with nothing installed", async () => {
            existing("dev");
            const install = installer();
            await run(["preview"], {}, undefined, install);
            expect(install).not.toHaveBeenCalled();
            expect(calls().every((c) => c.startsWith("path: "))).toBe(true);
        });

        it("is the pinned version, installed into .pulumi once, when the one on the PATH is too old", async () => {
            standIn(path.join(dir, "bin/pulumi"), "path", "3.100.0");
            existing("dev");
            const install = installer();
            const first = await run(["preview"], {}, undefined, install);
            expect(first.code).toBe(0);
            expect(install.mock.calls).toEqual([[cliInstallRoot(project), PULUMI_CLI_VERSION]]);
            expect(cliInstallRoot(project)).toBe(path.join(project, `.pulumi/cli/${PULUMI_CLI_VERSION}`));
            expect(first.err.split("\n")[0]).toBe(
                `The Pulumi CLI on the PATH is 3.100.0; this project needs ${PULUMI_CLI_RANGE}: installing Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION} (once; the only download this needs; npm run toolchain builds it from the Go module proxy instead).`,
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
                `No Pulumi CLI on the PATH: installing Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION} (once; the only download this needs; npm run toolchain builds it from the Go module proxy instead).`,
                `Could not download the Pulumi CLI ${PULUMI_CLI_VERSION} into .pulumi/cli/${PULUMI_CLI_VERSION}: Failed to download https://get.pulumi.com/install.sh: fetch failed. ` +
                    "Install it yourself (https://www.pulumi.com/docs/iac/download-install/) and run this again.",
            ]);
            expect(fs.existsSync(passfile())).toBe(false);
        });

        it("is the one npm run toolchain built, when the PATH has none in range: nothing is downloaded", async () => {
            standIn(path.join(dir, "bin/pulumi"), "path", "3.100.0");
            standIn(path.join(dir, "toolchain/bin/pulumi"), "built", PULUMI_CLI_VERSION);
            existing("dev");
            const install = installer();
            const result = await run(["preview"], {}, undefined, install);
            expect(result.code).toBe(0);
            expect(result.err).not.toContain("installing");
            expect(install).not.toHaveBeenCalled();
            const used = calls().filter((c) => !c.includes("args=version "));
            expect(used.length).toBeGreaterThan(0);
            expect(used.every((c) => c.startsWith("built: "))).toBe(true);
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

describe("npm run up, preview, destroy, refresh, outputs, adopt, backup, restore and stack", () => {
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

    it("each answer --help with its usage and exit code 0, running no Pulumi CLI and writing nothing", () => {
        const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")).scripts;
        const wired = Object.entries(scripts).filter(([, script]) => script.startsWith("node scripts/stack.js"));
        expect(wired.map(([name]) => name).sort()).toEqual(["adopt", "backup", "destroy", "outputs", "preview", "refresh", "restore", "stack", "up"]);
        // A `pulumi` that says its version and fails anything else, logging each call; backend and passphrase outside the project.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-help-"));
        fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\necho "$*" >> "${dir}/calls"\n[ "$1" = version ] && echo v${PULUMI_CLI_VERSION} && exit 0\nexit 1\n`, { mode: 0o755 });
        const env = { PATH: `${dir}:/usr/bin:/bin`, PULUMI_BACKEND_URL: `file://${dir}`, PULUMI_CONFIG_PASSPHRASE: "unused" };
        try {
            for (const [name, script] of wired) {
                const args = [...script.split(" ").slice(2), "--help"];
                const result = spawnSync(process.execPath, [path.join(PROJECT_DIR, "scripts/stack.js"), ...args], { encoding: "utf8", env });
                expect({ name, status: result.status, stderr: result.stderr }).toEqual({ name, status: 0, stderr: "" });
                expect(result.stdout).toMatch(name === "stack" ? /^usage: npm run <preview\|/ : new RegExp(`^usage: npm run ${name} `));
            }
            expect(fs.existsSync(path.join(dir, "calls"))).toBe(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
