/**
 * A Docker Swarm of three engines on this machine, for the tests that need more than one host:
 * each node a container running its own `dockerd` (Debian's docker.io, test/e2e/fixtures/swarm-node),
 * on a bridge network of its own, one manager and two workers. The local engine only hosts the
 * node containers; it is not part of this swarm (during the e2e run it is a one-node swarm of its
 * own, which nothing here touches).
 *
 * What this machine allows, and so how the nodes are started (see the project's engine notes):
 * no `--privileged` (the machine's capability bounding set lacks CAP_SYS_RESOURCE), but every
 * other capability, no seccomp or AppArmor profile, unmasked system paths, every device, the
 * host's cgroup hierarchy; /var/lib/docker on a volume (overlay2 cannot sit on overlayfs). Each
 * node has a fixed address on the network (a node killed and started again comes back with it,
 * as a host would), and its engine also listens on a socket in a host folder bound into it, so
 * that the tests and the real-engine runner (which takes unix:// hosts only) can reach every
 * engine: the manager's is the stack's `dockerHost`.
 *
 * Images: a registry (Debian's docker-registry) that requires a login, run by the test support
 * on the network's gateway address, which every node's engine may reach without TLS
 * (`--insecure-registry`); the same store is also served on 127.0.0.1, where the local engine
 * pushes the stand-in images (an engine reaches a loopback registry without TLS by default).
 *
 * Everything it starts carries the label `LABEL`=swarm-cluster and the id of the process that
 * started it; `startCluster` first removes what a process that is gone left behind, and
 * `remove()` removes everything (node containers with their volumes, the network, the
 * registries, the sockets' folder), also after a failure.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import Docker from "dockerode";
import { LABEL, waitUntil } from "./docker";
import { engineMessage, gone } from "./engine";
import { ensureSwarmNodeImage, IMAGES } from "./images";
import { Registry, RegistryLogin, pushImage, startRegistry } from "./swarm";

/** The value of `LABEL` on everything a cluster starts. */
const CLUSTER = "swarm-cluster";
/** The label holding the id of the process that started a cluster's containers, network and volumes. */
const OWNER = `${LABEL}.owner-pid`;
/** The label of a cluster's network holding the host folder of its sockets. */
const FOLDER = `${LABEL}.folder`;
/** Where each node's engine listens besides its own /var/run/docker.sock: a folder of the host. */
const SOCKET_DIR = "/run/sb-host";

/** The local engine, which runs the node containers. */
const host = new Docker();

/** One node: its container on the local engine and its engine. */
export interface ClusterNode {
    /** `node1` (the manager), `node2`, `node3`: the node's host name, as `docker node ls` shows it. */
    readonly hostname: string;
    /** The node container's name on the local engine. */
    readonly container: string;
    /** Its fixed address on the cluster's network (the swarm's advertised address). */
    readonly address: string;
    /** `unix://<host folder>/docker.sock`: its engine, from this machine. */
    readonly dockerHost: string;
    /** A client of its engine. */
    readonly engine: Docker;
    readonly role: "manager" | "worker";
    /** Its swarm node id. */
    nodeId: string;
}

/** A three-node swarm started by `startCluster`. */
export interface SwarmCluster {
    /** A short id in every name it gives. */
    readonly id: string;
    readonly nodes: readonly ClusterNode[];
    readonly manager: ClusterNode;
    /** The bridge network the nodes are on, and its gateway (this machine, where the registry listens). */
    readonly network: string;
    readonly gateway: string;
    /** The registry as the nodes reach it (`<gateway>:<port>`): image references the stack runs start with it. */
    readonly registry: Registry;
    /** The same store on 127.0.0.1, where the local engine pushes. */
    readonly localRegistry: Registry;
    /** The registry's user. */
    readonly login: RegistryLogin;
    /** The node a task or node id names. */
    node(nodeId: string): ClusterNode;
    /**
     * Pushes a local image to the registry from this machine (as `repository:tag`), and resolves
     * to the reference the nodes pull it by (`<gateway>:<port>/repository:tag`).
     */
    push(image: string, repository: string, tag: string): Promise<string>;
    /** Has `node` pull `reference` from the registry with the login, and tags it `tag` there when given. */
    pull(node: ClusterNode, reference: string, tag?: string): Promise<void>;
    /** `docker node update --label-add key=value` on the node, through the manager. */
    setLabel(node: ClusterNode, key: string, value: string): Promise<void>;
    /** `docker node update --availability` through the manager. */
    setAvailability(node: ClusterNode, availability: "active" | "drain" | "pause"): Promise<void>;
    /** The node's state as the manager sees it (`ready`, `down`, `unknown`, ...). */
    nodeState(node: ClusterNode): Promise<string>;
    /** Waits until the manager sees the node in `state`; resolves to the seconds it took. */
    waitForNodeState(node: ClusterNode, state: "ready" | "down", timeoutMs: number): Promise<number>;
    /** `docker kill` of the node's container: its engine and every task on it end at once, as in a host's power cut. */
    kill(node: ClusterNode): Promise<void>;
    /** Starts a killed node's container again (same address, same /var/lib/docker) and waits until its engine answers. */
    start(node: ClusterNode): Promise<void>;
    /** Removes everything the cluster started; safe to call more than once, and after a partial start. */
    remove(): Promise<void>;
}

