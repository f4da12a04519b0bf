/**
 * The stack command: runs Pulumi on one stack of this project with nothing to set up first.
 *
 *   npm run up                                  # the dev stack: preview, ask, update
 *   npm run preview -- --stack prod             # or STACK=prod npm run preview
 *   npm run stack -- config set --secret mysqlPassword
 *
 * - State: $PULUMI_BACKEND_URL when set (a team's shared backend, e.g. s3://...), otherwise a
 *   file backend in .pulumi/ inside this project (ignored by git): no Pulumi account.
 * - Secrets: the passphrase provider. The passphrase comes from $PULUMI_CONFIG_PASSPHRASE or
 *   $PULUMI_CONFIG_PASSPHRASE_FILE when set, otherwise from .pulumi/passphrase, generated on
 *   first use and readable by its owner alone. Keep it: the stack's secrets cannot be read
 *   without it.
 * - The stack is created on first use; preview and up load the policy pack in policy/.
 * - The Pulumi CLI: see pulumiCli.ts.
 *
 * preview, up, destroy, refresh and outputs run through Pulumi's Automation API, streaming
 * Pulumi's output as it comes; up, destroy and refresh show what they would change and ask
 * first (`--yes` skips the question). Any other command, or a flag these do not map, goes to
 * the CLI as typed, with the stack (and, for preview and up, the policy pack) added.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
// Types only here: the SDK is loaded once there is something to run (usage is shown without it).
import type { DestroyOptions, PreviewOptions, PulumiCommand, RefreshOptions, Stack, UpOptions } from "@pulumi/pulumi/automation";
import type { CliInstaller } from "./pulumiCli";
import { confirmed } from "./confirm";
import { changedStorePasswords, keepSecrets } from "./stackSecrets";
import type { ConfigurableStack } from "./stackSecrets";

export const DEFAULT_STACK = "dev";
export const POLICY_PACK = "policy";
/** The `up` flag that says a changed MySQL password was changed in MySQL first. */
export const PASSWORD_ROTATED = "--password-rotated";

const USAGE = `usage: npm run <preview|up|destroy|refresh|outputs|adopt|backup|restore> [-- flags]
       npm run stack -- <any pulumi command> [flags]
  The stack: --stack <name> (or -s), else $STACK, else ${DEFAULT_STACK}.
  up, destroy and refresh show what they would change and ask first; --yes skips the question.
  up refuses a MySQL password changed in config but not in MySQL; ${PASSWORD_ROTATED} says it was.
  preview, up, destroy, refresh take --target, --target-replace, --replace, --exclude,
  --target-dependents, --exclude-dependents, --refresh, --diff, --message, --parallel,
  --expect-no-changes, --continue-on-error, --debug, --suppress-outputs, --suppress-progress
  (where Pulumi has them); with any other flag they go to the Pulumi CLI as typed.
  outputs [name]: the stack's outputs, secrets shown.
  adopt [--compose-file <docker-compose.yml>] [--yes]: take over the guide's hand-made deployment.
  backup [--list]: take a backup of every store now (or list the backups kept).
  restore <backup> [--yes]: stop what uses the store, restore the backup, start it again.
  up first keeps the stack's passwords and Jupyter token in its encrypted config (generated once).`;

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
}

type Operation = "preview" | "up" | "destroy" | "refresh";
const OPERATIONS: Record<string, Operation> = { preview: "preview", up: "up", update: "up", destroy: "destroy", refresh: "refresh" };

/** The flags the Automation API has an option for, by operation. */
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

const SHARED_FLAGS = ["target", "targetDependents", "exclude", "excludeDependents", "message", "parallel", "debug", "suppressOutputs", "suppressProgress"] as const;
const FLAGS_OF: Record<Operation, readonly (keyof OperationFlags)[]> = {
    preview: [...SHARED_FLAGS, "replace", "refresh", "diff", "expectNoChanges"],
    up: [...SHARED_FLAGS, "yes", "replace", "refresh", "diff", "expectNoChanges", "continueOnError"],
    destroy: [...SHARED_FLAGS, "yes", "refresh", "diff", "continueOnError"],
    refresh: [...SHARED_FLAGS, "yes", "expectNoChanges"],
};

