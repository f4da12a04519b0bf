/**
 * Docker Swarm on the local engine for the real-engine tests: a one-node swarm, a local image
 * registry, the state of a service's tasks, and a load client that counts failed requests
 * during a rolling update.
 *
 * What this machine allows: its kernel has no IPVS, so Swarm's ingress routing mesh and VIP
 * service addresses do not work. Services that tests reach must use `EndpointSpec.Mode:
 * "dnsrr"` (the name resolves to the tasks' own addresses) and publish ports with
 * `PublishMode: "host"` (bound on the node by each task's container, as `taskContainers` shows).
 * No image can be pulled from the internet; the registry started here (Debian's
 * `docker-registry`, installed by test/e2e/ensure-engine.sh) serves what a test pushes to it.
 *
 * The containers and networks created here carry the label `LABEL` (docker.ts), so that the
 * clean-up of leftovers finds them (give the services a test creates, and their ContainerSpec,
 * the label too); the registry's storage is a temporary folder named `sb-e2e-registry-*`, and
 * the image names a registry leaves on the engine go with its `stop()`.
 *
 * The engine is dockerode's default: DOCKER_HOST, else /var/run/docker.sock.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import Docker from "dockerode";
import { LABEL, waitUntil } from "./docker";
import { demux, engineMessage, gone, sleep } from "./engine";
import { FIXTURES, IMAGES } from "./images";

/** The engine under test; Swarm's API is only answered by a manager, which `joinSwarm` makes it. */
const engine = new Docker();

/** A Docker Engine API error as dockerode rejects with it. */
type EngineError = Error & { statusCode?: number; json?: { message?: string } };


// ---------------------------------------------------------------------------------------------
// The swarm and its node

/**
 * Makes the local engine a one-node swarm manager, unless it already is one (another suite or
 * a person may be using that swarm: it is left as it is). Listens and advertises on the
 * loopback only, so nothing outside this machine can join. Resolves to a function that leaves
 * the swarm (`leave --force`: services and overlay networks go with it) if, and only if, this
 * call created it, and does nothing otherwise. Fails when the engine is a worker of another
 * swarm, or in a state other than active or inactive (locked, pending, error).
 */
