/**
 * The stack command's command line, one layer for every command it runs (stackCommand.ts,
 * adoptCommand.ts, backupCommand.ts): the commands and their flags, their usage, the stack
 * named, and the failures that end a command with a message rather than a stack trace.
 *
 * Nothing here runs Pulumi or Docker: `--help`, an unknown flag and an unknown stack are
 * answered before anything is looked up, created or written.
 */
import * as fs from "fs";

export const DEFAULT_STACK = "dev";

/** An expected failure: its message is said as it is, and the command exits with `code`. */
export class Failure extends Error {
    constructor(
        message: string,
        readonly code = 1,
    ) {
        super(message);
        this.name = "Failure";
    }
}

/** A command line the command cannot run (exit code 2). */
export class UsageError extends Failure {
    constructor(message: string) {
        super(message, 2);
        this.name = "UsageError";
    }
}

/** A flag: its spellings (the long one first), the value it takes if any, what it does. */
export interface Flag {
    readonly names: readonly string[];
    /** The value, in words (`<urn>`); none for a switch. */
    readonly value?: string;
    readonly help: string;
}

/** A command of `npm run`: what follows its name, what it does (in a line, then more), its flags by key, how many arguments it takes. */
export interface Command<K extends string = string> {
    readonly synopsis: string;
    readonly summary: string;
    readonly more?: string;
    readonly flags: Readonly<Record<K, Flag>>;
    readonly maxArgs: number;
}

/** A command line read against its command: each flag given (by key) with its values (none for a switch), and the other arguments. */
export interface ParsedArgs<K extends string = string> {
    readonly flags: Partial<Record<K, string[]>>;
    readonly args: string[];
}

const UPDATE_FLAGS = {
    target: { names: ["--target", "-t"], value: "<urn>", help: "only this resource (repeatable)" },
    targetDependents: { names: ["--target-dependents"], help: "with --target, the resources that depend on it too" },
    exclude: { names: ["--exclude"], value: "<urn>", help: "leave this resource out (repeatable)" },
    excludeDependents: { names: ["--exclude-dependents"], help: "with --exclude, the resources that depend on it too" },
    message: { names: ["--message", "-m"], value: "<text>", help: "the message kept in the stack's history" },
    parallel: { names: ["--parallel", "-p"], value: "<n>", help: "at most n resource operations at once" },
    debug: { names: ["--debug", "-d"], help: "Pulumi's debug output" },
    suppressOutputs: { names: ["--suppress-outputs"], help: "do not show the stack's outputs" },
    suppressProgress: { names: ["--suppress-progress"], help: "do not show progress" },
} satisfies Record<string, Flag>;
const yes = { names: ["--yes", "-y"], help: "do not ask" } satisfies Flag;
const yesUnseen = { names: ["--yes", "-y"], help: "do not ask, and do not preview first" } satisfies Flag;
const replace = { names: ["--replace"], value: "<urn>", help: "replace this resource (repeatable)" } satisfies Flag;
const targetReplace = { names: ["--target-replace"], value: "<urn>", help: "replace this resource, and only it" } satisfies Flag;
const refresh = { names: ["--refresh", "-r"], help: "refresh the state from the engine first" } satisfies Flag;
const diff = { names: ["--diff"], help: "show each change property by property" } satisfies Flag;
const expectNoChanges = { names: ["--expect-no-changes"], help: "fail if anything would change" } satisfies Flag;
const continueOnError = { names: ["--continue-on-error"], help: "go on with the other resources when one fails" } satisfies Flag;

