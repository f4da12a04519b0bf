/**
 * Brings up a committed stack, as the program (index.ts) declares it, on the Docker engine
 * here: the program runs in-process with the real-engine runner (engine.ts) in place of
 * Pulumi's mocks, and the stack's image config points at local stand-ins (nothing can be
 * pulled). Nothing else of the stack's config is changed unless a test says so.
 */
import fs from "fs";
import os from "os";
import path from "path";
import Docker from "dockerode";
import { runProgram, stackConfig, valueOf } from "../../support/program";
import type { ProgramRun } from "../../support/program";
import { DockerEngine } from "./engine";
import type { PlannedChange } from "./engine";
import { ensureBaseImages, IMAGES, JUPYTER_STANDIN } from "./images";
import { LABEL } from "./docker";
import type { LiveStack } from "./stackChecks";
import type { ConfigurableStack } from "../../../scripts/stackSecrets";

/**
 * A stack's config as the stack command keeps it (scripts/stackSecrets.ts, adoptCommand.ts), in
 * memory: what `npm run up` and `npm run adopt` would set with the Pulumi CLI, handed to
 * `bringUp` as overrides.
 */
export class ConfigStore implements ConfigurableStack {
    private readonly values = new Map<string, { value: string; secret: boolean }>();

    constructor(private readonly outputsOf: () => Record<string, unknown> = () => ({})) {}

    async getAllConfig() {
        return Object.fromEntries(this.values);
    }

    async setConfig(key: string, value: string, secret: boolean) {
        this.values.set(key, { value, secret });
    }

    async outputs() {
        return Object.fromEntries(Object.entries(this.outputsOf()).map(([k, value]) => [k, { value }]));
    }

    /** The values set, without the project's namespace, as `bringUp` overrides. */
    overrides(): Record<string, string> {
        return Object.fromEntries([...this.values].map(([key, v]) => [key.slice(key.indexOf(":") + 1), v.value]));
    }
}

/** The stack's image keys pointed at the local stand-ins (test/e2e/fixtures). */
export function standInImages(): Record<string, string> {
    return {
        mysqlImage: IMAGES.mysql,
        elasticsearchImage: IMAGES.elasticsearch,
        jupyterImage: JUPYTER_STANDIN.repository,
        jupyterTag: JUPYTER_STANDIN.tag,
        appNodeImage: IMAGES.node,
    };
}

export interface DeclaredStack extends LiveStack {
    readonly engine: DockerEngine;
    readonly run: ProgramRun;
    /** From the program's start to the last resource done (s). */
    readonly seconds: number;
}

/**
 * Claims a stack's fixed names and host ports (sb-mysql, 3306, ...) on this engine for one suite
 * at a time: the suites run side by side, more than one brings up the dev stack, and another
 * checkout's run may be going on. Once no other suite holds them, and with the images the stack
 * runs on ready, it removes what an interrupted earlier run left of the stack on the engine
 * (kept volumes included), then resolves to the function that lets go of them. A suite calls it
 * once, before its first `bringUp`.
 */