export async function joinSwarm(): Promise<() => Promise<void>> {
    const state = (await engine.info()).Swarm as { LocalNodeState: string; ControlAvailable: boolean };
    const keep = async () => undefined;
    if (state.LocalNodeState === "active") {
        if (!state.ControlAvailable) throw new Error("the engine is a worker of a swarm, not a manager: services cannot be created from here");
        return keep;
    }
    if (state.LocalNodeState !== "inactive") throw new Error(`the engine's swarm state is "${state.LocalNodeState}"; it must be active or inactive`);
    try {
        await engine.swarmInit({ ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1" });
    } catch (err) {
        // Someone else made it a swarm in the meantime (503 "already part of a swarm"): theirs.
        if ((err as EngineError).statusCode === 503 && /already part of a swarm/i.test(engineMessage(err))) return keep;
        throw new Error(`swarm init failed: ${engineMessage(err)}`);
    }
    await waitUntil("the new swarm's node to be ready", 30_000, async () => {
        const node = await engine.getNode(await localNodeId()).inspect();
        return node.Status?.State === "ready" ? true : undefined;
    });
    return async () => {
        await engine.swarmLeave({ force: true }).catch((err: EngineError) => {
            if (err.statusCode !== 503 && err.statusCode !== 406) throw err; // 503/406: not in a swarm any more
        });
    };
}

/** The swarm node id of the local engine. */
export async function localNodeId(): Promise<string> {
    const id = ((await engine.info()).Swarm as { NodeID?: string }).NodeID;
    if (!id) throw new Error("the engine is not part of a swarm (call joinSwarm first)");
    return id;
}

/**
 * Changes the local node's labels with `change`, sent with the node's current version; retried
 * when someone else updated the node in between ("update out of sequence").
 */
async function updateNodeLabels(change: (labels: Record<string, string>) => Record<string, string>): Promise<void> {
    const node = engine.getNode(await localNodeId());
    for (let attempt = 1; ; attempt++) {
        const current = await node.inspect();
        const spec = current.Spec as { Labels?: Record<string, string> } & Record<string, unknown>;
        try {
            await node.update({ _query: { version: current.Version.Index }, _body: { ...spec, Labels: change({ ...(spec.Labels ?? {}) }) } });
            return;
        } catch (err) {
            if (attempt >= 5 || !/out of sequence/i.test(engineMessage(err))) throw new Error(`node update failed: ${engineMessage(err)}`);
        }
    }
}

/**
 * Sets the label `key`=`value` on the local node (`docker node update --label-add`), for
 * placement constraints such as `node.labels.<key> == <value>`. Undo with `removeNodeLabel`:
 * the node is shared with whoever else uses the swarm.
 */
export async function setNodeLabel(key: string, value: string): Promise<void> {
    await updateNodeLabels((labels) => ({ ...labels, [key]: value }));
}

/** Removes the label `key` from the local node (`docker node update --label-rm`); none there is fine. */
export async function removeNodeLabel(key: string): Promise<void> {
    await updateNodeLabels((labels) => {
        delete labels[key];
        return labels;
    });
}

/**
 * Creates an attachable overlay network labelled `LABEL` (services attach to it; so can a
 * plain container such as the load client). Resolves to a function that removes it, retrying
 * while the endpoints of removed tasks are still being torn down.
 */
export async function createOverlayNetwork(name: string): Promise<() => Promise<void>> {
    const network = await engine.createNetwork({ Name: name, Driver: "overlay", Attachable: true, Labels: { [LABEL]: "swarm" }, CheckDuplicate: true });
    return async () => {
        await waitUntil(`removing network ${name}`, 60_000, async () => {
            await gone(network.remove());
            return true;
        });
    };
}

/**
 * Removes a service and waits until none of its task containers is left (they are stopped with
 * the service's stop grace period), so that its network can be removed right after. A service
 * that is not there is fine.
 */
export async function removeService(name: string, timeoutMs = 60_000): Promise<void> {
    await gone(engine.getService(name).remove());
    await waitUntil(`the containers of service ${name} to be gone`, timeoutMs, async () => {
        const left = await engine.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${name}`] } });
        return left.length === 0 ? true : undefined;
    });
}

// ---------------------------------------------------------------------------------------------
// The registry

/** A registry started by `startRegistry`. */
export interface Registry {
    /** `HOST:PORT` (`127.0.0.1:PORT` unless told otherwise): what image references start with (`127.0.0.1:PORT/repo:tag`). */
    readonly address: string;
    /** The folder its images are stored in (the one given, or a temporary one of its own). */
    readonly storage: string;
    /**
     * Removes the engine's names for images of this registry (`forgetRegistryImages`), then
     * stops the registry and removes its storage. Remove the services using them first.
     */
    stop(): Promise<void>;
}

/** The binary of Debian's `docker-registry` package (CNCF Distribution 2.8). */
const REGISTRY_BINARY = "/usr/bin/docker-registry";

/** A TCP port nothing listens on at the moment on `host`. */
function freePort(host = "127.0.0.1"): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on("error", reject);
        server.listen(0, host, () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** A registry's user and password (`docker login`), as an engine's X-Registry-Auth carries them. */
export interface RegistryLogin {
    readonly username: string;
    readonly password: string;
}

/** What `startRegistry` may be told; by default a registry on 127.0.0.1 with no login and storage of its own. */
export interface RegistryOptions {
    /** The address it listens on (default 127.0.0.1), e.g. the gateway of a test network its nodes reach. */
    readonly host?: string;
    /** A user it requires of every request (htpasswd, bcrypt): anything else is answered 401. */
    readonly login?: RegistryLogin;
    /**
     * A folder another registry started here stores in: this one serves the same images (a
     * second address for one store). It is left in place by `stop()`.
     */
    readonly storage?: string;
}

/**
 * Starts a Distribution registry as a child process on 127.0.0.1 (or `options.host`) at a free
 * port, storing on the file system in a temporary folder (or `options.storage`), and waits until
 * `GET /v2/` answers (401 with a login, which it then checks). An engine pushes to and pulls from
 * it without TLS: registries on the loopback are insecure registries by default, others must be
 * listed in the engine's `--insecure-registry`. Nothing else is configured: no authentication
 * unless `options.login` (then htpasswd, the user's bcrypt hash in the registry's folder),
 * deletes allowed, no cache.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
    if (!fs.existsSync(REGISTRY_BINARY)) throw new Error(`${REGISTRY_BINARY} is missing: install Debian's docker-registry package (test/e2e/ensure-engine.sh does)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-registry-"));
    const storage = options.storage ?? path.join(dir, "data");
    const host = options.host ?? "127.0.0.1";
    try {
        const htpasswd = path.join(dir, "htpasswd");
        if (options.login) fs.writeFileSync(htpasswd, `${options.login.username}:${bcryptHash(options.login.password)}\n`, { mode: 0o600 });
        // The port is free when chosen and taken a moment later; another process may take it
        // in between, hence a few attempts.
        for (let attempt = 1; ; attempt++) {
            const port = await freePort(host);
            const config = path.join(dir, "config.yml");
            fs.writeFileSync(
                config,
                [
                    "version: 0.1",
                    "log:",
                    "  level: warn",
                    "storage:",
                    "  filesystem:",
                    `    rootdirectory: ${storage}`,
                    "  delete:",
                    "    enabled: true",
                    "http:",
                    `  addr: ${host}:${port}`,
                    ...(options.login ? ["auth:", "  htpasswd:", "    realm: sb-e2e", `    path: ${htpasswd}`] : []),
                    "",
                ].join("\n"),
            );
            // REGISTRY_* variables would override the file: none is passed on.
            const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("REGISTRY_")));
            const child = spawn(REGISTRY_BINARY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"], env });
            let log = "";
            child.stderr.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
            const address = `${host}:${port}`;
            try {
                await waitForRegistry(address, child, () => log, options.login);
            } catch (err) {
                await stopChild(child);
                if (attempt < 3 && /address already in use/.test(log)) continue;
                throw err;
            }
            // A test process that ends without `stop` takes its registry with it (its storage
            // folder stays, for the clean-up of leftovers).
            const onExit = () => child.kill("SIGKILL");
            process.once("exit", onExit);
            return {
                address,
                storage,
                stop: async () => {
                    await forgetRegistryImages(address);
                    await stopChild(child);
                    process.removeListener("exit", onExit);
                    fs.rmSync(dir, { recursive: true, force: true });
                },
            };
        }
    } catch (err) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
    }
}

/**
 * Waits until the registry at `address` answers `GET /v2/` with 200 (with a login: 401 without
 * it, 200 with it), failing when its process ends first.
 */
async function waitForRegistry(address: string, child: ChildProcess, log: () => string, login?: RegistryLogin): Promise<void> {
    const until = Date.now() + 20_000;
    const get = (headers: Record<string, string> = {}) =>
        fetch(`http://${address}/v2/`, { headers, signal: AbortSignal.timeout(2_000) }).then(
            (response) => response.status,
            () => 0,
        );
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering:\n${log()}`);
        }
        const status = await get();
        if (status === 200 && !login) return;
        if (status === 401 && login) {
            const withLogin = await get(basicAuth(login));
            if (withLogin === 200) return;
            throw new Error(`docker-registry on ${address} refused its own user (HTTP ${withLogin}):\n${log()}`);
        }
        if (status === 200 && login) throw new Error(`docker-registry on ${address} answered without the login it was given`);
        if (Date.now() > until) throw new Error(`docker-registry on ${address} did not answer GET /v2/ within 20 s (last status ${status}):\n${log()}`);
        await sleep(200);
    }
}

/** The Authorization header of a registry login. */
export function basicAuth(login: RegistryLogin): Record<string, string> {
    return { Authorization: `Basic ${Buffer.from(`${login.username}:${login.password}`).toString("base64")}` };
}

/**
 * A bcrypt hash of `password` (`$2b$10$...`), the only kind Distribution's htpasswd takes, made
 * by the C library's crypt(3) through Perl (Debian's libcrypt, libxcrypt, has bcrypt; perl-base
 * is essential on Debian). The password goes in on standard input, never on a command line.
 */
export function bcryptHash(password: string): string {
    const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const salt = Array.from(crypto.randomBytes(22), (b) => alphabet[b % 64]).join("");
    const run = spawnSync("perl", ["-e", 'local $/; my $p = <STDIN>; print crypt($p, $ARGV[0])', `$2b$10$${salt}`], { input: password, encoding: "utf8" });
    const hash = run.stdout ?? "";
    if (run.status !== 0 || !/^\$2b\$10\$[./A-Za-z0-9]{53}$/.test(hash)) {
        throw new Error(`bcrypt through perl's crypt failed (${run.error?.message ?? run.stderr ?? `exit ${run.status}`}): the C library must support $2b$ hashes`);
    }
    return hash;
}

/** Ends a child process: SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
}

/**
 * Removes every name the engine has for images of the registry at `address`: tags
 * (`address/repo:tag`) and the digests pulls leave (`address/repo@sha256:...`), as
 * `docker rmi` does. An image with no other name is removed with it; one that also has other
 * names (a base image pushed as it is) keeps them. A name still used by a container is left.
 */
export async function forgetRegistryImages(address: string): Promise<void> {
    const images = await engine.listImages({ all: false, digests: true });
    const names = images.flatMap((i) => [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])]).filter((n) => n.startsWith(`${address}/`));
    for (const name of names) {
        await gone(engine.getImage(name).remove()).catch((err: EngineError) => {
            if (err.statusCode !== 409) throw err; // 409: a container still uses it
        });
    }
}

