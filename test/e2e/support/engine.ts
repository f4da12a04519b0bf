/**
 * A Pulumi engine for the real-engine tests: it does on a Docker engine what `pulumi up` and
 * `pulumi destroy` do through the Docker provider, for every resource the program (index.ts)
 * declares. Plugged into the program run of test/support/program.ts as its `ResourceEngine`,
 * it receives each resource as the SDK registers it (Pulumi calls it for independent resources
 * at once, and for a resource once every resource it depends on is done) and hands back the
 * real ids and outputs, which the program's other resources then consume.
 *
 * Each declared field is mapped once, onto the Docker Engine API request the provider itself
 * makes (through dockerode), with the provider's documented meaning next to it. Sources:
 * - the field descriptions of `@pulumi/docker` 5.2.0 (node_modules/@pulumi/docker/types/input.d.ts,
 *   container.d.ts, ...), generated from terraform-provider-docker's docs/resources/*.md;
 * - what the provider does with them: kreuzwerker/terraform-provider-docker v4.5.0 (the version
 *   pulumi-docker wraps), internal/provider/resource_docker_container_funcs.go (`Create`,
 *   `Delete`), resource_docker_container_structures.go, resource_docker_network_funcs.go,
 *   resource_docker_volume.go; and pulumi/pulumi-docker provider/image.go for `docker.Image`.
 * The Swarm resources (`Service`, `Secret`, `ServiceConfig`) are mapped in swarmResources.ts,
 * from resource_docker_service*.go, resource_docker_secret.go and resource_docker_config.go.
 * A field the program declares that is not mapped here fails the run by name: nothing is
 * silently ignored. Images are never pulled (no registry is reachable): a `RemoteImage` must
 * name an image present on the engine; a built `Image` can be pushed to a registry the test runs.
 *
 * A second program run against the same `DockerEngine` is a second `pulumi up` on the state the
 * first left: each resource (matched by type and logical name) whose inputs are unchanged is left
 * alone; a changed one is updated in place where the provider updates it, and replaced otherwise
 * (the new one created first and the old one deleted by `finishRun()`, unless `deleteBeforeReplace`);
 * `finishRun()` also deletes what the run no longer declares. `lastRun` says what happened to each.
 */
import crypto from "crypto";
import fs from "fs";
import path from "path";
import dockerignore from "@balena/dockerignore";
import Docker from "dockerode";
import * as tar from "tar-stream";
import type { DeclaredResource, InvokeHandler, ResourceEngine } from "../../support/program";
import { GET_REGISTRY_IMAGE, PROJECT_DIR, TYPES } from "../../support/program";
import { durationNanos, nanoCpus } from "../../../components/providerFormats";
import { canonical, differingPaths, planned, readBack, withComputed } from "./providerState";
import { authFor, createService, createSwarmObject, RegistryAuth, removeLeftoverService, serviceNeedsReplacement, updateService } from "./swarmResources";

type Inputs = Record<string, any>;
type State = { id: string; state: Inputs };

/**
 * What a program run did to a resource, as `pulumi up` reports it: `created` (new), `same` (its
 * inputs unchanged: left alone), `updated` (changed in place), `replaced` (a new one in place of
 * the old, which is deleted before it or by `finishRun()`), `deleted` (no longer declared; by
 * `finishRun()`).
 */
export type RunStatus = "created" | "same" | "updated" | "replaced" | "deleted";

/** A resource the engine created, with what `destroy` needs to undo it. */
export interface Created {
    resource: DeclaredResource;
    id: string;
    /** When the engine started and finished it (ms since the epoch). */
    started: number;
    finished: number;
    destroy?: () => Promise<void>;
    /** The outputs handed back to the program (what a later run hands back when nothing changed). */
    state?: Inputs;
    /** The inputs as the runner compares them between runs (see `fingerprint`). */
    fingerprint?: string;
    /**
     * The provider's state of it: what its read after the create or update found on the engine
     * (providerState.ts), which the next run's inputs are diffed against; unset where the state
     * is the inputs as sent.
     */
    readBack?: Inputs;
}

/** A resource the next run would change, as a preview lists it: how, and the fields that differ from the provider's state. */
export interface PlannedChange {
    name: string;
    type: string;
    status: "create" | "update" | "replace" | "delete";
    fields: string[];
}

/** How a container ended when the runner deleted it, as the provider's delete saw it. */
export interface StopRecord {
    /** The container's name. */
    name: string;
    /** The stop timeout sent (`destroyGraceSeconds`, or 0). */
    timeoutSeconds: number;
    /** From the stop request to the container's exit. */
    seconds: number;
    exitCode: number;
    /** The last lines of its log, read before it was removed. */
    logTail: string;
}

/** The kinds of resource an interrupted run can leave behind on the engine. */
const JOURNALLED: string[] = [TYPES.service, TYPES.secret, TYPES.serviceConfig, TYPES.container, TYPES.network, TYPES.volume];

/**
 * The Container inputs the provider changes without replacing the container (no ForceNew in
 * resource_docker_container.go): `restart`, `memory` and `memorySwap` through ContainerUpdate
 * (`resourceDockerContainerUpdate`), the others in the state only (the provider's update does
 * nothing with them; a health check edit needs `replaceOnChanges`).
 */
const CONTAINER_UPDATABLE = ["restart", "memory", "memorySwap", "healthcheck", "init", "tmpfs", "wait", "waitTimeout", "destroyGraceSeconds"];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A resource's identity across runs: its type and logical name. */
const keyOf = (r: DeclaredResource) => `${r.type}::${r.name}`;

/** The value at a property path (`a.b[0].c`), as `replaceOnChanges` names one. */
function valueAt(value: unknown, path: string): unknown {
    return path
        .replace(/\[(\d+)\]/g, ".$1")
        .split(".")
        .filter((p) => p !== "")
        .reduce<unknown>((v, part) => (v && typeof v === "object" ? (v as Inputs)[part] : undefined), value);
}

/** A Docker Engine API error's message, as dockerode rejects with it. */
export function engineMessage(err: unknown): string {
    const e = err as { json?: { message?: string }; message?: string };
    return e.json?.message ?? e.message ?? String(err);
}

/** Thrown when the program declares a field this runner does not map. */
export class UnmappedFieldError extends Error {}

/** The keys of `value` must all be in `allowed`; anything else fails the run by name. */
export function onlyFields(value: Inputs, allowed: readonly string[], where: string): void {
    const unmapped = Object.keys(value).filter((key) => value[key] !== undefined && !allowed.includes(key));
    if (unmapped.length > 0) {
        throw new UnmappedFieldError(`${where}: the real-engine runner does not map ${unmapped.map((k) => `"${k}"`).join(", ")}; map it in test/e2e/support/engine.ts (swarmResources.ts for Swarm resources)`);
    }
}

/** Docker labels as the provider takes them (`[{label, value}]`) into the Engine API's map. */
export function labelMap(labels: { label: string; value: string }[], where: string): Record<string, string> {
    return Object.fromEntries(
        labels.map((l) => {
            onlyFields(l, ["label", "value"], `${where}.labels[]`);
            return [l.label, l.value];
        }),
    );
}

/** A numeric uid or gid; the provider resolves names on the machine running Pulumi, which the stack never relies on. */
function numericId(value: string | undefined, where: string): number {
    if (value === undefined) return 0;
    if (!/^\d+$/.test(value)) throw new UnmappedFieldError(`${where}: "${value}" is a name; the runner maps numeric ids only`);
    return Number(value);
}

async function tarOf(entries: { name: string; content: Buffer; mode: number; uid: number; gid: number }[]): Promise<Buffer> {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    const done = new Promise<void>((resolve, reject) => pack.on("end", resolve).on("error", reject));
    for (const e of entries) pack.entry({ name: e.name, mode: e.mode, uid: e.uid, gid: e.gid, size: e.content.length, mtime: new Date() }, e.content);
    pack.finalize();
    await done;
    return Buffer.concat(chunks);
}

/** What `buildWithBuildKit` builds: paths relative to the project, as the program declares them. */
export interface BuildSpec {
    context: string;
    dockerfile: string;
    tag: string;
    args?: Record<string, string>;
    target?: string;
    platform?: string;
    labels?: Record<string, string>;
}

