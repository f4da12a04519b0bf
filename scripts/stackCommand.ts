/**
 * The stack command: runs Pulumi on one stack of this project with nothing to set up first.
 *
 *   npm run up                                  # the dev stack: preview, ask, update
 *   npm run preview -- --stack prod             # or STACK=prod npm run preview
 *   npm run up -- --help                        # any command's flags
 *   npm run stack -- config set --secret mysqlPassword
 *
 * - The command line (commandLine.ts): each command takes the flags it knows and no other, and
 *   a stack is one of the committed Pulumi.<stack>.yaml files; `--help`, an unknown flag and an
 *   unknown stack are answered before anything is looked up, created or written.
 * - State: $PULUMI_BACKEND_URL when set (a team's shared backend, e.g. s3://...), otherwise a
 *   file backend in .pulumi/ inside this project (ignored by git): no Pulumi account.
 * - Secrets: the passphrase provider. The passphrase comes from $PULUMI_CONFIG_PASSPHRASE or
 *   $PULUMI_CONFIG_PASSPHRASE_FILE when set (a team's, from its secret store), otherwise from
 *   .pulumi/passphrase, generated on first use and readable by its owner alone. Keep it: the
 *   stack's secrets cannot be read without it.
 * - `up` creates the stack on first use; before it writes anything into the stack's file (the
 *   new stack's encryption salt, the kept secrets: stackSecrets.ts) it says what and asks. No
 *   other command of its own creates a stack: they refuse one that does not exist yet.
 * - The Pulumi CLI: see pulumiCli.ts.
 *
 * preview, up, destroy, refresh and outputs run through Pulumi's Automation API, streaming
 * Pulumi's output as it comes, preview and up with the policy pack; up, destroy and refresh
 * show what they would change and ask first (`--yes` skips the question). Any other command
 * goes to the CLI as typed, with the stack added.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
// Types only here: the SDK is loaded once there is something to run (usage is shown without it).
import type { DestroyOptions, LocalWorkspace, PreviewOptions, PulumiCommand, RefreshOptions, Stack, UpOptions } from "@pulumi/pulumi/automation";
import type { CliInstaller } from "./pulumiCli";
import { COMMANDS, DEFAULT_STACK, Failure, UsageError, checkStack, commandHelp, commandOf, expectedFailure, generalHelp, knownStacks, parseArgs, stackOf, wantsHelp } from "./commandLine";
import type { Command, CommandName, ParsedArgs } from "./commandLine";
import { confirmed } from "./confirm";
import { readStackFile } from "./projectConfig";
import { changedStorePasswords, secretsToKeep, writeNotice, writeSecrets } from "./stackSecrets";
import type { ConfigurableStack, PassphraseSource, StackConfigValues } from "./stackSecrets";

export const POLICY_PACK = "policy";

/** Where the command writes, and how it asks. */
export interface Terminal {
    out(text: string): void;
    err(text: string): void;
    /** The line typed in answer to `question`, or undefined when the input has ended. */
    ask(question: string): Promise<string | undefined>;
    /** As `ask`, without showing what is typed (passwords). */
    askHidden(question: string): Promise<string | undefined>;
    /**
     * Whether a command passed to the CLI gets this process's own terminal (its prompts, its
     * colours), rather than having its output handed to `out` and `err`.
     */
    shared: boolean;
}

export interface StackCommandOptions {
    /** The Pulumi project: Pulumi.yaml, policy/, and .pulumi/ for the state, passphrase and CLI. */
    projectDir: string;
    terminal: Terminal;
    /** Installs the pinned CLI when none fits (Pulumi's installer by default). */
    installCli?: CliInstaller;
    /** Where `npm run toolchain` builds the CLI (`toolchainRoot()` by default). */
    toolchainDir?: string;
}

type Operation = "preview" | "up" | "destroy" | "refresh";
const isOperation = (name: CommandName): name is Operation => name === "preview" || name === "up" || name === "destroy" || name === "refresh";