/** The manifest types a registry may hold an image under: Docker's v2 schema 2 (and its list) and OCI's. */
const MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/**
 * Whether the registry at `address` holds a manifest of `repository` with `digest` (`HEAD
 * /v2/<repository>/manifests/<digest>`, accepting the Docker v2 and OCI manifest types). Fails
 * on anything but 200 or 404.
 */
export async function manifestExists(address: string, repository: string, digest: string, login?: RegistryLogin): Promise<boolean> {
    const response = await fetch(`http://${address}/v2/${repository}/manifests/${digest}`, {
        method: "HEAD",
        headers: { Accept: MANIFEST_TYPES.join(", "), ...(login ? basicAuth(login) : {}) },
        signal: AbortSignal.timeout(10_000),
    });
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw new Error(`HEAD /v2/${repository}/manifests/${digest} on ${address}: HTTP ${response.status}`);
}

/** An image pushed by `pushImage`. */
export interface Pushed {
    /** `address/repository:tag`. */
    readonly reference: string;
    /** The manifest's digest, as the push reported it (`sha256:...`). */
    readonly digest: string;
    /** `address/repository:tag@digest`, the form `docker service create` pins a service to. */
    readonly pinned: string;
}

/**
 * Pushes the local image `image` to the registry at `address` as `repository:tag` (tag, then
 * push, as `docker tag` + `docker push`, with `login` when the registry wants one), and removes
 * the tag it added again (the image keeps its other names). A service pulls it from the registry
 * by its `pinned` reference.
 */