/** Every command the stack command runs itself (package.json wires each as `npm run <name>`); any other goes to the Pulumi CLI. */
export const COMMANDS = {
    preview: {
        synopsis: "[-- <flags>]",
        summary: "Shows what an up would change, with the policy pack. Writes nothing.",
        flags: { ...UPDATE_FLAGS, replace, targetReplace, refresh, diff, expectNoChanges },
        maxArgs: 0,
    },
    up: {
        synopsis: "[-- <flags>]",
        summary: "Previews the update with the policy pack, asks, then updates the stack (created on first use).",
        more:
            "First it keeps the stack's MySQL passwords and Jupyter token in Pulumi.<stack>.yaml, encrypted (secure:), generated\n" +
            "once: when it has any to add, it says which, with which passphrase, and asks before it writes.",
        flags: {
            yes: { ...yes, help: "do not ask, before writing the stack file or before the update (no preview first)" },
            ...UPDATE_FLAGS,
            replace,
            targetReplace,
            refresh,
            diff,
            expectNoChanges,
            continueOnError,
            passwordRotated: { names: ["--password-rotated"], help: "a MySQL password changed in config was changed in MySQL first" },
        },
        maxArgs: 0,
    },
    destroy: {
        synopsis: "[-- <flags>]",
        summary: "Removes the stack's containers and network after a preview and a question; the data volumes stay.",
        flags: { yes: yesUnseen, ...UPDATE_FLAGS, refresh, diff, continueOnError },
        maxArgs: 0,
    },
    refresh: {
        synopsis: "[-- <flags>]",
        summary: "Brings the state in line with what runs on the engine, after a preview and a question.",
        flags: { yes: yesUnseen, ...UPDATE_FLAGS, expectNoChanges },
        maxArgs: 0,
    },
    outputs: {
        synopsis: "[-- [<name>] [--json]]",
        summary: "Shows the stack's outputs, secrets included, or the value of one.",
        flags: { json: { names: ["--json"], help: "as JSON" } },
        maxArgs: 1,
    },
    adopt: {
        synopsis: "[-- --compose-file <docker-compose.yml>] [--yes]",
        summary: "Takes over a deployment made by hand with the guide: says what it will do, asks, then runs up.",
        more:
            "It runs on the Docker host, and keeps every data volume. Before it stops or writes anything it checks the config the\n" +
            "stack would run with, as preview does, and refuses, saying why, what would not run.",
        flags: {
            composeFile: { names: ["--compose-file"], value: "<docker-compose.yml>", help: "read the MySQL passwords from the guide's compose file (else asked)" },
            yes,
        },
        maxArgs: 0,
    },
    backup: {
        synopsis: "[-- --list]",
        summary: "Takes a backup of every store now, through the stack's backup containers.",
        flags: { list: { names: ["--list"], help: "list the backups kept, newest first, instead" } },
        maxArgs: 0,
    },
    restore: {
        synopsis: "-- <backup> [--yes]",
        summary: "Stops what uses the backup's store, restores the backup, starts it again; asks first.",
        more: "What the store holds now is lost: npm run backup first if it may be needed. Without <backup>, lists them.",
        flags: { yes },
        maxArgs: 1,
    },
} satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;

/** The command `verb` names (`update` is `up`, as in Pulumi), or undefined for one that goes to the CLI as typed. */
export function commandOf(verb: string): CommandName | undefined {
    const name = verb === "update" ? "up" : verb;
    return Object.hasOwn(COMMANDS, name) ? (name as CommandName) : undefined;
}

const STACK_FLAG: Flag = { names: ["--stack", "-s"], value: "<name>", help: `the stack (else $STACK, else ${DEFAULT_STACK})` };
const HELP_FLAG: Flag = { names: ["--help", "-h"], help: "this help" };

/** Whether `args` ask for help. */
export function wantsHelp(args: readonly string[]): boolean {
    return args.includes("--help") || args.includes("-h");
}

/** Reads `argv` (the arguments after the command's name) against `command`; refuses a flag it does not know, by name. */
export function parseArgs<K extends string>(name: string, command: Command<K>, argv: readonly string[]): ParsedArgs<K> {
    const byName = new Map<string, K>();
    for (const key of Object.keys(command.flags) as K[]) for (const spelling of command.flags[key].names) byName.set(spelling, key);
    const flags: Partial<Record<K, string[]>> = {};
    const args: string[] = [];
    const help = `npm run ${name} -- --help lists what it takes`;
    for (let i = 0; i < argv.length; i++) {
        const token = argv[i];
        if (!token.startsWith("-") || token === "-") {
            args.push(token);
            continue;
        }
        const eq = token.startsWith("--") ? token.indexOf("=") : -1;
        const spelling = eq > 0 ? token.slice(0, eq) : token;
        const key = byName.get(spelling);
        if (key === undefined) throw new UsageError(`npm run ${name} has no flag ${spelling}; ${help}.`);
        const flag = command.flags[key];
        const values = (flags[key] ??= []);
        if (flag.value === undefined) {
            if (eq > 0) throw new UsageError(`${spelling} takes no value (npm run ${name}); ${help}.`);
            continue;
        }
        const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`${spelling} needs a value, ${flag.value} (npm run ${name}); ${help}.`);
        values.push(value);
    }
    if (args.length > command.maxArgs) {
        const takes = command.maxArgs === 0 ? "takes no arguments" : `takes at most ${command.maxArgs}`;
        throw new UsageError(`npm run ${name} ${takes}, and was given ${args.map((a) => JSON.stringify(a)).join(", ")}; ${help}.`);
    }
    return { flags, args };
}