/** What `startCluster` reports as it goes. */
export type ClusterLog = (line: string) => void;

/**
 * Starts three nodes, makes the first a swarm manager (advertising its address on the network)
 * and joins the two others as workers, with a registry they reach. Resolves once every node is
 * ready. On failure, whatever was started is removed before the error is thrown.
 */
export async function startCluster(log: ClusterLog = () => undefined): Promise<SwarmCluster> {
    const started = Date.now();
    await ensureSwarmNodeImage();
    await removeLeftoverClusters();
    const id = crypto.randomBytes(3).toString("hex");
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), `sb-e2e-cluster-${id}-`));
    const labels = { [LABEL]: CLUSTER, [OWNER]: String(process.pid) };
    const network = `sb-e2e-cluster-${id}`;
    const login: RegistryLogin = { username: "sb-e2e", password: crypto.randomBytes(18).toString("base64url") };
    const made: { registries: Registry[]; containers: string[]; volumes: string[]; network?: string } = { registries: [], containers: [], volumes: [] };
    const remove = async () => {
        const results = await Promise.allSettled(made.containers.map((c) => gone(host.getContainer(c).remove({ force: true, v: true }))));
        for (const v of made.volumes) results.push(...(await Promise.allSettled([gone(host.getVolume(v).remove())])));
        if (made.network) results.push(...(await Promise.allSettled([gone(host.getNetwork(made.network).remove())])));
        for (const r of made.registries) results.push(...(await Promise.allSettled([r.stop()])));
        fs.rmSync(folder, { recursive: true, force: true });
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        made.containers = [];
        made.volumes = [];
        made.network = undefined;
        made.registries = [];
        if (failed.length > 0) throw new Error(`removing the test swarm ${id}: ${failed.map((f) => engineMessage(f.reason)).join("; ")}`);
    };
    try {
        const { subnet, gateway } = await createNetwork(network, { ...labels, [FOLDER]: folder });
        made.network = network;
        const registry = await startRegistry({ host: gateway, login });
        made.registries.push(registry);
        const localRegistry = await startRegistry({ login, storage: registry.storage });
        made.registries.unshift(localRegistry);

        const base = subnet.split("/")[0].split(".").slice(0, 3).join(".");
        const nodes: ClusterNode[] = [1, 2, 3].map((n) => {
            const dir = path.join(folder, `node${n}`);
            fs.mkdirSync(dir);
            return {
                hostname: `node${n}`,
                container: `sb-e2e-cluster-${id}-node${n}`,
                address: `${base}.${10 + n}`,
                dockerHost: `unix://${path.join(dir, "docker.sock")}`,
                engine: new Docker({ socketPath: path.join(dir, "docker.sock") }),
                role: n === 1 ? "manager" : "worker",
                nodeId: "",
            };
        });
        await Promise.all(
            nodes.map(async (node) => {
                const volume = `${node.container}-docker`;
                await host.createVolume({ Name: volume, Labels: labels });
                made.volumes.push(volume);
                await startNode(node, { network, volume, folder: path.dirname(node.dockerHost.slice("unix://".length)), registry: registry.address, labels });
                made.containers.push(node.container);
            }),
        );
        await Promise.all(nodes.map((node) => waitForEngine(node, 60_000)));
        log(`three engines (dockerd ${(await nodes[0].engine.version()).Version}) answering ${((Date.now() - started) / 1000).toFixed(1)} s after the start`);

        const [manager, ...workers] = nodes;
        // The nodes' overlay networks take their subnets from a pool of their own, away from the
        // local engine's swarm (10.0.0.0/8 by default), so that addresses in logs say which swarm.
        manager.nodeId = await manager.engine.swarmInit({
            ListenAddr: `${manager.address}:2377`,
            AdvertiseAddr: manager.address,
            DefaultAddrPool: ["10.231.0.0/16"],
            SubnetSize: 24,
        });
        const token = ((await manager.engine.swarmInspect()) as { JoinTokens: { Worker: string } }).JoinTokens.Worker;
        for (const worker of workers) {
            await worker.engine.swarmJoin({ ListenAddr: `${worker.address}:2377`, AdvertiseAddr: worker.address, RemoteAddrs: [`${manager.address}:2377`], JoinToken: token });
            worker.nodeId = ((await worker.engine.info()).Swarm as { NodeID: string }).NodeID;
        }
        const cluster = clusterOf({ id, nodes, network, gateway, registry, localRegistry, login, remove });
        await Promise.all(nodes.map((node) => cluster.waitForNodeState(node, "ready", 60_000)));
        log(`a swarm of one manager and two workers ready ${((Date.now() - started) / 1000).toFixed(1)} s after the start`);
        return cluster;
    } catch (err) {
        await remove().catch(() => undefined);
        throw err;
    }
}