export async function pushImage(image: string, address: string, repository: string, tag: string, login?: RegistryLogin): Promise<Pushed> {
    const reference = `${address}/${repository}:${tag}`;
    await engine.getImage(image).tag({ repo: `${address}/${repository}`, tag });
    try {
        // The engine wants an X-Registry-Auth header on a push even when the registry needs none.
        const authconfig = (login ? { username: login.username, password: login.password, serveraddress: address } : {}) as Docker.AuthConfig;
        const stream = await engine.getImage(reference).push({ authconfig });
        const events = await new Promise<{ error?: string; aux?: { Digest?: string } }[]>((resolve, reject) =>
            engine.modem.followProgress(stream, (err: Error | null, output: any[]) => (err ? reject(err) : resolve(output))),
        );
        const failed = events.find((e) => e.error);
        if (failed) throw new Error(`pushing ${reference} failed: ${failed.error}`);
        const digest = events.find((e) => e.aux?.Digest)?.aux?.Digest;
        if (!digest) throw new Error(`pushing ${reference}: the engine reported no digest`);
        return { reference, digest, pinned: `${reference}@${digest}` };
    } finally {
        await gone(engine.getImage(reference).remove({ noprune: true }));
    }
}

// ---------------------------------------------------------------------------------------------
// Services and their tasks

/** A task as the Engine API lists it (`GET /tasks`), the fields the tests read. */
export interface SwarmTask {
    readonly ID: string;
    readonly ServiceID: string;
    /** A replicated service's replica number, from 1. */
    readonly Slot?: number;
    readonly NodeID?: string;
    /** What the orchestrator wants of it: `running`, `shutdown`, ... */
    readonly DesiredState: string;
    readonly CreatedAt: string;
    readonly UpdatedAt: string;
    readonly Status: {
        readonly Timestamp: string;
        /** `new` ... `starting`, `running`, `complete`, `shutdown`, `failed`, `rejected`, ... */
        readonly State: string;
        readonly Message?: string;
        readonly Err?: string;
        readonly ContainerStatus?: { readonly ContainerID?: string; readonly PID?: number; readonly ExitCode?: number };
    };
}