/**
 * Builds as the provider does (pulumi-docker provider/image.go): the context honouring its
 * .dockerignore, a Dockerfile outside the context added to it under a name of its own, with
 * BuildKit (the provider's default builder). Resolves to the name the Dockerfile travelled under.
 */
export async function buildWithBuildKit(client: Docker, spec: BuildSpec): Promise<{ dockerfileName: string }> {
    const context = path.resolve(PROJECT_DIR, spec.context);
    const dockerfile = path.resolve(PROJECT_DIR, spec.dockerfile);
    const inContext = !path.relative(context, dockerfile).startsWith("..");
    const dockerfileName = inContext ? path.relative(context, dockerfile) : `.dockerfile.${crypto.randomBytes(6).toString("hex")}`;
    const stream: NodeJS.ReadableStream = await (client.buildImage as (...args: unknown[]) => Promise<NodeJS.ReadableStream>).call(
        client,
        await buildContext(context, dockerfileName, inContext ? undefined : fs.readFileSync(dockerfile)),
        {
            t: spec.tag,
            dockerfile: dockerfileName,
            buildargs: spec.args ?? {},
            target: spec.target ?? "",
            platform: spec.platform ?? "",
            labels: spec.labels ?? {},
            version: "2",
        },
    );
    // BuildKit's progress (dockerode decodes its trace messages); an error ends it.
    const output = await new Promise<any[]>((resolve, reject) =>
        (client as any).followProgress(stream, (err: Error | null, events: any[]) => (err ? reject(err) : resolve(events))),
    );
    const failed = output.find((o) => o.error || o.errorDetail);
    if (failed) {
        const tail = output.map((o) => o.stream ?? "").join("").slice(-3000);
        throw new Error(`build failed: ${failed.error ?? failed.errorDetail?.message}\n${tail}`);
    }
    return { dockerfileName };
}

/**
 * The build context as the Docker CLI and the provider send it: a tar of `dir` without what
 * its .dockerignore excludes, except the Dockerfile and the .dockerignore itself, which are
 * always sent; owned by root; `outsideDockerfile` added as `dockerfileName` when given.
 */
async function buildContext(dir: string, dockerfileName: string, outsideDockerfile?: Buffer): Promise<Buffer> {
    const files = contextFiles(dir, dockerfileName);
    return tarOf([
        ...files.map((f) => {
            const stat = fs.statSync(path.join(dir, f));
            return { name: f, content: fs.readFileSync(path.join(dir, f)), mode: stat.mode & 0o7777, uid: 0, gid: 0 };
        }),
        ...(outsideDockerfile ? [{ name: dockerfileName, content: outsideDockerfile, mode: 0o644, uid: 0, gid: 0 }] : []),
    ]);
}

/** The files of a build context that are sent (see `buildContext`), relative to `dir`. */
function contextFiles(dir: string, dockerfileName: string): string[] {
    const ignoreFile = path.join(dir, ".dockerignore");
    const keep = dockerignore({ ignorecase: false })
        .add(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, "utf8") : "")
        .createFilter();
    const walk = (prefix: string): string[] =>
        fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
            const rel = prefix ? `${prefix}/${e.name}` : e.name;
            return e.isDirectory() ? walk(rel) : [rel];
        });
    return walk("")
        .filter((f) => keep(f) || f === dockerfileName || f === ".dockerignore")
        .sort();
}

/**
 * The `build.contextDigest` the provider's Check adds to an Image's inputs (pulumi-docker
 * provider/provider.go `hashContext`): a hash of the Dockerfile and of every file of the context
 * the build sends, with its path and mode. A changed file changes it, and so makes the next run
 * rebuild the image although the program's inputs are the same.
 */
function contextDigest(build: Inputs): string {
    const context = path.resolve(PROJECT_DIR, build.context ?? ".");
    const dockerfile = path.resolve(PROJECT_DIR, build.dockerfile ?? path.join(build.context ?? ".", "Dockerfile"));
    const hash = crypto.createHash("sha256").update("Dockerfile\0").update(fs.readFileSync(dockerfile));
    for (const f of contextFiles(context, path.relative(context, dockerfile))) {
        const full = path.join(context, f);
        hash.update(`\0${f}\0${fs.statSync(full).mode & 0o7777}\0`).update(fs.readFileSync(full));
    }
    return hash.digest("hex");
}

/**
 * The registry address the provider authenticates a push against (pulumi-docker provider/image.go
 * `getRegistryAddrForAuth`): `registry.server` as a host name, or else the domain of `imageName`,
 * which must then be fully qualified (its Check refuses `smartbuildingapp:tag`).
 */