function clusterOf(parts: {
    id: string;
    nodes: ClusterNode[];
    network: string;
    gateway: string;
    registry: Registry;
    localRegistry: Registry;
    login: RegistryLogin;
    remove: () => Promise<void>;
}): SwarmCluster {
    const { nodes, registry, localRegistry, login } = parts;
    const manager = nodes[0];
    const auth = { username: login.username, password: login.password, serveraddress: registry.address };
    const updateNode = async (node: ClusterNode, change: (spec: { Labels?: Record<string, string>; Availability?: string } & Record<string, unknown>) => void) => {
        for (let attempt = 1; ; attempt++) {
            const current = await manager.engine.getNode(node.nodeId).inspect();
            const spec = JSON.parse(JSON.stringify(current.Spec));
            change(spec);
            try {
                await manager.engine.getNode(node.nodeId).update({ _query: { version: current.Version.Index }, _body: spec });
                return;
            } catch (err) {
                if (attempt >= 5 || !/out of sequence/i.test(engineMessage(err))) throw new Error(`node update of ${node.hostname} failed: ${engineMessage(err)}`);
            }
        }
    };
    const nodeState = async (node: ClusterNode) => ((await manager.engine.getNode(node.nodeId).inspect()).Status?.State as string | undefined) ?? "unknown";
    return {
        id: parts.id,
        nodes,
        manager,
        network: parts.network,
        gateway: parts.gateway,
        registry,
        localRegistry,
        login,
        node(nodeId: string) {
            const node = nodes.find((n) => n.nodeId === nodeId);
            if (!node) throw new Error(`no node of the test swarm has the id ${nodeId}`);
            return node;
        },
        async push(image, repository, tag) {
            await pushImage(image, localRegistry.address, repository, tag, login);
            return `${registry.address}/${repository}:${tag}`;
        },
        async pull(node, reference, tag) {
            const stream: NodeJS.ReadableStream = await node.engine.pull(reference, { authconfig: auth });
            const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
                node.engine.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => (err ? reject(err) : resolve(output))),
            );
            const failed = events.find((e) => e.error);
            if (failed) throw new Error(`${node.hostname}: pulling ${reference} failed: ${failed.error}`);
            if (tag) {
                const at = tag.lastIndexOf(":");
                await node.engine.getImage(reference).tag({ repo: tag.slice(0, at), tag: tag.slice(at + 1) });
            }
        },
        setLabel: (node, key, value) => updateNode(node, (spec) => void (spec.Labels = { ...(spec.Labels ?? {}), [key]: value })),
        setAvailability: (node, availability) => updateNode(node, (spec) => void (spec.Availability = availability)),
        nodeState,
        async waitForNodeState(node, state, timeoutMs) {
            const since = Date.now();
            let last = "";
            await waitUntil(`${node.hostname} to be ${state}`, timeoutMs, async () => {
                last = await nodeState(node);
                return last === state ? true : undefined;
            }).catch((err: Error) => {
                throw new Error(`${err.message} (last seen ${last})`);
            });
            return (Date.now() - since) / 1000;
        },
        async kill(node) {
            await host.getContainer(node.container).kill({ signal: "SIGKILL" });
        },
        async start(node) {
            await host.getContainer(node.container).start();
            await waitForEngine(node, 60_000);
        },
        remove: parts.remove,
    };
}