/** The tasks of a service, all of them (history included), as `docker service ps` lists them; asked of `client` (default: the local engine), a manager. */
export async function serviceTasks(name: string, client: Docker = engine): Promise<SwarmTask[]> {
    return (await client.listTasks({ filters: { service: [name] } })) as SwarmTask[];
}

/** A task the orchestrator wants running and that is running (with a health check: healthy). */
function isRunning(task: SwarmTask): boolean {
    return task.DesiredState === "running" && task.Status.State === "running";
}

/**
 * Waits until the replicated service `name` has converged: each of the slots 1..`replicas` has
 * a running task, and every task that should be running is (none starting, none left over).
 * With a health check, a task only counts as running once healthy. Resolves to the seconds
 * since `since` (default: the call).
 */
export async function waitForConverged(name: string, replicas: number, timeoutMs: number, since = Date.now(), client: Docker = engine): Promise<number> {
    let last = "";
    await waitUntil(`service ${name} to converge to ${replicas} running tasks`, timeoutMs, async () => {
        const tasks = await serviceTasks(name, client);
        const wanted = tasks.filter((t) => t.DesiredState === "running");
        const slots = new Set(tasks.filter(isRunning).map((t) => t.Slot));
        last = wanted.map((t) => `${t.Slot}:${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ""}`).join(", ");
        const converged = wanted.every(isRunning) && Array.from({ length: replicas }, (_, i) => i + 1).every((slot) => slots.has(slot));
        return converged ? true : undefined;
    }).catch((err: Error) => {
        throw new Error(`${err.message}; tasks wanted running: ${last || "none"}`);
    });
    return (Date.now() - since) / 1000;
}

/** The states of a service update (`UpdateStatus.State`) that end it without completing. */
const FAILED_UPDATE = ["paused", "rollback_started", "rollback_paused", "rollback_completed"];

/**
 * Waits until the last update of service `name` has completed (`UpdateStatus.State`
 * "completed", started at or after `since`), failing with the engine's message when it is
 * paused or rolled back (its failure action). Resolves to the seconds since `since` (default:
 * the call; pass the time the update was sent).
 */
export async function waitForUpdateCompleted(name: string, timeoutMs: number, since = Date.now(), client: Docker = engine): Promise<number> {
    let failure: Error | undefined;
    let last = "no update status yet";
    await waitUntil(`the update of service ${name} to complete`, timeoutMs, async () => {
        const status = (await client.getService(name).inspect()).UpdateStatus as { State?: string; StartedAt?: string; Message?: string } | undefined;
        if (!status?.State) return undefined;
        // A status from an update before `since` (1 s of slack for the engine's clock).
        if (status.StartedAt && Date.parse(status.StartedAt) < since - 1_000) return undefined;
        last = `${status.State}: ${status.Message ?? ""}`;
        if (FAILED_UPDATE.includes(status.State)) {
            failure = new Error(`the update of service ${name} did not complete: ${last}`);
            return true;
        }
        return status.State === "completed" ? true : undefined;
    }).catch((err: Error) => {
        throw new Error(`${err.message} (last: ${last})`);
    });
    if (failure) throw failure;
    return (Date.now() - since) / 1000;
}

/**
 * Forces a rolling update of service `name` (`docker service update --force`, optionally
 * `--image`), sent with the service's current version; the update policy is the service's own
 * (`UpdateConfig`, e.g. `Order: "start-first"`). Resolves to the time it was sent, for
 * `waitForUpdateCompleted`.
 */
export async function forceUpdate(name: string, image?: string): Promise<number> {
    const service = engine.getService(name);
    const current = await service.inspect();
    const spec = JSON.parse(JSON.stringify(current.Spec)) as { TaskTemplate: { ForceUpdate?: number; ContainerSpec: { Image: string } } };
    spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
    if (image) spec.TaskTemplate.ContainerSpec.Image = image;
    const sent = Date.now();
    const result = (await service.update({ _query: { version: current.Version.Index }, _body: spec })) as { Warnings?: string[] | null };
    if (result?.Warnings?.length) process.stderr.write(`service update ${name}: ${result.Warnings.join("; ")}\n`);
    return sent;
}

/**
 * Kills the container of one running task of service `name` with SIGKILL (a crash, as the
 * orchestrator sees it: it starts a replacement), the task in slot `slot` when given, and waits
 * until the orchestrator no longer lists that task as running. Resolves to the id of the task
 * killed; time the recovery with `waitForConverged`, from before the call.
 */