/** A flag Pulumi spells `--name` (or `-x`), with what it sets. */
const SWITCHES: Record<string, keyof OperationFlags> = {
    "--yes": "yes",
    "-y": "yes",
    "--target-dependents": "targetDependents",
    "--exclude-dependents": "excludeDependents",
    "--refresh": "refresh",
    "-r": "refresh",
    "--diff": "diff",
    "--expect-no-changes": "expectNoChanges",
    "--continue-on-error": "continueOnError",
    "--debug": "debug",
    "-d": "debug",
    "--suppress-outputs": "suppressOutputs",
    "--suppress-progress": "suppressProgress",
};
const VALUED: Record<string, keyof OperationFlags | "targetReplace"> = {
    "--target": "target",
    "-t": "target",
    "--replace": "replace",
    "--target-replace": "targetReplace",
    "--exclude": "exclude",
    "--message": "message",
    "-m": "message",
    "--parallel": "parallel",
    "-p": "parallel",
};

/** The operation's flags, or undefined when one of them has no Automation API option here. */
export function operationFlags(operation: Operation, args: string[]): OperationFlags | undefined {
    const flags: OperationFlags = {
        yes: false,
        target: [],
        replace: [],
        exclude: [],
        targetDependents: false,
        excludeDependents: false,
        refresh: false,
        diff: false,
        expectNoChanges: false,
        continueOnError: false,
        debug: false,
        suppressOutputs: false,
        suppressProgress: false,
    };
    const used = new Set<keyof OperationFlags>();
    for (let i = 0; i < args.length; i++) {
        const [name, inline] = args[i].startsWith("--") && args[i].includes("=") ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)] : [args[i], undefined];
        const valued = VALUED[name];
        if (SWITCHES[name] !== undefined && inline === undefined) {
            const key = SWITCHES[name] as "yes";
            flags[key] = true;
            used.add(key);
        } else if (valued !== undefined) {
            const value = inline ?? args[++i];
            if (value === undefined) return undefined;
            if (valued === "targetReplace") {
                flags.target.push(value);
                flags.replace.push(value);
                used.add("target").add("replace");
            } else if (valued === "message") {
                flags.message = value;
                used.add(valued);
            } else if (valued === "parallel") {
                if (!/^[1-9][0-9]*$/.test(value)) return undefined;
                flags.parallel = Number(value);
                used.add(valued);
            } else {
                (flags[valued] as string[]).push(value);
                used.add(valued);
            }
        } else {
            return undefined;
        }
    }
    return [...used].every((flag) => FLAGS_OF[operation].includes(flag)) ? flags : undefined;
}