/**
 * Creates the cluster's bridge network with a subnet stated, so that each node can be given a
 * fixed address (Docker takes `--ip` only on such networks): the subnet is the one the engine
 * picks from its pools for a network without one, which is then made again with it stated.
 */
async function createNetwork(name: string, labels: Record<string, string>): Promise<{ subnet: string; gateway: string }> {
    for (let attempt = 1; ; attempt++) {
        const probe = await host.createNetwork({ Name: name, Driver: "bridge", Labels: labels, CheckDuplicate: true });
        const ipam = (await probe.inspect()).IPAM!.Config![0] as { Subnet: string; Gateway: string };
        await probe.remove();
        try {
            await host.createNetwork({ Name: name, Driver: "bridge", Labels: labels, CheckDuplicate: true, IPAM: { Driver: "default", Config: [{ Subnet: ipam.Subnet, Gateway: ipam.Gateway }] } });
            return { subnet: ipam.Subnet, gateway: ipam.Gateway };
        } catch (err) {
            // Another network took the subnet in between.
            if (attempt >= 3 || !/overlap/i.test(engineMessage(err))) throw err;
        }
    }
}

/**
 * Starts one node container: `dockerd` on its own socket and on one in `folder` (bound from this
 * machine), allowed to reach `registry` without TLS, with what an engine in a container needs here.
 */
async function startNode(node: ClusterNode, options: { network: string; volume: string; folder: string; registry: string; labels: Record<string, string> }): Promise<void> {
    const container = await host.createContainer({
        name: node.container,
        Hostname: node.hostname,
        Image: IMAGES.swarmNode,
        Cmd: ["dockerd", "--host=unix:///var/run/docker.sock", `--host=unix://${SOCKET_DIR}/docker.sock`, `--insecure-registry=${options.registry}`, "--storage-driver=overlay2", "--log-level=warn"],
        Labels: options.labels,
        HostConfig: {
            NetworkMode: options.network,
            CapAdd: ["ALL"],
            CapDrop: ["SYS_RESOURCE"],
            SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
            // `--security-opt systempaths=unconfined`, as the CLI sends it: nothing masked or read-only under /proc and /sys.
            MaskedPaths: [],
            ReadonlyPaths: [],
            DeviceCgroupRules: ["a *:* rwm"],
            CgroupnsMode: "host",
            Binds: ["/sys/fs/cgroup:/sys/fs/cgroup:rw", `${options.folder}:${SOCKET_DIR}:rw`],
            Mounts: [{ Type: "volume", Source: options.volume, Target: "/var/lib/docker" }],
            LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
        },
        NetworkingConfig: { EndpointsConfig: { [options.network]: { IPAMConfig: { IPv4Address: node.address } } } },
    } as Docker.ContainerCreateOptions);
    await container.start();
}

/** Waits until a node's engine answers on its socket in the host folder. */
async function waitForEngine(node: ClusterNode, timeoutMs: number): Promise<void> {
    await waitUntil(`the engine of ${node.hostname} to answer`, timeoutMs, async () => {
        const state = (await host.getContainer(node.container).inspect()).State;
        if (!state.Running) throw new Error(`its container is ${state.Status} (exit code ${state.ExitCode})`);
        await node.engine.ping();
        return true;
    });
}

/**
 * Removes the clusters whose process is gone (an interrupted run): their node containers with
 * their volumes, their networks and socket folders. A live process's cluster is left alone.
 */
async function removeLeftoverClusters(): Promise<void> {
    const filters = { label: [`${LABEL}=${CLUSTER}`] };
    const dead = (labels: Record<string, string> | undefined) => !alive(Number(labels?.[OWNER] ?? 0));
    for (const c of await host.listContainers({ all: true, filters })) if (dead(c.Labels)) await gone(host.getContainer(c.Id).remove({ force: true, v: true }));
    for (const v of (await host.listVolumes({ filters })).Volumes ?? []) if (dead(v.Labels ?? undefined)) await gone(host.getVolume(v.Name).remove());
    for (const n of await host.listNetworks({ filters })) {
        if (!dead(n.Labels)) continue;
        await gone(host.getNetwork(n.Id).remove());
        const folder = n.Labels?.[FOLDER];
        if (folder && path.basename(folder).startsWith("sb-e2e-cluster-")) fs.rmSync(folder, { recursive: true, force: true });
    }
}

function alive(pid: number): boolean {
    if (!(pid > 0)) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}