export async function killTask(name: string, slot?: number): Promise<string> {
    const task = (await serviceTasks(name)).find((t) => isRunning(t) && (slot === undefined || t.Slot === slot));
    const containerId = task?.Status?.ContainerStatus?.ContainerID;
    if (!task?.ID || !containerId) throw new Error(`service ${name} has no running task${slot === undefined ? "" : ` in slot ${slot}`} to kill`);
    await engine.getContainer(containerId).kill({ signal: "SIGKILL" });
    // Until the orchestrator has seen the task fail, it still lists it as running, and a
    // `waitForConverged` right after would find nothing to wait for.
    await waitUntil(`task ${task.ID} of service ${name} to be seen as ended`, 30_000, async () => {
        const now = (await serviceTasks(name)).find((t) => t.ID === task.ID);
        return now && isRunning(now) ? undefined : true;
    });
    return task.ID;
}

/** A port of a task's container published on the node (`PublishMode: "host"`). */
export interface HostPort {
    /** The container's port and protocol, e.g. `3000/tcp`. */
    readonly containerPort: string;
    readonly hostIp: string;
    readonly hostPort: number;
}

/** The container of a running task. */
export interface TaskContainer {
    readonly taskId: string;
    readonly slot: number;
    readonly containerId: string;
    /** The container's name (`<service>.<slot>.<task id>`). */
    readonly name: string;
    /**
     * The ports published on the node, as the container's port bindings say (one binding per
     * address family: a port bound on 0.0.0.0 and on :: appears twice).
     */
    readonly ports: HostPort[];
    /** The container's address on each network it is on, by network name. */
    readonly addresses: Record<string, string>;
}

/** The containers of the running tasks of service `name`, by slot, with their published ports and addresses. */
export async function taskContainers(name: string): Promise<TaskContainer[]> {
    const running = (await serviceTasks(name)).filter((t) => isRunning(t) && t.Status.ContainerStatus?.ContainerID);
    const containers = await Promise.all(
        running.map(async (task): Promise<TaskContainer> => {
            const info = await engine.getContainer(task.Status.ContainerStatus!.ContainerID!).inspect();
            const ports = Object.entries(info.NetworkSettings.Ports ?? {}).flatMap(([containerPort, bindings]) =>
                (bindings ?? []).map((b) => ({ containerPort, hostIp: b.HostIp, hostPort: Number(b.HostPort) })),
            );
            const addresses = Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([network, n]) => [network, n.IPAddress]));
            return { taskId: task.ID, slot: task.Slot ?? 0, containerId: info.Id, name: info.Name.replace(/^\//, ""), ports, addresses };
        }),
    );
    return containers.sort((a, b) => a.slot - b.slot);
}

// ---------------------------------------------------------------------------------------------
// The load client

/** What `startLoad` runs. */
export interface LoadOptions {
    /** An attachable overlay network the service is on. */
    network: string;
    /** What to GET, by service name, e.g. `http://app:3000/health/live`. */
    url: string;
    /** An image with Node.js 18 or later; default `IMAGES.node`. */
    image?: string;
    /** At most this many requests (default 10 000). */
    maxRequests?: number;
    /** At most this long (default 300 s), stop or no stop. */
    maxSeconds?: number;
    /** One request every this many ms, or right after the previous one when that took longer (default 100). */
    intervalMs?: number;
    /** How long a request may take to answer (default 2 000 ms). */
    timeoutMs?: number;
    /** The engine the client runs on (default: the local one); it must have `image`. */
    engine?: Docker;
}

/** A failed request. */
export interface LoadFailure {
    /** When it was sent (ISO 8601) and how long after the start. */
    readonly at: string;
    readonly atSeconds: number;
    readonly error: string;
    /** The address the name resolved to, if it did. */
    readonly address: string | null;
}

/** The load client's account of its run. */
export interface LoadSummary {
    readonly url: string;
    readonly total: number;
    readonly ok: number;
    readonly failed: number;
    readonly seconds: number;
    /** Why it ended: `stop()`, or one of its bounds. */
    readonly stoppedBy: "stop" | "maxRequests" | "maxSeconds";
    readonly maxLatencyMs: number;
    readonly startedAt: string;
    /** The first 10 failures. */
    readonly failures: LoadFailure[];
    /** Every failure's message, counted. */
    readonly errors: Record<string, number>;
    /** The address each successful request was sent to (the name resolved anew each time), counted. */
    readonly addresses: Record<string, number>;
}