/** The options the Automation API has for the flags of an operation. */
interface OperationFlags {
    yes: boolean;
    target: string[];
    replace: string[];
    exclude: string[];
    targetDependents: boolean;
    excludeDependents: boolean;
    refresh: boolean;
    diff: boolean;
    message?: string;
    parallel?: number;
    expectNoChanges: boolean;
    continueOnError: boolean;
    debug: boolean;
    suppressOutputs: boolean;
    suppressProgress: boolean;
}

/** An operation's flags (read against its command in commandLine.ts) as Automation API options. */
export function operationFlags({ flags }: ParsedArgs): OperationFlags {
    const all = (key: string) => flags[key] ?? [];
    const given = (key: string) => flags[key] !== undefined;
    const parallel = all("parallel").at(-1);
    if (parallel !== undefined && !/^[1-9][0-9]*$/.test(parallel)) throw new UsageError(`--parallel takes a whole number of at least 1, not "${parallel}".`);
    return {
        yes: given("yes"),
        target: [...all("target"), ...all("targetReplace")],
        replace: [...all("replace"), ...all("targetReplace")],
        exclude: all("exclude"),
        targetDependents: given("targetDependents"),
        excludeDependents: given("excludeDependents"),
        refresh: given("refresh"),
        diff: given("diff"),
        message: all("message").at(-1),
        parallel: parallel === undefined ? undefined : Number(parallel),
        expectNoChanges: given("expectNoChanges"),
        continueOnError: given("continueOnError"),
        debug: given("debug"),
        suppressOutputs: given("suppressOutputs"),
        suppressProgress: given("suppressProgress"),
    };
}

/** Where the passphrase of the stack's secrets comes from: the caller's settings, else .pulumi/passphrase. */
export function passphraseSource(projectDir: string, env: NodeJS.ProcessEnv): PassphraseSource {
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return { shown: "$PULUMI_CONFIG_PASSPHRASE", local: false };
    if (env.PULUMI_CONFIG_PASSPHRASE_FILE) return { shown: `$PULUMI_CONFIG_PASSPHRASE_FILE (${env.PULUMI_CONFIG_PASSPHRASE_FILE})`, local: false };
    return { shown: path.relative(projectDir, path.join(projectDir, ".pulumi", "passphrase")), local: true };
}

/**
 * The backend and passphrase settings the CLI gets: the caller's when set, otherwise a file
 * backend in .pulumi/ and a passphrase generated once into .pulumi/passphrase.
 */