/** The stacks of the project in `projectDir`: one committed `Pulumi.<name>.yaml` each, beside Pulumi.yaml. */
export function knownStacks(projectDir: string): string[] {
    return fs
        .readdirSync(projectDir)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

/** The stack named by `--stack`/`-s` (taken out of `args`), else $STACK, else dev, with where it was named. */
export function stackOf(args: readonly string[], env: NodeJS.ProcessEnv): { stack: string; from: string; rest: string[] } {
    const rest: string[] = [];
    let [stack, from] = env.STACK ? [env.STACK, "$STACK"] : [DEFAULT_STACK, "the default"];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === "--stack" || args[i] === "-s") {
            const value = args[++i];
            if (value === undefined || value.startsWith("-")) throw new UsageError(`${args[i - 1]} needs a stack name.`);
            [stack, from] = [value, args[i - 1]];
        } else if (args[i].startsWith("--stack=")) {
            [stack, from] = [args[i].slice("--stack=".length), "--stack"];
        } else {
            rest.push(args[i]);
        }
    }
    return { stack, from, rest };
}

/** Refuses a stack that is not one of `stacks`, saying which there are and how to add one. */
export function checkStack(stack: string, from: string, stacks: readonly string[]): void {
    if (stacks.includes(stack)) return;
    throw new UsageError(
        `Unknown stack "${stack}" (${from}): the stacks of this project are ${stacks.join(", ") || "none"}, one committed ` +
            `Pulumi.<name>.yaml each beside Pulumi.yaml; nothing was created. To add one, add Pulumi.${stack}.yaml (copy ` +
            `Pulumi.prod.yaml and change what differs, as the README's "Stacks" says) and run npm test.`,
    );
}

/** The usage of one command. */
export function commandHelp(name: CommandName, stacks: readonly string[]): string {
    const command: Command = COMMANDS[name];
    const rows = [...Object.values(command.flags), { ...STACK_FLAG, help: `${STACK_FLAG.help}, one of ${stacks.join(", ")}` }, HELP_FLAG].map(
        (f) => [`${f.names.join(", ")}${f.value ? ` ${f.value}` : ""}`, f.help] as const,
    );
    const width = Math.max(...rows.map(([spelling]) => spelling.length));
    return [`usage: npm run ${name} ${command.synopsis}`, command.summary, ...(command.more ? [command.more] : []), "", ...rows.map(([spelling, help]) => `  ${spelling.padEnd(width)}  ${help}`), ""].join("\n");
}

/** The usage of the stack command as a whole. */
export function generalHelp(stacks: readonly string[]): string {
    const names = Object.keys(COMMANDS) as CommandName[];
    const width = Math.max(...names.map((n) => n.length));
    return [
        `usage: npm run <${names.join("|")}> [-- <flags>]`,
        "       npm run stack -- <any other pulumi command> [flags]   (as typed, on the stack)",
        ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
        `The stack: --stack <name> (or -s), else $STACK, else ${DEFAULT_STACK}; one of ${stacks.join(", ")} (a Pulumi.<name>.yaml each).`,
        "npm run <command> -- --help: the flags of one command.",
        "",
    ].join("\n");
}

/** Socket errors of a Docker engine that does not answer, as dockerode reports them. */
const ENGINE_UNREACHABLE: Record<string, string> = {
    ENOENT: "no socket there: is Docker installed and running, and is the stack's dockerHost right?",
    ECONNREFUSED: "nothing answers there: is Docker running?",
    EACCES: "permission denied: run this as a user of the docker group (or root)",
    EPERM: "permission denied: run this as a user of the docker group (or root)",
    ETIMEDOUT: "no answer in time",
    EHOSTUNREACH: "the host cannot be reached",
};

/**
 * What to say, and the exit code, for an expected failure: a `Failure`, a refused stack config
 * (components/configReader.ts's ConfigError, its message listing each problem once), a Docker
 * engine that cannot be reached. Undefined for anything else, which keeps its stack trace.
 */
export function expectedFailure(err: unknown): { code: number; message: string } | undefined {
    if (err instanceof Failure) return { code: err.code, message: err.message };
    if (err instanceof Error && err.name === "ConfigError") return { code: 1, message: err.message };
    const socket = err as { code?: string; syscall?: string; address?: string; port?: number };
    if (socket.syscall === "connect" && socket.code !== undefined && ENGINE_UNREACHABLE[socket.code] !== undefined) {
        const where = `${socket.address ?? "?"}${socket.port !== undefined ? `:${socket.port}` : ""}`;
        return { code: 1, message: `Cannot reach the Docker engine at ${where} (${socket.code}): ${ENGINE_UNREACHABLE[socket.code]}` };
    }
    return undefined;
}