/** A load client under way. */
export interface Load {
    /** Its container's name. */
    readonly name: string;
    /** The requests it has sent so far, and how many of them failed (from its progress lines). */
    progress(): Promise<{ total: number; failed: number }>;
    /** Waits until it has sent `count` more requests than when called (up to `timeoutMs`). */
    waitForRequests(count: number, timeoutMs?: number): Promise<void>;
    /**
     * Ends the run (the request under way finishes), reads its summary from the container's
     * log and removes the container. Also when the run already ended at one of its bounds.
     */
    stop(): Promise<LoadSummary>;
}

const LOAD_SCRIPT = path.join(FIXTURES, "load-client", "load.js");

/**
 * Starts the load client (test/e2e/fixtures/load-client/load.js, run with `node -e`) in a
 * container labelled `LABEL` on `network`: GETs to `url` one after another, each on a new
 * connection after a new name lookup, so that with a `dnsrr` service every request goes to the
 * tasks the name resolves to at that moment. It ends by itself after `maxRequests` or
 * `maxSeconds`, whichever comes first; `stop()` ends it earlier.
 */
export async function startLoad(options: LoadOptions): Promise<Load> {
    const maxSeconds = options.maxSeconds ?? 300;
    const timeoutMs = options.timeoutMs ?? 2_000;
    const intervalMs = options.intervalMs ?? 100;
    const name = `sb-e2e-load-${crypto.randomBytes(4).toString("hex")}`;
    const container = await (options.engine ?? engine).createContainer({
        name,
        Image: options.image ?? IMAGES.node,
        Cmd: ["node", "-e", fs.readFileSync(LOAD_SCRIPT, "utf8")],
        Env: [
            `LOAD_URL=${options.url}`,
            `LOAD_MAX_REQUESTS=${options.maxRequests ?? 10_000}`,
            `LOAD_MAX_SECONDS=${maxSeconds}`,
            `LOAD_INTERVAL_MS=${intervalMs}`,
            `LOAD_TIMEOUT_MS=${timeoutMs}`,
            "LOAD_PROGRESS=1",
        ],
        User: "node",
        Labels: { [LABEL]: "swarm-load" },
        HostConfig: { NetworkMode: options.network, LogConfig: { Type: "json-file", Config: {} } },
    });
    try {
        await container.start();
    } catch (err) {
        await gone(container.remove({ force: true }));
        throw new Error(`starting the load client on ${options.network} failed: ${engineMessage(err)}`);
    }
    const progress = async () => {
        const log = demux(await container.logs({ stdout: true, stderr: false, tail: 5 }));
        const last = log.split("\n").filter((l) => l.startsWith("LOAD_PROGRESS ")).at(-1);
        const [total, failed] = (last ?? "LOAD_PROGRESS 0 0").split(" ").slice(1).map(Number);
        return { total, failed };
    };
    return {
        name,
        progress,
        waitForRequests: async (count, waitMs = 120_000) => {
            const start = (await progress()).total;
            await waitUntil(`the load client ${name} to send ${count} more requests`, waitMs, async () => ((await progress()).total - start >= count ? true : undefined));
        },
        stop: async () => {
            try {
                await container.kill({ signal: "SIGTERM" }).catch((err: EngineError) => {
                    if (err.statusCode !== 409) throw err; // 409: it already ended at a bound
                });
                // The request under way ends within its timeout; then the summary is printed.
                let timer: NodeJS.Timeout | undefined;
                const waited = await Promise.race([
                    container.wait().then(() => true),
                    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs + intervalMs + 15_000))),
                ]);
                clearTimeout(timer);
                const log = demux(await container.logs({ stdout: true, stderr: true, follow: false }));
                if (!waited) throw new Error(`the load client ${name} did not end after SIGTERM:\n${log.slice(-2000)}`);
                const line = log.split("\n").find((l) => l.startsWith("LOAD_SUMMARY "));
                if (!line) throw new Error(`the load client ${name} printed no summary:\n${log.slice(-2000)}`);
                return JSON.parse(line.slice("LOAD_SUMMARY ".length)) as LoadSummary;
            } finally {
                await gone(container.remove({ force: true }));
            }
        },
    };
}