function registryAddress(server: string | undefined, imageName: string, where: string): string {
    let host: string;
    if (server) {
        host = server.replace(/^https?:\/\//, "").split("/")[0];
    } else {
        const first = imageName.split("/")[0];
        if (!imageName.includes("/") || !(first.includes(".") || first.includes(":") || first === "localhost")) {
            throw new Error(`${where}: "${imageName}": repository name must be canonical. This resource requires all image names to be fully qualified.`);
        }
        host = first;
    }
    return ["index.docker.io", "docker.io", "registry-1.docker.io"].includes(host) ? "https://index.docker.io/v1/" : host;
}

/** An image reference split into its repository and tag (`127.0.0.1:5000/app:swarm` -> `127.0.0.1:5000/app`, `swarm`). */
function splitTag(imageName: string): { repository: string; tag: string } {
    const slash = imageName.lastIndexOf("/");
    const colon = imageName.lastIndexOf(":");
    return colon > slash ? { repository: imageName.slice(0, colon), tag: imageName.slice(colon + 1) } : { repository: imageName, tag: "latest" };
}

/** A repository as Docker's reference package normalises it (`app` -> `docker.io/library/app`). */
function normalizedRepository(repository: string): string {
    const first = repository.split("/")[0];
    const hasDomain = repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    if (hasDomain) return repository;
    return repository.includes("/") ? `docker.io/${repository}` : `docker.io/library/${repository}`;
}

/**
 * How the provider deletes a network or a volume (resource_docker_network_funcs.go
 * `resourceDockerNetworkRemoveRefreshFunc`, resource_docker_volume.go
 * `resourceDockerVolumeRemoveRefreshFunc`): the removal retried while the engine answers that
 * it is in use, for up to 30 s, 5 s then 10 s apart. The provider waits 2 s before its first try;
 * the runner tries at once.
 */
async function removeWhileInUse(remove: () => Promise<unknown>, inUse: RegExp): Promise<void> {
    const deadline = Date.now() + 30_000;
    let wait = 5_000;
    for (;;) {
        try {
            await gone(remove());
            return;
        } catch (err) {
            if (!inUse.test(engineMessage(err)) || Date.now() + wait > deadline) throw err;
            await sleep(wait);
            wait = 10_000;
        }
    }
}

export interface EngineOptions {
    /** A label put on the images the runner builds, so a test can remove them. */
    readonly buildLabel: Record<string, string>;
    /**
     * A file listing what the engine created and has not removed yet (the runner's state, as
     * Pulumi keeps one), so that what an interrupted run left behind can be removed first.
     */
    readonly journal: string;
    /** Progress lines (builds, waits); silent by default. */
    readonly log?: (line: string) => void;
}

/**
 * The Docker engine behind `pulumi up` / `destroy` for one program run. `engine` is the
 * program run's `ResourceEngine`; `destroy()` then undoes what was created, as
 * `pulumi destroy` would.
 */
export class DockerEngine {
    readonly created: Created[] = [];
    /** Every container the runner stopped and removed, in order. */
    readonly stops: StopRecord[] = [];
    /** What `destroy` let go of (`retainOnDelete`): still on the engine, for `removeEverything`. */
    private readonly leftBehind: Created[] = [];
    /** Docker clients by provider id (the stack's explicit provider says which engine). */
    private readonly clients = new Map<string, Docker>();
    /** Each Docker provider's `registryAuth`, by provider id. */
    private readonly registryAuths = new Map<string, RegistryAuth[]>();
    private readonly log: (line: string) => void;

    /**
     * What the last program run did to each custom resource, by logical name (the stack's logical
     * names are unique): filled as the run goes, completed by `finishRun()` with what it deleted.
     * A new run starts it afresh.
     */
    readonly lastRun = new Map<string, RunStatus>();
    /** For each resource the last run updated or replaced, the fields that differed from the provider's state. */
    readonly lastFields = new Map<string, string[]>();
    /**
     * A preview: the next program run plans without touching the engine or the state, and lists
     * in `plannedChanges` what an `up` would update, replace, create or delete.
     */
    dryRun = false;
    readonly plannedChanges: PlannedChange[] = [];
    /**
     * The current run: the resources it has declared so far, and the replaced resources it
     * deletes when it finishes. `finished`: `finishRun()` closed it; the next resource opens a new one.
     */
    private run: { seen: Set<string>; pendingDeletes: Created[]; finished: boolean } = { seen: new Set(), pendingDeletes: [], finished: true };

    constructor(private readonly options: EngineOptions) {
        this.log = options.log ?? (() => undefined);
    }

    /**
     * The program run's `ResourceEngine`. A resource the state (an earlier run) does not have is
     * created; one it has is compared with what it was declared as then (`fingerprint`): the same
     * inputs hand back the same id and outputs without touching the engine, and changed ones
     * update or replace it (`change`).
     */
    readonly engine: ResourceEngine = async (resource) => {
        const key = keyOf(resource);
        this.beginRunIfNew(key);
        this.run.seen.add(key);
        const previous = this.created.find((c) => keyOf(c.resource) === key);
        let entry: Created;
        let status: RunStatus;
        if (previous) {
            ({ entry, status } = await this.change(previous, resource));
        } else if (this.dryRun) {
            if (resource.custom) this.plannedChanges.push({ name: resource.name, type: resource.type, status: "create", fields: [] });
            return { id: "", state: resource.inputs };
        } else {
            const started = Date.now();
            const fingerprint = this.fingerprint(resource);
            const result = await this.create(resource);
            const readBack = await this.readProvider(resource, result.id);
            entry = { resource, id: result.id, started, finished: Date.now(), destroy: result.destroy, state: result.state, fingerprint, readBack };
            this.created.push(entry);
            status = "created";
        }
        if (resource.custom && !this.dryRun) this.lastRun.set(resource.name, status);
        this.writeJournal();
        return { id: entry.id, state: entry.state ?? {} };
    };

    /**
     * The provider functions the program calls, answered as the provider does.
     * `docker.getRegistryImage` (data_source_docker_registry_image.go): the digest of the
     * manifest the registry serves for `name` now, asked through the engine's distribution
     * endpoint (GET /distribution/{name}/json, which asks the registry); an image no registry
     * serves fails the run, as the provider's "Got error when attempting to fetch image version
     * from registry" does.
     */
    readonly invoke: InvokeHandler = async (token, args) => {
        if (token !== GET_REGISTRY_IMAGE) throw new UnmappedFieldError(`${token}: the real-engine runner does not map this function`);
        onlyFields(args, ["name", "insecureSkipVerify"], token);
        const [providerId] = [...this.clients.keys()];
        const client = this.clients.get(providerId) ?? new Docker();
        // The provider's login for the image's registry (`getAuthConfigForRegistry`), or none.
        const authconfig = authFor(args.name, this.registryAuths.get(providerId) ?? []) ?? {};
        try {
            const found = (await (client.getImage(args.name) as any).distribution({ authconfig })) as { Descriptor: { digest: string } };
            return { ...args, sha256Digest: found.Descriptor.digest };
        } catch (err) {
            throw new Error(`${token}: Got error when attempting to fetch image version ${args.name} from registry: ${engineMessage(err)}`);
        }
    };

    /**
     * A resource the current run has declared already starts a new run (Pulumi registers each
     * resource once per run). A run not closed with `finishRun()` may only be followed by another
     * when it left nothing to delete.
     */
    private beginRunIfNew(key: string): void {
        if (!this.run.finished && !this.run.seen.has(key)) return;
        if (!this.run.finished) {
            const undeclared = this.created.filter((c) => !this.run.seen.has(keyOf(c.resource)));
            if (this.run.pendingDeletes.length > 0 || undeclared.length > 0) {
                throw new Error(
                    `a new program run started before finishRun() of the previous one, which has ${[...this.run.pendingDeletes, ...undeclared].map((c) => c.resource.name).join(", ")} to delete`,
                );
            }
        }
        this.run = { seen: new Set(), pendingDeletes: [], finished: false };
        this.lastRun.clear();
        this.lastFields.clear();
        this.plannedChanges.length = 0;
    }

    /**
     * The end of a program run (`pulumi up` once every resource is done): the replaced resources
     * that were created first have their old ones deleted, and the resources of the state that the
     * run no longer declares are deleted, dependents first. A `protect`ed one fails it, as Pulumi
     * refuses that delete; a `retainOnDelete` one is let go. Call it once `runProgram` has resolved.
     */
    async finishRun(): Promise<void> {
        if (this.run.finished || this.run.seen.size === 0) return;
        const undeclared = this.created.filter((c) => !this.run.seen.has(keyOf(c.resource)));
        if (this.dryRun) {
            for (const c of undeclared) if (c.resource.custom) this.plannedChanges.push({ name: c.resource.name, type: c.resource.type, status: "delete", fields: [] });
            this.run.finished = true;
            return;
        }
        const protectedOnes = undeclared.filter((c) => c.resource.opts.protect);
        if (protectedOnes.length > 0) {
            throw new Error(`the run deletes ${protectedOnes.map((c) => c.resource.name).join(", ")}, which ${protectedOnes.length > 1 ? "are" : "is"} protected (as \`pulumi up\` refuses)`);
        }
        const olds = [...this.run.pendingDeletes, ...undeclared];
        await this.deleteAll(olds, (c) => !c.resource.opts.retainOnDelete);
        this.leftBehind.push(...olds.filter((c) => c.destroy && c.resource.opts.retainOnDelete));
        for (const c of undeclared) {
            this.created.splice(this.created.indexOf(c), 1);
            if (c.resource.custom) this.lastRun.set(c.resource.name, "deleted");
        }
        this.run.pendingDeletes = [];
        this.run.finished = true;
        this.writeJournal();
    }

    /**
     * What the runner compares between runs: the inputs (secret ones included); for an Image, not
     * the registry's username and password (the provider's Diff ignores them) but the digest of
     * the build context its Check adds (a changed file rebuilds the image).
     */
    private fingerprint(r: DeclaredResource): string {
        if (r.type !== TYPES.image) return canonical(r.inputs);
        const { registry, build, ...rest } = r.inputs;
        let digest: string;
        try {
            digest = contextDigest(build ?? {});
        } catch (err) {
            digest = `unreadable: ${(err as Error).message}`; // the build says what is wrong
        }
        return canonical({ ...rest, registry: registry ? { server: registry.server } : undefined, build, contextDigest: digest });
    }

    /**
     * A resource of the state declared again: left alone when its inputs are unchanged, else
     * updated or replaced as `pulumi up` would. `replaceOnChanges` replaces it when a named
     * property changed; otherwise the provider decides: a Service is updated unless a ForceNew
     * input changed; an Image is rebuilt (and pushed); a Container is updated when only inputs the
     * provider updates in place changed (`CONTAINER_UPDATABLE`); a RemoteImage when only
     * `keepLocally` changed; everything else (Network, Volume, Secret, ServiceConfig,
     * RandomPassword, providers) is replaced, every input of theirs being ForceNew.
     */
    private async change(previous: Created, r: DeclaredResource): Promise<{ entry: Created; status: RunStatus }> {
        const fingerprint = this.fingerprint(r);
        const plan = this.diff(previous, r, fingerprint);
        if (this.dryRun) {
            if (plan.status !== "same") this.plannedChanges.push({ name: r.name, type: r.type, status: plan.status, fields: plan.fields });
            return { entry: previous, status: "same" };
        }
        if (plan.status === "same") {
            previous.resource = r;
            previous.started = previous.finished = Date.now();
            return { entry: previous, status: "same" };
        }
        this.lastFields.set(r.name, plan.fields);
        if (plan.status === "update") return { entry: await this.update(previous, r, fingerprint), status: "updated" };
        return { entry: await this.replaceResource(previous, r, fingerprint), status: "replaced" };
    }

    /**
     * What the next run does to a resource of the state, as the provider's plan decides it: the
     * new inputs, with the schema's defaults filled in (`planned`), against the provider's state of
     * it (`readBack`: what its read found on the engine after the last create or update), the
     * paths named in `ignoreChanges` taken from that state. No difference, and an unchanged build
     * context for an Image: left alone. Otherwise `replaceOnChanges` replaces it when a named
     * property changed, and else the provider decides: a Service is updated unless a ForceNew
     * input changed; an Image is rebuilt (and pushed); a Container is updated when only inputs the
     * provider updates in place changed (`CONTAINER_UPDATABLE`); a RemoteImage when only
     * `keepLocally` changed; everything else (Network, Volume, Secret, ServiceConfig,
     * RandomPassword, providers) is replaced, every input of theirs being ForceNew.
     */
    private diff(previous: Created, r: DeclaredResource, fingerprint: string): { status: "same" | "update" | "replace"; fields: string[] } {
        if (!r.custom) return { status: "same", fields: [] };
        const before = previous.readBack ?? previous.resource.inputs;
        let after = previous.readBack ? withComputed(r.type, planned(r.type, r.inputs), previous.readBack) : r.inputs;
        for (const path of r.opts.ignoreChanges ?? []) {
            if (!/^[A-Za-z]+$/.test(path)) throw new UnmappedFieldError(`${r.type} ${r.name}: ignoreChanges "${path}": the runner honours top-level properties only`);
            after = { ...after, [path]: before[path] };
        }
        const fields = differingPaths(before, after);
        if (fields.length === 0 && fingerprint === previous.fingerprint) return { status: "same", fields: [] };
        const changed = [...new Set(fields.map((f) => f.split(".")[0]))];
        const replaceOn: string[] = r.opts.replaceOnChanges ?? [];
        const forced = replaceOn.some((p) => p === "*" || canonical(valueAt(before, p)) !== canonical(valueAt(after, p)));
        let update: boolean;
        switch (r.type) {
            case TYPES.service:
                update = !serviceNeedsReplacement(before, after);
                break;
            case TYPES.image:
                update = true;
                break;
            case TYPES.container:
                update = changed.every((k) => CONTAINER_UPDATABLE.includes(k));
                break;
            case TYPES.remoteImage:
                update = changed.every((k) => k === "keepLocally");
                break;
            default:
                update = false;
        }
        return { status: update && !forced ? "update" : "replace", fields: fields.length > 0 ? fields : ["(build context)"] };
    }

    /**
     * The provider's state of a resource it just created or updated: its read of the engine
     * (providerState.ts), for the types whose read can differ from what was sent.
     */
    private async readProvider(r: DeclaredResource, id: string): Promise<Inputs | undefined> {
        const client = r.custom && ([TYPES.container, TYPES.service, TYPES.volume] as string[]).includes(r.type) ? this.client(r) : undefined;
        if (!client) return undefined;
        const inspected =
            r.type === TYPES.container
                ? await client.getContainer(id).inspect()
                : r.type === TYPES.service
                  ? await client.getService(id).inspect()
                  : await client.getVolume(id).inspect();
        return readBack(r.type, r.inputs, inspected);
    }

    /** An update in place, as the provider's Update does it. */
    private async update(previous: Created, r: DeclaredResource, fingerprint: string): Promise<Created> {
        const started = Date.now();
        let state: Inputs;
        let destroy = previous.destroy;
        switch (r.type) {
            case TYPES.service: {
                const updated = await updateService(this.client(r), previous.id, previous.state!.name, r, this.log, this.providerAuths(r));
                ({ state, destroy } = updated);
                break;
            }
            case TYPES.image:
                ({ state } = await this.image(r));
                break;
            case TYPES.container:
                ({ state, destroy } = await this.updateContainer(previous, r));
                break;
            default: {
                // RemoteImage: `keepLocally` only says what its delete does.
                state = { ...previous.state, ...r.inputs };
                const client = this.client(r);
                const imageId: string = previous.state!.imageId;
                destroy = r.inputs.keepLocally ? undefined : async () => void (await client.getImage(imageId).remove());
            }
        }
        const entry: Created = { resource: r, id: previous.id, started, finished: Date.now(), destroy, state, fingerprint, readBack: await this.readProvider(r, previous.id) };
        this.created.splice(this.created.indexOf(previous), 1, entry);
        return entry;
    }

    /**
     * A replacement. Pulumi creates the new resource first and deletes the old one at the end of
     * the run (`finishRun`), unless the resource has `deleteBeforeReplace` or its provider asks for
     * it: pulumi-docker marks `docker_container` DeleteBeforeReplace (provider/resources.go). A
     * protected resource is not replaced (Pulumi refuses); a `retainOnDelete` one is let go, not deleted.
     */
    private async replaceResource(previous: Created, r: DeclaredResource, fingerprint: string): Promise<Created> {
        if (previous.resource.opts.protect) {
            throw new Error(`${r.type} ${r.name}: unable to replace it as it is currently marked for protection (as \`pulumi up\` refuses)`);
        }
        const deleteFirst = r.opts.deleteBeforeReplace === true || r.type === TYPES.container;
        if (deleteFirst) {
            if (previous.destroy && !previous.resource.opts.retainOnDelete) await previous.destroy();
            else if (previous.destroy) this.leftBehind.push(previous);
            this.created.splice(this.created.indexOf(previous), 1);
            this.writeJournal();
        }
        const started = Date.now();
        const result = await this.create(r);
        const entry: Created = { resource: r, id: result.id, started, finished: Date.now(), destroy: result.destroy, state: result.state, fingerprint, readBack: await this.readProvider(r, result.id) };
        if (deleteFirst) {
            this.created.push(entry);
        } else {
            this.created.splice(this.created.indexOf(previous), 1, entry);
            this.run.pendingDeletes.push(previous);
        }
        return entry;
    }

    private writeJournal(): void {
        const left = [...this.created, ...this.run.pendingDeletes, ...this.leftBehind]
            .filter((c) => c.destroy && JOURNALLED.includes(c.resource.type))
            .map((c) => ({ type: c.resource.type, id: c.id }));
        fs.writeFileSync(this.options.journal, JSON.stringify(left));
    }

    /**
     * Removes what a run that was interrupted left on the local engine, from its journal: services
     * first (waiting for their task containers to go), then secrets and configs, containers,
     * networks and volumes.
     */
    static async removeLeftovers(journal: string): Promise<void> {
        if (!fs.existsSync(journal)) return;
        const docker = new Docker();
        const left = JSON.parse(fs.readFileSync(journal, "utf8")) as { type: string; id: string }[];
        const ofType = (type: string) => left.filter((l) => l.type === type);
        // A secret or config, like a service, went with the swarm if the engine left it (503).
        const goneFromSwarm = (removal: Promise<unknown>) =>
            removal.catch((err: { statusCode?: number }) => {
                if (err.statusCode !== 404 && err.statusCode !== 503) throw err;
            });
        for (const s of ofType(TYPES.service)) await removeLeftoverService(docker, s.id);
        for (const s of ofType(TYPES.secret)) await goneFromSwarm(docker.getSecret(s.id).remove());
        for (const c of ofType(TYPES.serviceConfig)) await goneFromSwarm(docker.getConfig(c.id).remove());
        for (const c of ofType(TYPES.container)) await gone(docker.getContainer(c.id).remove({ force: true, v: true }));
        for (const n of ofType(TYPES.network)) await removeWhileInUse(() => docker.getNetwork(n.id).remove(), /has active endpoints/);
        for (const v of ofType(TYPES.volume)) await removeWhileInUse(() => docker.getVolume(v.id).remove(), /volume is in use/);
        fs.rmSync(journal);
    }

    /** The client of the provider a resource goes through (`urn::id`). */
    private client(resource: DeclaredResource): Docker {
        const providerId = resource.provider?.slice(resource.provider.lastIndexOf("::") + 2) ?? "";
        const client = this.clients.get(providerId);
        if (!client) throw new Error(`${resource.type} ${resource.name}: not on a Docker provider of this stack (${resource.provider ?? "default provider"})`);
        return client;
    }

    private async create(r: DeclaredResource): Promise<State & { destroy?: () => Promise<void> }> {
        if (!r.custom) return { id: "", state: {} }; // a component: nothing on the engine
        switch (r.type) {
            case "pulumi:providers:docker":
                return this.dockerProvider(r);
            case "pulumi:providers:random":
                onlyFields(r.inputs, ["version"], `${r.type} ${r.name}`);
                return { id: crypto.randomUUID(), state: r.inputs };
            case "random:index/randomPassword:RandomPassword":
                return randomPassword(r);
            case "docker:index/network:Network":
                return this.network(r);
            case "docker:index/volume:Volume":
                return this.volume(r);
            case "docker:index/remoteImage:RemoteImage":
                return this.remoteImage(r);
            case "docker:index/image:Image":
                return this.image(r);
            case "docker:index/container:Container":
                return this.container(r);
            case TYPES.secret:
                return createSwarmObject(this.client(r), r, "secret");
            case TYPES.serviceConfig:
                return createSwarmObject(this.client(r), r, "config");
            case TYPES.service:
                return createService(this.client(r), r, this.log, this.providerAuths(r));
            default:
                throw new UnmappedFieldError(`${r.type} ${r.name}: the real-engine runner does not map this resource type`);
        }
    }

    /**
     * `host`: "The Docker daemon address" (unix://, tcp://, ssh://); `sshOpts`: options for an
     * ssh:// host. The runner drives a local socket only, as the stacks under test declare.
     * `registryAuth`: `address` "Address of the registry", `username` "Username for the
     * registry", `password` "Password for the registry": the logins the provider uses for its
     * registry look-ups (`docker.getRegistryImage`) and for a service without `auth` whose image
     * is on that registry (`fromRegistryAuth`); config files and `authDisabled` are not mapped.
     */
    private dockerProvider(r: DeclaredResource): State {
        const where = `${r.type} ${r.name}`;
        onlyFields(r.inputs, ["host", "sshOpts", "version", "registryAuth"], where);
        const host = String(r.inputs.host ?? "unix:///var/run/docker.sock");
        if (!host.startsWith("unix://")) throw new UnmappedFieldError(`${where}: host "${host}" is not a local socket`);
        // Pulumi hands a provider a structured setting as JSON text.
        const registryAuth = typeof r.inputs.registryAuth === "string" ? JSON.parse(r.inputs.registryAuth) : (r.inputs.registryAuth ?? []);
        const auths: RegistryAuth[] = registryAuth.map((a: Record<string, any>) => {
            onlyFields(a, ["address", "username", "password"], `${where}.registryAuth[]`);
            return { address: a.address, username: a.username, password: a.password };
        });
        const id = crypto.randomUUID();
        this.clients.set(id, new Docker({ socketPath: host.slice("unix://".length) }));
        this.registryAuths.set(id, auths);
        return { id, state: r.inputs };
    }

    /** The `registryAuth` of the provider a resource goes through. */
    private providerAuths(resource: DeclaredResource): RegistryAuth[] {
        return this.registryAuths.get(resource.provider?.slice(resource.provider.lastIndexOf("::") + 2) ?? "") ?? [];
    }

    /**
     * Network (resource_docker_network_funcs.go): `name` "The name of the Docker network",
     * `driver` "Name of the network driver to use" (default bridge; `overlay` on a swarm
     * manager, where the engine assigns the subnet: no `ipamConfigs` needed), `labels`
     * "User-defined key/value metadata", `attachable` "Enable manual container attachment to the
     * network", `internal` "Whether the network is internal". Delete removes the network,
     * retried while it has active endpoints (`removeWhileInUse`).
     */
    private async network(r: DeclaredResource) {
        const where = `${r.type} ${r.name}`;
        onlyFields(r.inputs, ["name", "driver", "labels", "attachable", "internal"], where);
        const client = this.client(r);
        const network = await client.createNetwork({
            Name: r.inputs.name,
            Driver: r.inputs.driver ?? "bridge",
            Labels: labelMap(r.inputs.labels ?? [], where),
            Attachable: r.inputs.attachable ?? false,
            Internal: r.inputs.internal ?? false,
            CheckDuplicate: true,
        });
        return {
            id: network.id,
            state: { ...r.inputs, name: r.inputs.name, driver: r.inputs.driver ?? "bridge" },
            destroy: () => removeWhileInUse(() => client.getNetwork(network.id).remove(), /has active endpoints/),
        };
    }

    /**
     * Volume (resource_docker_volume.go): `name` "The name of the Docker volume (will be
     * generated if not provided)", `labels` "User-defined key/value metadata", `driver`
     * "Driver type for the volume". Creating a name that exists hands back that volume, which
     * is how a kept volume is adopted again. Delete removes it (Pulumi skips the delete of a
     * resource with `retainOnDelete`, and refuses to delete a `protect`ed one).
     */
    private async volume(r: DeclaredResource) {
        const where = `${r.type} ${r.name}`;
        onlyFields(r.inputs, ["name", "labels", "driver"], where);
        const client = this.client(r);
        const volume = (await client.createVolume({ Name: r.inputs.name, Labels: labelMap(r.inputs.labels ?? [], where), Driver: r.inputs.driver ?? "local" })) as any;
        const name: string = volume.Name ?? r.inputs.name;
        return {
            id: name,
            state: { ...r.inputs, name, driver: volume.Driver, mountpoint: volume.Mountpoint },
            destroy: () => removeWhileInUse(() => client.getVolume(name).remove(), /volume is in use/),
        };
    }

    /**
     * RemoteImage: `name` "The name of the Docker image, including any tags or SHA256 repo
     * digests"; `keepLocally` "If true, then the Docker image won't be deleted on destroy
     * operation". The provider pulls the image when it is missing; nothing can be pulled
     * here, so it must already be on the engine (the tests point the stack's image config at
     * local stand-ins). Outputs: `imageId` (the image's id) and `repoDigest`.
     */
    private async remoteImage(r: DeclaredResource) {
        const where = `${r.type} ${r.name}`;
        onlyFields(r.inputs, ["name", "keepLocally"], where);
        const client = this.client(r);
        let image: Docker.ImageInspectInfo;
        try {
            image = await client.getImage(r.inputs.name).inspect();
        } catch {
            throw new Error(`${where}: image "${r.inputs.name}" is not on the engine and cannot be pulled here; point the stack's image config at a local image`);
        }
        return {
            id: `${image.Id}${r.inputs.name}`,
            state: { ...r.inputs, imageId: image.Id, repoDigest: image.RepoDigests?.[0] ?? "" },
            destroy: r.inputs.keepLocally ? undefined : async () => void (await client.getImage(image.Id).remove()),
        };
    }

    /**
     * Image (pulumi-docker provider/image.go): builds `build.context` (relative to the
     * project, honouring its .dockerignore) with `build.dockerfile` (relative to the project;
     * added to the context when it lies outside it), `build.args` as build arguments,
     * `build.target` "The target of the Dockerfile to build", `build.platform`, with BuildKit
     * (`builderVersion` defaults to BuilderBuildKit); tags it `imageName`. `buildOnPreview`
     * only matters in a preview. `skipPush` "A flag to skip a registry push" (default false):
     * with it, `repoDigest` is the built image's id; without it, the image is pushed as
     * `imageName` to `registry` "The registry to push the image to": `server` "The URL of the
     * Docker registry server", `username` / `password` "The username/password to authenticate to
     * the registry" (both, or the host's Docker credentials, of which the runner has none), and
     * `repoDigest` is `<repository>@<digest the push reported>`. Delete leaves the image in place.
     */
    private async image(r: DeclaredResource) {
        const where = `${r.type} ${r.name}`;
        onlyFields(r.inputs, ["imageName", "skipPush", "build", "buildOnPreview", "registry"], where);
        const build: Inputs = r.inputs.build ?? {};
        onlyFields(build, ["context", "dockerfile", "args", "target", "platform"], `${where}.build`);
        const registry: Inputs = r.inputs.registry ?? {};
        onlyFields(registry, ["server", "username", "password"], `${where}.registry`);
        const imageName: string = r.inputs.imageName;
        const push = r.inputs.skipPush !== true;
        // Check: a pushed image's name must say which registry it goes to.
        const server = push ? registryAddress(registry.server, imageName, where) : "";
        const client = this.client(r);
        const started = Date.now();
        const { dockerfileName } = await buildWithBuildKit(client, {
            context: build.context ?? ".",
            dockerfile: build.dockerfile ?? path.join(build.context ?? ".", "Dockerfile"),
            tag: imageName,
            args: build.args ?? {},
            target: build.target,
            platform: build.platform,
            labels: this.options.buildLabel,
        }).catch((err: Error) => {
            throw new Error(`${where}: ${err.message}`);
        });
        const image = await client.getImage(imageName).inspect();
        this.log(`built ${imageName} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        const repoDigest = push ? await this.push(client, imageName, server, registry, where) : image.Id;
        return {
            id: imageName,
            state: {
                ...r.inputs,
                repoDigest,
                baseImageName: imageName,
                registryServer: registry.server ?? "",
                context: build.context,
                dockerfile: dockerfileName,
                platform: build.platform,
            },
        };
    }

    /**
     * The provider's push (provider/image.go `dockerBuild`): ImagePush of `imageName` with the
     * registry's credentials as X-Registry-Auth (only when both username and password are set),
     * the progress read to its end, an error in it failing the push. `repoDigest` is the
     * repository (without its tag) `@` the digest the push reported in its aux message; without
     * one, the image's RepoDigests entry for that repository (`<none>@<none>` if there is none).
     */
    private async push(client: Docker, imageName: string, server: string, registry: Inputs, where: string): Promise<string> {
        const authconfig = registry.username && registry.password ? { username: registry.username, password: registry.password, serveraddress: server } : {};
        if (!authconfig.username && (registry.username || registry.password)) {
            this.log(`${where}: ${registry.username ? "password" : "username"} was not set, although ${registry.username ? "username" : "password"} was; using host credentials file`);
        }
        const { repository, tag } = splitTag(imageName);
        const started = Date.now();
        const stream = await client.getImage(repository).push({ tag, authconfig });
        const events = await new Promise<any[]>((resolve, reject) =>
            (client as any).followProgress(stream, (err: Error | null, output: any[]) => (err ? reject(err) : resolve(output))),
        );
        const failed = events.find((e) => e.error || e.errorDetail);
        if (failed) {
            const message: string = failed.errorDetail?.message ?? failed.error;
            if (failed.errorDetail?.code === 401) throw new Error(`${where}: push of ${imageName}: authentication is required`);
            if (message === "EOF") throw new Error(`${where}: push of ${imageName}: EOF: This error is most likely due to incorrect or mismatched registry credentials`);
            throw new Error(`${where}: push of ${imageName}: ${message}`);
        }
        const pushed: string | undefined = events.find((e) => typeof e.aux?.Digest === "string")?.aux.Digest;
        let repoDigest: string;
        if (pushed && /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(pushed)) {
            repoDigest = `${normalizedRepository(repository)}@${pushed}`;
        } else {
            this.log(`${where}: push completed without reporting a digest; falling back to local image inspect`);
            const found = ((await client.getImage(imageName).inspect()).RepoDigests ?? []).find((d) => normalizedRepository(d.slice(0, d.indexOf("@"))) === normalizedRepository(repository));
            repoDigest = found ? `${normalizedRepository(found.slice(0, found.indexOf("@")))}${found.slice(found.indexOf("@"))}` : "<none>@<none>";
        }
        this.log(`pushed ${imageName} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${repoDigest}`);
        return repoDigest;
    }

    /**
     * Container (resource_docker_container_funcs.go `resourceDockerContainerCreate`): one
     * ContainerCreate request, then the networks, then the uploads, then ContainerStart, then
     * (with `wait`) the health wait. Each field below carries the provider's description.
     */
    private async container(r: DeclaredResource) {
        const where = `${r.type} ${r.name}`;
        const i = r.inputs;
        onlyFields(
            i,
            [
                "name", "image", "entrypoints", "command", "envs", "user", "labels", "ports", "volumes", "mounts", "networksAdvanced", "healthcheck", "restart", "init", "uploads", "wait", "waitTimeout",
                "memory", "memorySwap", "cpus", "logDriver", "logOpts", "securityOpts", "capabilities", "readOnly", "tmpfs", "destroyGraceSeconds", "stopSignal", "stopTimeout",
            ],
            where,
        );
        const client = this.client(r);
        // `image`: "The ID of the image to back this container"; the provider checks it is there first.
        await client.getImage(i.image).inspect();

        const hostConfig: Docker.HostConfig = {
            // `restart`: "The restart policy for the container. Must be one of 'no', 'on-failure', 'always', 'unless-stopped'. Defaults to `no`."
            RestartPolicy: { Name: i.restart ?? "no", MaximumRetryCount: 0 },
            // `init`: "Configured whether an init process should be injected for this container." The provider always sends it.
            Init: i.init ?? false,
            // `logDriver`: "The logging driver to use for the container. Defaults to `json-file`";
            // `logOpts`: "Key/value pairs to use as options for the logging driver" (LogConfig.Config).
            LogConfig: { Type: i.logDriver ?? "json-file", Config: i.logOpts ?? {} },
            // `readOnly`: "If `true`, the container will be started as readonly" (ReadonlyRootfs).
            ReadonlyRootfs: i.readOnly ?? false,
            // `securityOpts`: "List of string values to customize labels for MLS systems, such as
            // SELinux"; the provider sends them as SecurityOpt (after taking out `systempaths=`
            // entries, which the stack never sets).
            SecurityOpt: i.securityOpts ?? [],
            // `memory`: "The memory limit for the container in MBs" (HostConfig.Memory, in bytes).
            ...(i.memory ? { Memory: i.memory * 1024 * 1024 } : {}),
            // `memorySwap`: "The total memory limit (memory + swap) for the container in MBs"
            // (HostConfig.MemorySwap: MB in bytes when above 0, -1 as it is; Docker's default of
            // twice `memory` when unset).
            ...(i.memorySwap ? { MemorySwap: i.memorySwap > 0 ? i.memorySwap * 1024 * 1024 : i.memorySwap } : {}),
            // `cpus`: "Specify how much of the available CPU resources a container can use. e.g a
            // value of 1.5 means the container is guaranteed at most one and a half of the CPUs"
            // (HostConfig.NanoCpus, parsed as `docker run --cpus`).
            ...(i.cpus ? { NanoCpus: nanoCpus(i.cpus) } : {}),
            // `tmpfs`: "A map of container directories which should be replaced by `tmpfs mounts`,
            // and their corresponding mount options" (HostConfig.Tmpfs).
            ...(i.tmpfs ? { Tmpfs: i.tmpfs } : {}),
            Mounts: [],
            Binds: [],
            PortBindings: {},
        };
        // `capabilities`: "Add or drop certain linux capabilities": `adds` "List of linux
        // capabilities to add", `drops` "List of linux capabilities to drop" (CapAdd, CapDrop).
        if (i.capabilities) {
            onlyFields(i.capabilities, ["adds", "drops"], `${where}.capabilities`);
            hostConfig.CapAdd = i.capabilities.adds ?? [];
            hostConfig.CapDrop = i.capabilities.drops ?? [];
        }
        const create: Docker.ContainerCreateOptions = {
            // `name`: "The name of the container."
            name: i.name,
            Image: i.image,
            // `entrypoints`: "The command to use as the Entrypoint for the container. The Entrypoint
            // allows you to configure a container to run as an executable" (Config.Entrypoint; the
            // image's when unset).
            ...(i.entrypoints ? { Entrypoint: i.entrypoints } : {}),
            // `command`: "The command to use to start the container" (Cmd; the image's when unset).
            ...(i.command ? { Cmd: i.command } : {}),
            // `stopSignal`: "Signal to stop a container (default `SIGTERM`)"; `stopTimeout`: "Timeout
            // (in seconds) to stop a container" (Config.StopSignal, Config.StopTimeout).
            ...(i.stopSignal ? { StopSignal: i.stopSignal } : {}),
            ...(i.stopTimeout !== undefined ? { StopTimeout: i.stopTimeout } : {}),
            // `envs`: "Environment variables to set in the form of `KEY=VALUE`".
            Env: i.envs ?? [],
            // `user`: "User used for run the first process. Format is `user` or `user:group`".
            User: i.user ?? "",
            // `labels`: "User-defined key/value metadata".
            Labels: labelMap(i.labels ?? [], where),
            ExposedPorts: {},
            HostConfig: hostConfig,
        };

        // `ports`: "Publish a container's port(s) to the host": `internal` "Port within the
        // container", `external` "Port exposed out of the container", `ip` "IP address/mask that
        // can access this port", `protocol` "Protocol that can be used over this port".
        for (const p of i.ports ?? []) {
            onlyFields(p, ["internal", "external", "ip", "protocol"], `${where}.ports[]`);
            const key = `${p.internal}/${p.protocol ?? "tcp"}`;
            create.ExposedPorts![key] = {};
            if (p.external !== undefined || p.ip !== undefined) {
                hostConfig.PortBindings[key] = [...(hostConfig.PortBindings[key] ?? []), { HostIp: p.ip ?? "", HostPort: p.external === undefined ? "" : String(p.external) }];
            }
        }
        // `volumes`: "Spec for mounting volumes in the container": `volumeName` "The name of the
        // docker volume which should be mounted", `containerPath` "The path in the container
        // where the volume will be mounted", `readOnly` "If `true`, this volume will be
        // readonly"; sent as a bind string `name:path:rw|ro`.
        for (const v of i.volumes ?? []) {
            onlyFields(v, ["volumeName", "containerPath", "readOnly"], `${where}.volumes[]`);
            hostConfig.Binds!.push(`${v.volumeName}:${v.containerPath}:${v.readOnly ? "ro" : "rw"}`);
        }
        // `mounts`: "Specification for mounts to be added to containers": `type` "The mount type",
        // `source` "Mount source (e.g. a volume name, a host path)", `target` "Container path",
        // `readOnly` "Whether the mount should be read-only".
        for (const m of i.mounts ?? []) {
            onlyFields(m, ["type", "source", "target", "readOnly"], `${where}.mounts[]`);
            hostConfig.Mounts!.push({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false });
        }
        // `healthcheck`: "A test to perform to check that the container is healthy": `tests`
        // "Command to run to check health", `interval`, `timeout`, `startPeriod` (Go durations),
        // `retries` "Consecutive failures needed to report unhealthy".
        if (i.healthcheck) {
            const h = i.healthcheck;
            onlyFields(h, ["tests", "interval", "timeout", "startPeriod", "startInterval", "retries"], `${where}.healthcheck`);
            create.Healthcheck = {
                Test: h.tests,
                Interval: h.interval ? durationNanos(h.interval) : 0,
                Timeout: h.timeout ? durationNanos(h.timeout) : 0,
                StartPeriod: h.startPeriod ? durationNanos(h.startPeriod) : 0,
                Retries: h.retries ?? 0,
                ...(h.startInterval ? { StartInterval: durationNanos(h.startInterval) } : {}),
            };
        }

        const container = await client.createContainer(create);
        const destroy = this.containerRemover(container, i);
        try {
            // `networksAdvanced`: "The networks the container is attached to": `name` "The name or
            // id of the network to use", `aliases` "The network aliases of the container in the
            // specific network". The provider disconnects the default bridge, then connects each.
            if (i.networksAdvanced) {
                await client.getNetwork("bridge").disconnect({ Container: container.id }).catch(() => undefined);
                for (const n of i.networksAdvanced) {
                    onlyFields(n, ["name", "aliases"], `${where}.networksAdvanced[]`);
                    await client.getNetwork(n.name).connect({ Container: container.id, EndpointConfig: { Aliases: n.aliases ?? [] } });
                }
            }
            // `uploads`: "Specifies files to upload to the container before starting it": `file`
            // "Path to the file in the container", `content` "Literal string value to use as the
            // object content", `permissions` "The permission mode for the file in the container"
            // (octal), `owner` / `group` "The owner / group of the file in the container ...
            // numeric IDs can be used directly". One tar archive per upload, extracted at "/".
            for (const u of i.uploads ?? []) {
                onlyFields(u, ["file", "content", "permissions", "owner", "group", "executable"], `${where}.uploads[]`);
                const mode = u.permissions ? parseInt(u.permissions, 8) : u.executable ? 0o744 : 0o644;
                const archive = await tarOf([
                    { name: u.file, content: Buffer.from(u.content ?? "", "utf8"), mode, uid: numericId(u.owner, `${where}.uploads[].owner`), gid: numericId(u.group, `${where}.uploads[].group`) },
                ]);
                await container.putArchive(archive, { path: "/" });
            }
            await container.start();
            // `wait`: "If `true`, then the Docker container is waited for being healthy state
            // after creation. This requires your container to have a healthcheck, otherwise this
            // provider will error." `waitTimeout`: "The timeout in seconds to wait the container
            // to be healthy after creation. Defaults to `60`."
            if (i.wait) await this.waitHealthy(container, i.name, i.waitTimeout ?? 60);
            // `mustRun` defaults to true: the provider's read fails when the container is not running.
            const state = await container.inspect();
            if (!state.State.Running) throw new Error(`${where}: container ${i.name} is not running (${state.State.Status}, exit code ${state.State.ExitCode})`);
            return { id: container.id, state: { ...i, name: state.Name.replace(/^\//, "") }, destroy };
        } catch (err) {
            const logs = await container.logs({ stdout: true, stderr: true, tail: 30 }).then((b) => demux(b)).catch(() => "");
            await destroy().catch(() => undefined);
            throw new Error(`${(err as Error).message}\n--- last lines of ${i.name}'s log ---\n${logs}`);
        }
    }

    /**
     * Delete (`resourceDockerContainerDelete`): ContainerStop with a timeout of
     * `destroyGraceSeconds` ("If defined will attempt to stop the container before destroying.
     * Container will be destroyed after `n` seconds or on successful stop"), 0 when unset or 0:
     * the container's stop signal, then SIGKILL after the timeout. Then ContainerRemove with
     * `removeVolumes` (default true: anonymous volumes) and force.
     */
    private containerRemover(container: Docker.Container, i: Inputs): () => Promise<void> {
        return async () => {
            const timeoutSeconds = i.destroyGraceSeconds > 0 ? i.destroyGraceSeconds : 0;
            const stopping = Date.now();
            let stopped = true;
            await container.stop({ t: timeoutSeconds }).catch((err: { statusCode?: number }) => {
                if (err.statusCode === 404) stopped = false;
                else if (err.statusCode !== 304) throw err;
            });
            if (stopped) {
                const seconds = (Date.now() - stopping) / 1000;
                const state = await container.inspect().catch(() => undefined);
                const logTail = await container.logs({ stdout: true, stderr: true, tail: 15 }).then((b) => demux(b)).catch(() => "");
                if (state) this.stops.push({ name: i.name, timeoutSeconds, seconds, exitCode: state.State.ExitCode, logTail });
            }
            await container.remove({ v: true, force: true });
        };
    }

    /**
     * Container update (`resourceDockerContainerUpdate`): when `restart`, `memory` or `memorySwap`
     * changed, ContainerUpdate with the restart policy and the resources (memory in bytes; CPU shares,
     * reservation and cpuset at their unset values, which Docker leaves as they are); the other
     * updatable inputs only change the state (and what a later delete does).
     */
    private async updateContainer(previous: Created, r: DeclaredResource): Promise<{ state: Inputs; destroy: () => Promise<void> }> {
        const i = r.inputs;
        const container = this.client(r).getContainer(previous.id);
        const before = previous.readBack ?? previous.resource.inputs;
        if (["restart", "memory", "memorySwap"].some((k) => canonical(before[k]) !== canonical(i[k]))) {
            // Docker refuses a memory limit at or above the swap limit it derived at create (twice the
            // old limit) unless memoryswap changes too: the provider sends it only when `memorySwap` is set.
            const swap = i.memorySwap ? { MemorySwap: i.memorySwap > 0 ? i.memorySwap * 1024 * 1024 : i.memorySwap } : {};
            await container
                .update({ RestartPolicy: { Name: i.restart ?? "no", MaximumRetryCount: 0 }, CpuShares: 0, Memory: (i.memory ?? 0) * 1024 * 1024, MemoryReservation: 0, CpusetCpus: "", ...swap })
                .catch((err: unknown) => {
                    throw new Error(`${r.type} ${r.name}: Unable to update a container: ${engineMessage(err)}`);
                });
        }
        return { state: { ...i, name: previous.state?.name ?? i.name }, destroy: this.containerRemover(container, i) };
    }

    private async waitHealthy(container: Docker.Container, name: string, timeoutSeconds: number): Promise<void> {
        const started = Date.now();
        for (;;) {
            const state = (await container.inspect()).State;
            if (!state.Health) throw new Error(`container ${name}: wait is set but the container has no health check (the provider errors too)`);
            if (state.Health.Status === "healthy") {
                this.log(`${name} healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`);
                return;
            }
            if (Date.now() - started > timeoutSeconds * 1000) {
                const last = state.Health.Log?.at(-1);
                throw new Error(`container ${name} did not turn healthy within ${timeoutSeconds} s (${state.Health.Status}; last check exit ${last?.ExitCode}: ${last?.Output?.trim()})`);
            }
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }

    /**
     * What `pulumi up` does to replace a container that has `deleteBeforeReplace` (as every
     * container of the stack with a fixed name has): the old one deleted as the provider
     * deletes it, then a new one created from the same declaration. Resolves with how the old
     * one stopped.
     */
    async replace(logicalName: string): Promise<StopRecord> {
        const old = this.created.find((c) => c.resource.name === logicalName && c.resource.type === TYPES.container);
        if (!old) throw new Error(`replace: no container named ${logicalName} was created`);
        if (old.resource.opts.deleteBeforeReplace !== true) throw new Error(`replace: ${logicalName} is replaced create-first; the runner replaces delete-first only`);
        const before = this.stops.length;
        await old.destroy!();
        const started = Date.now();
        const result = await this.container(old.resource);
        const entry: Created = {
            resource: old.resource,
            id: result.id,
            started,
            finished: Date.now(),
            destroy: result.destroy,
            state: result.state,
            fingerprint: old.fingerprint,
            readBack: await this.readProvider(old.resource, result.id),
        };
        this.created.splice(this.created.indexOf(old), 1, entry);
        this.writeJournal();
        return this.stops[before];
    }

    /**
     * What `pulumi destroy` does: every created resource deleted once nothing that depends on
     * it is left, independent ones at the same time; a resource with `retainOnDelete` is let
     * go without deleting it; a `protect`ed one stops the destroy, as Pulumi refuses it.
     */
    async destroy(): Promise<void> {
        const protectedOnes = this.created.filter((c) => c.resource.opts.protect);
        if (protectedOnes.length > 0) {
            throw new Error(`destroy refused: ${protectedOnes.map((c) => c.resource.name).join(", ")} protected (as \`pulumi destroy\` refuses)`);
        }
        // The old halves of replacements a run did not finish go too.
        const all = [...this.created, ...this.run.pendingDeletes];
        await this.deleteAll(all, (c) => !c.resource.opts.retainOnDelete);
        this.leftBehind.push(...all.filter((c) => c.resource.opts.retainOnDelete));
        this.created.length = 0;
        this.run = { seen: new Set(), pendingDeletes: [], finished: true };
        this.writeJournal();
    }

    /**
     * Test clean-up, beyond `destroy`: everything the run created goes, retained and
     * protected volumes included, as after `pulumi state unprotect` and `destroy` with
     * retention off.
     */
    async removeEverything(): Promise<void> {
        await this.deleteAll([...this.created, ...this.run.pendingDeletes, ...this.leftBehind], () => true);
        this.created.length = 0;
        this.leftBehind.length = 0;
        this.run = { seen: new Set(), pendingDeletes: [], finished: true };
        fs.rmSync(this.options.journal, { force: true });
    }

    /**
     * Deletes `entries`, each once every entry that depends on it is deleted, independent ones at
     * once. Beyond the declared dependencies, a network, volume, secret or config waits for every
     * service being deleted (and for its task containers to go): Docker refuses to remove what a
     * task still uses, and a service may name its network or volume by a plain string.
     */
    private async deleteAll(entries: Created[], shouldDelete: (c: Created) => boolean): Promise<void> {
        const done = new Map<Created, Promise<void>>();
        const dependents = (name: string) => entries.filter((c) => c.resource.dependencies.includes(name));
        const usedByServices: string[] = [TYPES.network, TYPES.volume, TYPES.secret, TYPES.serviceConfig];
        const services = entries.filter((c) => c.resource.type === TYPES.service);
        // What an entry depends on, directly or not (a service it depends on cannot wait for it).
        const dependencies = (c: Created, seen = new Set<string>()): Set<string> => {
            for (const d of c.resource.dependencies) {
                if (seen.has(d)) continue;
                seen.add(d);
                for (const e of entries.filter((x) => x.resource.name === d)) dependencies(e, seen);
            }
            return seen;
        };
        const remove = (c: Created): Promise<void> => {
            if (!done.has(c)) {
                const implicit = usedByServices.includes(c.resource.type) ? services.filter((s) => !dependencies(c).has(s.resource.name)) : [];
                done.set(
                    c,
                    Promise.all([...dependents(c.resource.name), ...implicit].map(remove)).then(async () => {
                        if (c.destroy && shouldDelete(c)) await c.destroy();
                    }),
                );
            }
            return done.get(c)!;
        };
        const results = await Promise.allSettled(entries.map(remove));
        const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failures.length > 0) throw new Error(`destroy failed: ${failures.map((f) => String(f.reason)).join("; ")}`);
    }

    /** The engine's work: for each resource, how long it took and what it waited for. */
    timeline(): { name: string; type: string; seconds: number; startedAt: number; finishedAt: number; dependencies: string[] }[] {
        return this.created.map((c) => ({
            name: c.resource.name,
            type: c.resource.type,
            seconds: (c.finished - c.started) / 1000,
            startedAt: c.started,
            finishedAt: c.finished,
            dependencies: c.resource.dependencies,
        }));
    }
}

/**
 * RandomPassword (@pulumi/random): `length` "The length of the string desired", `special`
 * "Include special characters in the result" (default true), `upper`, `lower`, `numeric`
 * (default true each). The result is the secret value; the provider's id is "none".
 */
function randomPassword(r: DeclaredResource): State {
    onlyFields(r.inputs, ["length", "special", "upper", "lower", "numeric"], `${r.type} ${r.name}`);
    const { length, special = true, upper = true, lower = true, numeric = true } = r.inputs;
    const alphabet = [
        upper ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ" : "",
        lower ? "abcdefghijklmnopqrstuvwxyz" : "",
        numeric ? "0123456789" : "",
        special ? "!@#$%&*()-_=+[]{}<>:?" : "",
    ].join("");
    const result = Array.from({ length }, () => alphabet[crypto.randomInt(alphabet.length)]).join("");
    return { id: "none", state: { ...r.inputs, result } };
}

/** Resolves once `removal` is done, or found there was nothing left to remove (404). */
export async function gone(removal: Promise<unknown>): Promise<void> {
    await removal.catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
    });
}

/** The text of a non-TTY container's log stream (8-byte frame headers stripped). */
export function demux(buffer: Buffer): string {
    const out: Buffer[] = [];
    let offset = 0;
    while (offset + 8 <= buffer.length) {
        const size = buffer.readUInt32BE(offset + 4);
        out.push(buffer.subarray(offset + 8, offset + 8 + size));
        offset += 8 + size;
    }
    return Buffer.concat(out).toString("utf8");
}