export function localState(projectDir: string, env: NodeJS.ProcessEnv, say: (line: string) => void): Record<string, string> {
    const settings: Record<string, string> = {};
    const stateDir = path.join(projectDir, ".pulumi");
    if (!env.PULUMI_BACKEND_URL) {
        fs.mkdirSync(stateDir, { recursive: true });
        settings.PULUMI_BACKEND_URL = `file://${stateDir}`;
    }
    if (passphraseSource(projectDir, env).local) {
        const passphraseFile = path.join(stateDir, "passphrase");
        if (!fs.existsSync(passphraseFile) || fs.statSync(passphraseFile).size === 0) {
            fs.mkdirSync(stateDir, { recursive: true });
            fs.writeFileSync(passphraseFile, `${crypto.randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
            fs.chmodSync(passphraseFile, 0o600);
            say(`Generated ${passphraseFile}, the key to this stack's secrets: back it up.`);
        }
        settings.PULUMI_CONFIG_PASSPHRASE_FILE = passphraseFile;
    }
    return settings;
}

/** What the command line asks for, read before anything else is done. */
type CommandLine =
    | { kind: "own"; name: CommandName; stackName: string; args: string[]; parsed: ParsedArgs; flags?: OperationFlags }
    | { kind: "typed"; stackName: string; rest: string[] }
    /** A Pulumi command's own help (`npm run stack -- config set --help`): the CLI as typed, on no stack. */
    | { kind: "pulumiHelp"; rest: string[] };

/** Runs the stack command; resolves to its exit code. */
export async function stackCommand(argv: string[], options: StackCommandOptions): Promise<number> {
    const { projectDir, terminal } = options;
    try {
        const stacks = knownStacks(projectDir);
        const { stack: stackName, from, rest } = stackOf(argv, process.env);
        const [verb, ...args] = rest;
        if (verb === undefined || verb.startsWith("-")) {
            if (verb !== "--help" && verb !== "-h") {
                terminal.err(generalHelp(stacks));
                return 2;
            }
            terminal.out(generalHelp(stacks));
            return 0;
        }
        const name = commandOf(verb);
        if (name !== undefined && wantsHelp(args)) {
            terminal.out(commandHelp(name, stacks));
            return 0;
        }
        let line: CommandLine;
        if (name === undefined && wantsHelp(args)) {
            line = { kind: "pulumiHelp", rest };
        } else if (name === undefined) {
            line = { kind: "typed", stackName, rest };
        } else {
            const command: Command = COMMANDS[name];
            const parsed = parseArgs(name, command, args);
            line = { kind: "own", name, stackName, args, parsed, flags: isOperation(name) ? operationFlags(parsed) : undefined };
        }
        if (line.kind !== "pulumiHelp") checkStack(stackName, from, stacks);
        return await onStack(line, options);
    } catch (err) {
        const failure = expectedFailure(err);
        if (failure === undefined) throw err;
        terminal.err(`${failure.message}\n`);
        return failure.code;
    }
}

/** What the steps of a command on the stack share. */
interface Session {
    projectDir: string;
    stackName: string;
    /** The Pulumi project's name: the namespace of its config keys. */
    project: string;
    terminal: Terminal;
    say: (line: string) => void;
    workspace: LocalWorkspace;
    configurable: (stack: Stack) => ConfigurableStack;
    /** Where new stacks go, in words. */
    backend: string;
    passphrase: PassphraseSource;
}

/** Runs what `line` asks for on the stack, through the Pulumi CLI. */
async function onStack(line: CommandLine, options: StackCommandOptions): Promise<number> {
    const { projectDir, terminal } = options;
    const say = (text: string) => terminal.err(`${text}\n`);
    const { CommandError, LocalWorkspace, Stack, StackNotFoundError } = await import("@pulumi/pulumi/automation");
    const { downloadCli, pulumiCli } = await import("./pulumiCli");
    // Set when Pulumi's own output has been shown as it came, errors included.
    let streamed = false;
    try {
        const cli = await pulumiCli(projectDir, say, options.installCli ?? downloadCli, options.toolchainDir);
        if (line.kind === "pulumiHelp") return await passThrough(cli, line.rest, projectDir, {}, terminal);
        const { stackName } = line;
        const envVars = localState(projectDir, process.env, say);
        const workspace = await LocalWorkspace.create({ workDir: projectDir, pulumiCommand: cli, envVars, secretsProvider: "passphrase" });
        const found = await Stack.select(stackName, workspace).catch((err: unknown) => {
            if (err instanceof StackNotFoundError) return undefined;
            throw err;
        });
        const session: Session = {
            projectDir,
            stackName,
            project: (await workspace.projectSettings()).name,
            terminal,
            say,
            workspace,
            configurable: (stack) => configurableStack(stack, cli, stackName, projectDir, envVars),
            backend: process.env.PULUMI_BACKEND_URL || ".pulumi/ (this project's local backend)",
            passphrase: passphraseSource(projectDir, process.env),
        };
        const create = () => Stack.create(stackName, workspace);

        if (line.kind === "typed") {
            // A Pulumi command as typed (config set, stack export, ...): on the stack, created if need be.
            if (!found) await create();
            streamed = true;
            return await passThrough(cli, [...line.rest, "--stack", stackName], projectDir, envVars, terminal);
        }
        const { name, parsed, flags } = line;
        if (name === "up") {
            const stack = await stackForUp(session, found, flags!.yes, parsed.flags.passwordRotated !== undefined, create);
            if (stack === undefined) return 1;
            streamed = true;
            return await runOperation(stack, "up", flags!, terminal);
        }
        if (name === "adopt") {
            const stack = found ?? (await create());
            const { adoptCommand } = await import("./adoptCommand");
            return await adoptCommand(session.configurable(stack), {
                projectDir,
                stackName,
                args: line.args,
                terminal,
                up: async (yes) => {
                    const ready = await stackForUp(session, stack, yes, false, create);
                    if (ready === undefined) return 1;
                    streamed = true;
                    return runOperation(ready, "up", operationFlags(parseArgs("up", COMMANDS.up, yes ? ["--yes"] : [])), terminal);
                },
            });
        }
        if (!found) {
            const how = `npm run up${stackName === DEFAULT_STACK ? "" : ` -- --stack ${stackName}`}`;
            const why = name === "preview" ? `, and a preview does not create it (that writes Pulumi.${stackName}.yaml)` : "";
            throw new Failure(`Stack ${stackName} is not in ${session.backend} yet${why}: ${how} creates it, saying what it writes and asking first.`);
        }
        if (name === "backup" || name === "restore") {
            const { backupCommand } = await import("./backupCommand");
            return await backupCommand(session.configurable(found), { projectDir, stackName, verb: name, args: line.args, terminal });
        }
        if (name === "outputs") return await showOutputs(found, parsed, terminal);
        streamed = true;
        return await runOperation(found, name, flags!, terminal);
    } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        const failure = cliFailure(err);
        if (!streamed && failure.message) say(failure.message);
        if (/incorrect passphrase/.test(failure.message) && passphraseSource(projectDir, process.env).local) {
            say("The stack's secrets are encrypted with another passphrase than .pulumi/passphrase: for a stack the team shares, set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) from the team's secret store.");
        }
        return failure.code;
    }
}

