/**
 * `npm run backup [-- --list]` and `npm run restore -- <backup> [--yes]`: the stack's scheduled
 * backups (components/backup.ts), taken now or restored, through the backup containers the stack
 * runs on its Docker engine (`sb-backup now`, `list`, `restore` in each, as the schedule does).
 * A restore says what it will do and asks; then stops what uses the store (the app for MySQL and
 * Elasticsearch, Jupyter for the notebooks), restores, starts it again and waits for it to be
 * healthy.
 */
import { PassThrough } from "stream";
import Docker from "dockerode";
import { backupContainerNames, parseStackConfig, StackConfig } from "../components/config";
import type { BackupKind } from "../components/backup";
import { localDocker } from "./adoptCommand";
import type { AdoptTerminal } from "./adoptCommand";
import { COMMANDS, Failure, parseArgs } from "./commandLine";
import type { Command } from "./commandLine";
import { confirmed } from "./confirm";
import { readProjectFile, withDefaults } from "./projectConfig";
import type { ConfigurableStack } from "./stackSecrets";

export interface BackupOptions {
    projectDir: string;
    stackName: string;
    verb: "backup" | "restore";
    args: string[];
    terminal: AdoptTerminal;
    /** The Docker engine at `host` (the stack's `dockerHost`). */
    connect?: (host: string) => Docker;
    /** How long a restarted container may take to be healthy again (s). */
    healthTimeoutSeconds?: number;
}

const KIND_OF_KEY: Record<string, BackupKind> = { mysqlContainerName: "mysql", elasticsearchContainerName: "elasticsearch", jupyterContainerName: "notebooks" };

/** The stack's backup containers by what they back up. */
export function backupTargets(config: StackConfig): Map<BackupKind, string> {
    return new Map(backupContainerNames(config.mysql, config.elasticsearch, config.jupyter, config.backup).map(([key, name]) => [KIND_OF_KEY[key], name]));
}

/** The container a restore of `kind` stops and starts again: what reads and writes that store. */
export function userOf(config: StackConfig, kind: BackupKind): { name: string; graceSeconds: number } {
    if (kind === "notebooks" && config.jupyter) return { name: config.jupyter.containerName, graceSeconds: config.jupyter.limits.stopGraceSeconds };
    return { name: config.app.containerName, graceSeconds: config.app.limits.stopGraceSeconds };
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs `cmd` in a running container; `progress` gets its standard error as it comes. */
export async function execIn(docker: Docker, container: string, cmd: string[], progress: (text: string) => void = () => undefined): Promise<ExecResult> {
    const exec = await docker.getContainer(container).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = "";
    let stderr = "";
    out.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    err.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        progress(chunk.toString());
    });
    docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve, reject) => stream.on("end", resolve).on("error", reject));
    const { ExitCode } = await exec.inspect();
    return { code: ExitCode ?? 1, stdout, stderr };
}