export async function claimStackNames(stack: string): Promise<() => void> {
    await ensureBaseImages();
    const lock = path.join(os.tmpdir(), `sb-e2e-names-${stack}.lock`);
    for (;;) {
        try {
            fs.mkdirSync(lock);
            fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
            await DockerEngine.removeLeftovers(journalOf(stack));
            return () => fs.rmSync(lock, { recursive: true, force: true });
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            // Held: by a live suite, wait; by a process that is gone, take it over.
            const holder = Number(fs.readFileSync(path.join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
            if (holder > 0 && !alive(holder)) fs.rmSync(lock, { recursive: true, force: true });
            else await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function journalOf(stack: string): string {
    return path.join(os.tmpdir(), `sb-e2e-engine-${stack}.json`);
}

/**
 * Runs the program for `stack` with its committed config, the stand-in images and
 * `overrides`, creating every resource on the engine. On failure, whatever was created is
 * removed and the first error is thrown. `journal`: where the runner keeps what it created, for
 * the clean-up of an interrupted run (default: one file per stack, which `claimStackNames`
 * reads; a stack on engines of its own, such as a test swarm's nodes, gives another).
 */
export async function bringUp(stack: string, overrides: Record<string, unknown> = {}, log?: (line: string) => void, journal = journalOf(stack)): Promise<DeclaredStack> {
    const engine = new DockerEngine({ buildLabel: { [LABEL]: `stack-${stack}` }, journal, log });
    return runOn(engine, stack, overrides, log, "up");
}

/**
 * A second `pulumi up` of a stack that is up, with `overrides` in place of the first run's: the
 * program runs again on the same engine state, which leaves what did not change alone, updates
 * or replaces what did, and deletes what is replaced or no longer declared once the run is done
 * (`DockerEngine.lastRun` says which was which). On failure the stack is left as it is.
 */
export async function update(previous: DeclaredStack, overrides: Record<string, unknown>, log?: (line: string) => void): Promise<DeclaredStack> {
    return runOn(previous.engine, previous.stack, overrides, log, "update");
}

/**
 * `pulumi preview --expect-no-changes` of a stack that is up: the program runs again with the
 * same config (and `overrides`) on the engine's state, which plans without touching the engine;
 * resolves with every change an `up` would make, each with the fields that differ from the
 * provider's state (providerState.ts).
 */
export async function preview(previous: DeclaredStack, overrides: Record<string, unknown>, log?: (line: string) => void): Promise<PlannedChange[]> {
    previous.engine.dryRun = true;
    try {
        await runOn(previous.engine, previous.stack, overrides, log, "preview");
        return [...previous.engine.plannedChanges];
    } finally {
        previous.engine.dryRun = false;
    }
}

/** A plan as a preview prints it, one resource a line: "replace mysql-container (cpus)". */
export function describePlan(plan: PlannedChange[]): string[] {
    return plan.map((c) => `${c.status} ${c.name}${c.fields.length ? ` (${c.fields.join(", ")})` : ""}`);
}

async function runOn(engine: DockerEngine, stack: string, overrides: Record<string, unknown>, log: ((line: string) => void) | undefined, kind: "up" | "update" | "preview"): Promise<DeclaredStack> {
    const started = Date.now();
    const failures: unknown[] = [];
    // The first failure ends the run, as it ends `pulumi up`: the resources waiting on the
    // failed one would otherwise wait for ever.
    let failed: (err: unknown) => void = () => undefined;
    const firstFailure = new Promise<undefined>((resolve) => (failed = () => resolve(undefined)));
    const fail = (err: unknown) => {
        failures.push(err);
        failed(err);
    };
    const inFlight = new Set<Promise<unknown>>();
    const recording: typeof engine.engine = (r) => {
        const work = engine.engine(r).catch((err: unknown) => {
            fail(err);
            throw err;
        });
        inFlight.add(work);
        void work.catch(() => undefined).finally(() => inFlight.delete(work));
        return work;
    };
    // A resource that fails rejects promises inside the Pulumi SDK that the program never
    // awaits (as under the CLI, which reports them); they are recorded here instead of
    // ending the test process.
    process.on("unhandledRejection", fail);
    let run: ProgramRun | undefined;
    try {
        run = await Promise.race([runProgram(stack, stackConfig(stack, { ...standInImages(), ...overrides }), recording, engine.invoke), firstFailure]);
        if (run && failures.length === 0) await engine.finishRun();
    } catch (err) {
        failures.push(err);
    } finally {
        process.off("unhandledRejection", fail);
    }
    if (failures.length > 0 || !run) {
        // What was under way when the first failure came finishes before anything is removed.
        await Promise.allSettled([...inFlight]);
        if (kind === "up") await engine.removeEverything().catch(() => undefined);
        throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
    }
    const outputs: Record<string, any> = {};
    for (const [key, value] of Object.entries(run.outputs)) outputs[key] = await valueOf(value);
    const seconds = (Date.now() - started) / 1000;
    if (kind === "up") {
        const slowest = criticalPath(engine);
        log?.(
            `up in ${seconds.toFixed(1)} s; critical path ${slowest.seconds.toFixed(1)} s (${slowest.chain.join(" -> ")}); ` +
                `all work in series ${slowest.serialSeconds.toFixed(1)} s`,
        );
    } else {
        const changed = [...engine.lastRun].filter(([, status]) => status === "updated" || status === "replaced");
        const fields = (name: string) => (engine.lastFields.get(name) ?? []).join(", ");
        log?.(`${kind} in ${seconds.toFixed(1)} s${changed.map(([name, status]) => `; ${status} ${name} (${fields(name)})`).join("")}`);
    }
    return { stack, engine, run, outputs, docker: new Docker(), seconds };
}

/**
 * The critical path of a bring-up: the slowest chain of resources, each waiting for its
 * dependencies, with the time each took on the engine. A bring-up that ran independent
 * resources at once takes about this long; one that serialised them takes about the sum.
 */
export function criticalPath(engine: DockerEngine): { seconds: number; chain: string[]; serialSeconds: number } {
    const timeline = engine.timeline();
    const byName = new Map(timeline.map((t) => [t.name, t]));
    const memo = new Map<string, { seconds: number; chain: string[] }>();
    const longest = (name: string): { seconds: number; chain: string[] } => {
        const known = memo.get(name);
        if (known) return known;
        const entry = byName.get(name)!;
        const before = entry.dependencies.filter((d) => byName.has(d)).map(longest);
        const slowest = before.reduce((a, b) => (b.seconds > a.seconds ? b : a), { seconds: 0, chain: [] as string[] });
        const result = { seconds: slowest.seconds + entry.seconds, chain: [...slowest.chain, name] };
        memo.set(name, result);
        return result;
    };
    const all = timeline.map((t) => longest(t.name));
    const path = all.reduce((a, b) => (b.seconds > a.seconds ? b : a));
    return { ...path, serialSeconds: timeline.reduce((sum, t) => sum + t.seconds, 0) };
}