/**
 * The stack an up runs on, once what it needs in the stack's file is there: the kept secrets
 * (stackSecrets.ts) and, for a stack not created yet, its encryption salt. Says what it is about
 * to write into the file, where, and with which passphrase, and asks (`yes` answers) before it
 * writes or creates anything. Undefined, with the reason said, when the up must not go on.
 */
async function stackForUp(s: Session, found: Stack | undefined, yes: boolean, rotated: boolean, create: () => Promise<Stack>): Promise<Stack | undefined> {
    const file = `Pulumi.${s.stackName}.yaml`;
    const committed = readStackFile(s.projectDir, s.stackName);
    let config: StackConfigValues;
    if (found) {
        const stack = s.configurable(found);
        config = await stack.getAllConfig();
        // Said once MySQL runs with the new password (stackSecrets.ts `changedStorePasswords`).
        const changed = rotated ? [] : await changedStorePasswords(stack, s.project, config);
        if (changed.length > 0) {
            changed.forEach(s.say);
            return undefined;
        }
    } else {
        // Not created yet: the keys of its committed file are all there is (secure values stay encrypted), and no outputs.
        config = Object.fromEntries(Object.keys(committed.config).map((key) => [key, { value: "" }]));
    }
    const secrets = await secretsToKeep(s.project, config, async () => (found ? found.outputs() : {}));
    // A new stack's salt goes into its file, unless the team committed one (Pulumi then reuses it).
    const creating = !found && !committed.encryptionsalt ? s.backend : undefined;
    if (secrets.length > 0 || creating) {
        writeNotice(file, secrets, creating, s.passphrase).forEach(s.say);
        if (!yes && !(await confirmed(s.terminal, `Write these into ${file}?`))) return undefined;
    }
    const stack = found ?? (await create());
    await writeSecrets(s.configurable(stack), s.project, secrets, s.say);
    return stack;
}