/** Resolves once `name` reports healthy (or runs, without a health check); rejects after `timeoutSeconds`. */
export async function waitHealthy(docker: Docker, name: string, timeoutSeconds: number): Promise<void> {
    const started = Date.now();
    for (;;) {
        const state = (await docker.getContainer(name).inspect()).State;
        if (state.Running && (!state.Health || state.Health.Status === "healthy")) return;
        if (Date.now() - started > timeoutSeconds * 1000) {
            throw new Failure(`${name} is not healthy ${timeoutSeconds} s after its start (${state.Status}${state.Health ? `, ${state.Health.Status}` : ""})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

export async function backupCommand(stack: ConfigurableStack, options: BackupOptions): Promise<number> {
    const { terminal, verb } = options;
    const say = (line: string) => terminal.err(`${line}\n`);
    const command: Command = COMMANDS[verb];
    const { flags, args } = parseArgs(verb, command, options.args);
    const project = readProjectFile(options.projectDir);
    const current = await stack.getAllConfig();
    const values = withDefaults(project, Object.fromEntries(Object.entries(current).map(([k, v]) => [k, v.value])));
    const config = parseStackConfig(project.name, options.stackName, (key) => values[key], options.projectDir);
    if (config.target === "swarm") {
        say(
            `Stack ${options.stackName} runs on a swarm: its backups run as services on the data node, on their schedule. ` +
                "npm run backup and restore drive the containers of one engine; on the data node, docker exec into the backup task " +
                "(docker ps --filter label=com.docker.swarm.service.name=<service>) and run sb-backup now, list or restore <backup> there.",
        );
        return 1;
    }
    if (!config.backup) {
        say(`Backups are off for stack ${options.stackName}: set backupEnabled to true (npm run stack -- config set backupEnabled true) and npm run up.`);
        return 1;
    }
    const docker = (options.connect ?? localDocker)(config.docker.host);
    const targets = backupTargets(config);
    for (const name of targets.values()) {
        const state = await docker
            .getContainer(name)
            .inspect()
            .catch((err: { statusCode?: number }) => {
                if (err.statusCode === 404) return undefined;
                throw err;
            });
        if (!state?.State.Running) {
            say(`The backup container ${name} is not running; npm run up brings it up.`);
            return 1;
        }
    }

    const listAll = async (): Promise<string[]> => {
        const names: string[] = [];
        for (const container of targets.values()) {
            const listed = await execIn(docker, container, ["sb-backup", "list"]);
            if (listed.code !== 0) throw new Failure(`Listing the backups in ${container} failed: ${listed.stderr.trim()}`);
            names.push(...listed.stdout.split("\n").filter(Boolean));
        }
        return names;
    };

    if (verb === "backup") {
        if (flags.list !== undefined) {
            for (const name of await listAll()) terminal.out(`${name}\n`);
            return 0;
        }
        let failed = 0;
        for (const [kind, container] of targets) {
            const started = Date.now();
            const result = await execIn(docker, container, ["sb-backup", "now"]);
            const seconds = ((Date.now() - started) / 1000).toFixed(1);
            if (result.code === 0) {
                terminal.out(`${result.stdout.trim()}\n`);
                say(`${kind}: backed up in ${seconds} s by ${container}`);
            } else {
                failed++;
                say(`${kind}: the backup FAILED in ${container} (exit code ${result.code}); it reports unhealthy until a backup succeeds:\n${result.stderr.trim()}`);
            }
        }
        return failed > 0 ? 1 : 0;
    }

    // restore
    const yes = flags.yes !== undefined;
    if (args.length !== 1) {
        say("usage: npm run restore -- <backup> [--yes], with <backup> one of:");
        for (const name of await listAll()) say(`  ${name}`);
        return 2;
    }
    const backup = args[0];
    const kind = backup.slice(0, backup.indexOf("/")) as BackupKind;
    const container = targets.get(kind);
    if (!container || !(await listAll()).includes(backup)) {
        say(`No backup ${backup} in stack ${options.stackName}; npm run backup -- --list shows them.`);
        return 1;
    }
    const user = userOf(config, kind);
    const what = {
        mysql: `the database ${config.mysql.database} is dropped and recreated from the dump`,
        elasticsearch: "the indices in the snapshot are deleted and restored from it (other indices stay)",
        notebooks: "the notebooks volume is emptied and filled from the archive",
    }[kind];
    say(`Restoring ${backup} in stack ${options.stackName}: ${user.name} is stopped, ${what}, then ${user.name} is started again.`);
    say("What is there now is lost unless you back it up first (npm run backup).");
    if (!yes && !(await confirmed(terminal, "Do you want to restore it?"))) return 1;
    const started = Date.now();
    await docker.getContainer(user.name).stop({ t: user.graceSeconds }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 304) throw err;
    });
    let restored: ExecResult;
    try {
        restored = await execIn(docker, container, ["sb-backup", "restore", backup], (text) => terminal.err(text));
    } finally {
        // Started again whatever happened: a failed restore leaves the store as the script left it, and says so.
        await docker.getContainer(user.name).start().catch((err: { statusCode?: number }) => {
            if (err.statusCode !== 304) throw err;
        });
    }
    await waitHealthy(docker, user.name, options.healthTimeoutSeconds ?? 300);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (restored.code !== 0) {
        say(`The restore of ${backup} FAILED (exit code ${restored.code}); ${user.name} runs again. Try another backup, or restore this one again.`);
        return 1;
    }
    say(`Restored ${backup} in ${seconds} s; ${user.name} is healthy again.`);
    return 0;
}