/** The stack named by `--stack`/`-s` (taken out of `args`), else $STACK, else dev. */
export function stackOf(args: string[], env: NodeJS.ProcessEnv): { stack: string; rest: string[] } {
    const rest: string[] = [];
    let stack = env.STACK || DEFAULT_STACK;
    for (let i = 0; i < args.length; i++) {
        if ((args[i] === "--stack" || args[i] === "-s") && i + 1 < args.length) stack = args[++i];
        else if (args[i].startsWith("--stack=")) stack = args[i].slice("--stack=".length);
        else rest.push(args[i]);
    }
    return { stack, rest };
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
    if (env.PULUMI_CONFIG_PASSPHRASE === undefined && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
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

/** Runs the stack command; resolves to its exit code. */
export async function stackCommand(argv: string[], options: StackCommandOptions): Promise<number> {
    const { projectDir, terminal } = options;
    const say = (line: string) => terminal.err(`${line}\n`);
    const { stack: stackName, rest } = stackOf(argv, process.env);
    const [verb, ...args] = rest;
    if (verb === undefined || verb.startsWith("-")) {
        terminal.err(`${USAGE}\n`);
        return verb === "--help" || verb === "-h" ? 0 : 2;
    }

    const { CommandError, LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const { CliInstallError, downloadCli, pulumiCli } = await import("./pulumiCli");
    // Set when Pulumi's own output has been shown as it came, errors included.
    let streamed = false;
    try {
        const cli = await pulumiCli(projectDir, say, options.installCli ?? downloadCli);
        const envVars = localState(projectDir, process.env, say);
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName, workDir: projectDir },
            { pulumiCommand: cli, envVars, secretsProvider: "passphrase" },
        );

        const configurable = configurableStack(stack, cli, stackName, projectDir, envVars);
        const operation = OPERATIONS[verb];
        // Said once MySQL runs with the new password (stackSecrets.ts `changedStorePasswords`).
        const rotated = operation === "up" && args.includes(PASSWORD_ROTATED);
        const flags = operation && operationFlags(operation, rotated ? args.filter((a) => a !== PASSWORD_ROTATED) : args);
        if (operation === "up" && flags) {
            const project = (await stack.workspace.projectSettings()).name;
            const config = await configurable.getAllConfig();
            const changed = rotated ? [] : await changedStorePasswords(configurable, project, config);
            if (changed.length > 0) {
                changed.forEach(say);
                return 1;
            }
            await keepSecrets(configurable, project, say, config);
        }
        if (operation && flags) {
            streamed = true;
            return await runOperation(stack, operation, flags, terminal);
        }
        if (verb === "adopt") {
            const { adoptCommand } = await import("./adoptCommand");
            return await adoptCommand(configurable, {
                projectDir,
                stackName,
                args,
                terminal,
                up: async (yes) => {
                    await keepSecrets(configurable, (await stack.workspace.projectSettings()).name, say);
                    streamed = true;
                    return runOperation(stack, "up", operationFlags("up", yes ? ["--yes"] : [])!, terminal);
                },
            });
        }
        if (verb === "backup" || verb === "restore") {
            const { backupCommand } = await import("./backupCommand");
            return await backupCommand(configurable, { projectDir, stackName, verb, args, terminal });
        }
        if (verb === "outputs" && args.length <= 1 && !args.some((a) => a.startsWith("-"))) return await showOutputs(stack, args[0], terminal);
        // As typed, on the stack; `outputs` with flags is `stack output --show-secrets` with them.
        const typed = verb === "outputs" ? ["stack", "output", "--show-secrets", ...args] : rest;
        const policy = operation === "preview" || operation === "up" ? ["--policy-pack", POLICY_PACK] : [];
        streamed = true;
        return await passThrough(cli, [...typed, "--stack", stackName, ...policy], projectDir, envVars, terminal);
    } catch (err) {
        if (err instanceof CliInstallError) {
            say(err.message);
            return 1;
        }
        const failure = err instanceof CommandError ? cliFailure(err) : undefined;
        if (failure === undefined) throw err;
        if (!streamed && failure.message) say(failure.message);
        return failure.code;
    }
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

/** The stack's outputs, one per line (secrets shown), or the value of one. */
async function showOutputs(stack: Stack, name: string | undefined, terminal: Terminal): Promise<number> {
    const outputs = await stack.outputs();
    const text = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
    if (name !== undefined) {
        if (!(name in outputs)) {
            terminal.err(`The stack has no output named ${name}; it has: ${Object.keys(outputs).sort().join(", ") || "none"}.\n`);
            return 1;
        }
        terminal.out(`${text(outputs[name].value)}\n`);
        return 0;
    }
    const names = Object.keys(outputs).sort();
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
                child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pulumi config set ${key} failed: ${stderr.trim()}`))));
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