/** Preview, ask, apply; or apply at once with --yes; or only preview. */
async function runOperation(stack: Stack, operation: Operation, flags: OperationFlags, terminal: Terminal): Promise<number> {
    const { yes, ...rest } = flags;
    const common = {
        ...rest,
        onOutput: (text: string) => terminal.out(text),
        onError: (text: string) => terminal.err(text),
        color: terminal.shared && process.stdout.isTTY ? ("always" as const) : undefined,
    };
    const withPolicy = { ...common, policyPacks: [POLICY_PACK] };
    const apply: Record<Exclude<Operation, "preview">, { preview(): Promise<unknown>; apply(): Promise<unknown>; question: string }> = {
        up: { preview: () => stack.preview(withPolicy satisfies PreviewOptions), apply: () => stack.up(withPolicy satisfies UpOptions), question: "Do you want to perform this update?" },
        destroy: { preview: () => stack.previewDestroy(common satisfies DestroyOptions), apply: () => stack.destroy(common satisfies DestroyOptions), question: "Do you want to destroy these resources?" },
        refresh: { preview: () => stack.previewRefresh(common satisfies RefreshOptions), apply: () => stack.refresh(common satisfies RefreshOptions), question: "Do you want to perform this refresh?" },
    };

    // Ctrl-C reaches the Pulumi CLI too (same process group), which winds down cleanly; wait for it.
    const waitForPulumi = () => undefined;
    process.on("SIGINT", waitForPulumi);
    try {
        if (operation === "preview") {
            await stack.preview(withPolicy);
            return 0;
        }
        const steps = apply[operation];
        if (!yes) {
            await steps.preview();
            if (!(await confirmed(terminal, steps.question))) return 1;
        }
        await steps.apply();
        return 0;
    } finally {
        process.off("SIGINT", waitForPulumi);
    }
}

/** The stack's outputs, one per line (secrets shown), or the value of one; as JSON with --json. */
async function showOutputs(stack: Stack, { flags, args }: ParsedArgs, terminal: Terminal): Promise<number> {
    const outputs = await stack.outputs();
    const [name] = args;
    const json = flags.json !== undefined;
    const text = (value: unknown) => (typeof value === "string" && !json ? value : JSON.stringify(value, null, json ? 2 : undefined));
    const names = Object.keys(outputs).sort();
    if (name !== undefined) {
        if (!(name in outputs)) {
            terminal.err(`The stack has no output named ${name}; it has: ${names.join(", ") || "none"}.\n`);
            return 1;
        }
        terminal.out(`${text(outputs[name].value)}\n`);
        return 0;
    }
    if (json) {
        terminal.out(`${text(Object.fromEntries(names.map((n) => [n, outputs[n].value])))}\n`);
        return 0;
    }
    if (names.length === 0) {
        terminal.err("The stack has no outputs yet: `npm run up` brings it up.\n");
        return 0;
    }
    const width = Math.max(...names.map((n) => n.length));
    for (const n of names) terminal.out(`${n.padEnd(width)}  ${text(outputs[n].value)}\n`);
    return 0;
}

/**
 * The stack as the config commands use it (stackSecrets.ts, adoptCommand.ts): reads through the
 * Automation API, and sets each value with `pulumi config set`, the value on its standard input.
 */
export function configurableStack(stack: Stack, cli: PulumiCommand, stackName: string, projectDir: string, envVars: Record<string, string>): ConfigurableStack {
    return {
        getAllConfig: () => stack.getAllConfig(),
        outputs: () => stack.outputs(),
        setConfig: (key, value, secret) =>
            new Promise<void>((resolve, reject) => {
                const env = { ...process.env, ...envVars };
                if (path.isAbsolute(cli.command)) env.PATH = `${path.dirname(cli.command)}${path.delimiter}${env.PATH ?? ""}`;
                const args = ["config", "set", key, secret ? "--secret" : "--plaintext", "--stack", stackName, "--non-interactive"];
                const child = spawn(cli.command, args, { cwd: projectDir, env, stdio: ["pipe", "ignore", "pipe"] });
                let stderr = "";
                child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
                child.on("error", reject);
                child.on("close", (code) => (code === 0 ? resolve() : reject(new Failure(`pulumi config set ${key} failed: ${stderr.trim()}`))));
                // A CLI that refuses before it reads the value closes its input (EPIPE): its exit code and message say why.
                child.stdin.on("error", () => undefined);
                child.stdin.end(value);
            }),
    };
}

/** Runs the CLI with `args` as typed, on this project's state, in the user's terminal. */
function passThrough(cli: PulumiCommand, args: string[], projectDir: string, envVars: Record<string, string>, terminal: Terminal): Promise<number> {
    const env = { ...process.env, ...envVars };
    // An installed CLI finds its bundled language plugins beside it, as the Automation API arranges.
    if (path.isAbsolute(cli.command)) env.PATH = `${path.dirname(cli.command)}${path.delimiter}${env.PATH ?? ""}`;
    const child = spawn(cli.command, args, { cwd: projectDir, env, stdio: terminal.shared ? "inherit" : ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk: Buffer) => terminal.out(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => terminal.err(chunk.toString()));
    const waitForPulumi = () => undefined;
    process.on("SIGINT", waitForPulumi);
    return new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    }).finally(() => process.off("SIGINT", waitForPulumi));
}

/** The exit code and message of a failed CLI run. */
function cliFailure(err: Error): { code: number; message: string } {
    // The CLI's own result sits on the error (the type keeps it private).
    const result = (err as unknown as { commandResult?: { code?: number; stderr?: string; err?: { exitCode?: number; stderr?: string } } }).commandResult;
    const code = result?.err?.exitCode ?? (result?.code !== undefined && result.code > 0 ? result.code : 1);
    const message = (result?.err?.stderr ?? result?.stderr ?? err.message).trim();
    return { code, message };
}

/** The next line of standard input, or undefined when it has ended. */
function readLine(): Promise<string | undefined> {
    return new Promise((resolve) => {
        const lines = readline.createInterface({ input: process.stdin, terminal: false });
        let answer: string | undefined;
        lines.once("line", (line) => {
            answer = line;
            lines.close();
        });
        lines.once("close", () => resolve(answer));
    });
}

/** This process's terminal. */
export function processTerminal(): Terminal {
    return {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        ask: (question) => {
            process.stderr.write(question);
            return readLine();
        },
        askHidden: (question) =>
            new Promise((resolve) => {
                process.stderr.write(question);
                const input = process.stdin;
                if (!input.isTTY) {
                    void readLine().then(resolve);
                    return;
                }
                // A terminal: read raw keys and echo nothing, as `sudo` and `ssh` do.
                let typed = "";
                input.setRawMode(true);
                input.resume();
                const onData = (chunk: Buffer) => {
                    for (const ch of chunk.toString("utf8")) {
                        if (ch === "\r" || ch === "\n" || ch === "\u0004" || ch === "\u0003") {
                            input.setRawMode(false);
                            input.pause();
                            input.off("data", onData);
                            process.stderr.write("\n");
                            resolve(ch === "\u0003" ? undefined : typed);
                            return;
                        }
                        typed = ch === "\u007f" ? typed.slice(0, -1) : typed + ch;
                    }
                };
                input.on("data", onData);
            }),
        shared: true,
    };
}

/** The command line entry (scripts/stack.js). */
export async function main(): Promise<void> {
    process.exitCode = await stackCommand(process.argv.slice(2), { projectDir: path.resolve(__dirname, ".."), terminal: processTerminal() });
}
