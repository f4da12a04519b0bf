/**
 * More than one host: the swarm stack as the program declares it (index.ts with
 * Pulumi.swarm.yaml) on a Docker Swarm of three engines on this machine, one manager and two
 * workers, each a container running its own dockerd (test/e2e/support/swarmCluster.ts), brought
 * up by the real-engine runner through the manager's socket. The stack's config changes only in
 * what this machine needs (dnsrr and host-mode publishing: no IPVS) and its registry: the
 * support's, on the nodes' network gateway, with a login, which every node pulls with the
 * credentials the services carry (`auth`). The second worker is the data node.
 *
 * Then what happens to a swarm's hosts, each measured with a client on the manager sending
 * requests to `app` through the overlay network the whole time (the load client of swarm.ts,
 * resolving the name for every request): a worker killed (its node container), and a worker
 * drained. Last, the data node lost and brought back: no stateful service starts elsewhere on an
 * empty volume, the app says its stores are gone, and everything is back, data included, when the
 * node returns.
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import crypto from "crypto";
import path from "path";
import Docker from "dockerode";
import { TYPES } from "../support/program";
import { engineAnswers, LABEL, waitUntil } from "./support/docker";
import { bringUp, DeclaredStack, describePlan, preview, update } from "./support/declaredStack";
import { demux, gone } from "./support/engine";
import { IMAGES, JUPYTER_STANDIN } from "./support/images";
import { exec, expectSecretsHidden } from "./support/stackChecks";
import { LoadSummary, manifestExists, serviceTasks, startLoad, SwarmTask, waitForConverged } from "./support/swarm";
import { ClusterNode, startCluster, SwarmCluster } from "./support/swarmCluster";

const engine = engineAnswers();
if (!engine.ok) console.warn(`e2e: skipping the three-node swarm, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
const describeWithEngine = engine.ok ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`three-node swarm: ${line}\n`);
const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

const STACK = "swarm";
const DATA_NODE_LABEL = "org.smartbuilding.data";
const NETWORK = "swarm-sb-network";
const APP = "swarm-sb-app";
const STORES = ["swarm-jupyter", "swarm-sb-elasticsearch", "swarm-sb-mysql"];
/**
 * The backups' services. When the data node comes back, each backup task starts with its store,
 * not after it as on a first `up` (where it waits for the store's service): its backup at start
 * can fail (MySQL's name not resolving yet), and its health check (healthy only once a backup
 * succeeded; a 10 min start period) keeps it "starting", which Swarm does not count as running,
 * until it turns unhealthy and is replaced, or the next backup an interval later. So the suite
 * checks where they run after the node's return, not that they converge.
 */
const BACKUPS = ["swarm-jupyter-backup", "swarm-sb-elasticsearch-backup", "swarm-sb-mysql-backup"];
const STATEFUL = [...STORES, ...BACKUPS].sort();

const secret = () => crypto.randomBytes(24).toString("base64url");

describeWithEngine(`the swarm stack on a swarm of three engines (${engine.reason})`, () => {
    let cluster: SwarmCluster | undefined;
    let swarm: DeclaredStack | undefined;
    let config: Record<string, unknown>;
    /** The data node (the first worker) and the other worker. */
    let dataNode: ClusterNode;
    let worker: ClusterNode;

    beforeAll(async () => {
        cluster = await startCluster(log);
        const c = cluster;
        [, dataNode, worker] = c.nodes;
        // The stand-ins the stack pulls go to the registry, from where the data node pulls them
        // for its services; the Node.js base too, which each node pulls (the manager builds the app
        // on it, the load client and the probes run it).
        const since = Date.now();
        const [node, mysql, elasticsearch, jupyter] = await Promise.all([
            c.push(IMAGES.node, "sb-e2e/node", "bookworm"),
            c.push(IMAGES.mysql, "sb-e2e/mysql-standin", "5.7"),
            c.push(IMAGES.elasticsearch, "sb-e2e/elasticsearch-standin", "7"),
            c.push(IMAGES.jupyter, JUPYTER_STANDIN.repository, JUPYTER_STANDIN.tag),
        ]);
        log(`the stand-ins pushed to the registry in ${seconds(since)} s`);
        await Promise.all(c.nodes.map((n) => c.pull(n, node, IMAGES.node)));
        log(`the Node.js base pulled by the three nodes ${seconds(since)} s after the pushes began`);
        await c.setLabel(dataNode, DATA_NODE_LABEL, "true");
        config = {
            dockerHost: c.manager.dockerHost,
            swarmEndpointMode: "dnsrr",
            swarmPublishMode: "host",
            registryServer: c.registry.address,
            registryUsername: c.login.username,
            registryPassword: c.login.password,
            mysqlImage: mysql,
            elasticsearchImage: elasticsearch,
            jupyterImage: jupyter.replace(/:[^:/]+$/, ""),
            jupyterTag: JUPYTER_STANDIN.tag,
            mysqlRootPassword: secret(),
            mysqlPassword: secret(),
            jupyterToken: secret(),
        };
        const journal = path.join(path.dirname(c.manager.dockerHost.slice("unix://".length)), "..", "runner-journal.json");
        swarm = await bringUp(STACK, config, log, journal);
        log(`the stack converged from nothing on three nodes in ${swarm.seconds.toFixed(1)} s`);
    }, 900_000);

    afterAll(async () => {
        // The nodes go with everything on them: the stack's services, volumes and images.
        await cluster?.remove();
    }, 300_000);

    // -----------------------------------------------------------------------------------------
    // (1) The swarm

    it("is one manager and two workers, each ready, on addresses of their own", async () => {
        const nodes = await cluster!.manager.engine.listNodes();
        const seen = nodes
            .map((n) => ({ host: n.Description?.Hostname, role: n.Spec?.Role, state: n.Status?.State, addr: n.Status?.Addr }))
            .sort((a, b) => String(a.host).localeCompare(String(b.host)));
        expect(seen).toEqual(cluster!.nodes.map((n) => ({ host: n.hostname, role: n.role, state: "ready", addr: n.address })));
    });

    it("carries HTTP between containers on different nodes over an attachable overlay network", async () => {
        const c = cluster!;
        const network = `sb-e2e-probe-${crypto.randomBytes(3).toString("hex")}`;
        await c.manager.engine.createNetwork({ Name: network, Driver: "overlay", Attachable: true, Labels: { [LABEL]: "swarm-cluster" }, CheckDuplicate: true });
        const servers: Docker.Container[] = [];
        try {
            for (const node of c.nodes) {
                const server = await node.engine.createContainer({
                    name: `probe-${node.hostname}`,
                    Image: IMAGES.node,
                    User: "node",
                    Cmd: ["node", "-e", `require("http").createServer((q, s) => s.end(require("os").hostname())).listen(8080)`],
                    Hostname: `answered-by-${node.hostname}`,
                    HostConfig: { NetworkMode: network },
                });
                await server.start();
                servers.push(server);
            }
            // From each node, every other node's server, by its container name.
            const answers: string[] = [];
            for (const client of c.nodes) {
                for (const target of c.nodes.filter((n) => n !== client)) {
                    answers.push(`${client.hostname} -> ${await fetchOnNode(client, network, `http://probe-${target.hostname}:8080/`)}`);
                }
            }
            expect(answers).toEqual([
                "node1 -> answered-by-node2",
                "node1 -> answered-by-node3",
                "node2 -> answered-by-node1",
                "node2 -> answered-by-node3",
                "node3 -> answered-by-node1",
                "node3 -> answered-by-node2",
            ]);
        } finally {
            for (const s of servers) await gone(s.remove({ force: true }));
            // The network leaves a node once its last container there is gone; then the manager removes it.
            await waitUntil(`removing the probe network ${network}`, 60_000, async () => {
                await gone(c.manager.engine.getNetwork(network).remove());
                return true;
            });
        }
    });

    // -----------------------------------------------------------------------------------------
    // (2) The stack on it

    it("converges every service, the stateful ones on the data node only and the app's tasks on different nodes", async () => {
        const c = cluster!;
        const placed = await tasksPerNode(c);
        log(`tasks per node: ${describePlacement(placed)}`);
        for (const name of STATEFUL) expect({ name, nodes: placed.get(name) }).toEqual({ name, nodes: [dataNode.hostname] });
        const app = placed.get(APP) ?? [];
        expect(app).toHaveLength(2);
        expect(new Set(app).size).toBe(2);
        // Every task healthy, on whichever node it runs.
        for (const name of [...STATEFUL, APP]) {
            for (const t of await runningTasks(c, name)) {
                const state = (await c.node(t.NodeID!).engine.getContainer(t.Status.ContainerStatus!.ContainerID!).inspect()).State;
                expect({ name, health: state.Health?.Status }).toEqual({ name, health: "healthy" });
            }
        }
    });

    it("plans no update and no replacement on a second run with the same config, as pulumi preview --expect-no-changes", async () => {
        expect(describePlan(await preview(swarm!, config, log))).toEqual([]);
    }, 300_000);

    it("answers through the overlay network from the manager, every app task with both stores up", async () => {
        const c = cluster!;
        const addresses = (await runningTasks(c, APP)).map((t) => overlayAddress(t));
        const answered = new Set<string>();
        for (let i = 0; i < 40 && answered.size < addresses.length; i++) {
            const health = JSON.parse(await fetchOnNode(c.manager, NETWORK, "http://app:3000/health", true));
            expect(health).toMatchObject({ status: "ok", mysql: { up: true }, elasticsearch: { up: true } });
            answered.add(health.address);
        }
        expect([...answered].sort()).toEqual([...addresses].sort());
    });

    // -----------------------------------------------------------------------------------------
    // (3) The registry's login

    it("pushes the app image once and every node that runs it pulls it from the registry with the services' login", async () => {
        const c = cluster!;
        const image = String(swarm!.run.resources.find((r) => r.name === "app-service")!.inputs.taskSpec.containerSpec.image);
        const [repository, digest] = image.slice(c.registry.address.length + 1).split("@");
        expect(image.startsWith(`${c.registry.address}/smartbuildingapp@sha256:`)).toBe(true);
        expect(await manifestExists(c.localRegistry.address, repository, digest, c.login)).toBe(true);
        // The registry refuses anyone without the login.
        expect(await manifestExists(c.localRegistry.address, repository, digest).catch((err: Error) => err.message)).toMatch(/HTTP 401/);
        const appNodes = (await runningTasks(c, APP)).map((t) => c.node(t.NodeID!));
        expect(appNodes.some((n) => n.role === "worker")).toBe(true);
        for (const node of appNodes) {
            const pulled = await node.engine.getImage(image).inspect();
            expect(pulled.RepoDigests).toContain(image);
        }
        // The services that run the registry's images carry its login; the password is a secret of the state.
        const auths = swarm!.run.resources.filter((r) => r.type === TYPES.service).map((r) => ({ name: r.name, auth: r.inputs.auth?.serverAddress, secret: r.secretInputs.has("auth") }));
        expect(auths.every((a) => a.auth === c.registry.address && a.secret)).toBe(true);
    });

    it("shows the registry password nowhere on any node: no service spec, task container environment, label, command line or log", async () => {
        const c = cluster!;
        for (const service of await c.manager.engine.listServices()) expect(JSON.stringify(service)).not.toContain(c.login.password);
        for (const node of c.nodes) {
            await expectSecretsHidden({ stack: STACK, outputs: swarm!.outputs, docker: node.engine }, [c.login.password, String(config.mysqlPassword), String(config.jupyterToken)]);
        }
        // The app reads MySQL's password from its secret file, on whichever node it runs.
        const [task] = await runningTasks(c, APP);
        const app = { ...swarm!, docker: c.node(task.NodeID!).engine };
        expect(await exec(app, task.Status.ContainerStatus!.ContainerID!, ["stat", "-c", "%u %a", "/run/secrets/mysql_password"])).toBe("1000 400");
    });

    // -----------------------------------------------------------------------------------------
    // (4) Hosts lost and drained

    it("runs the app's replicas again after a worker is killed, counting the requests that failed meanwhile", async () => {
        const c = cluster!;
        const before = await runningTasks(c, APP);
        expect(before.map((t) => c.node(t.NodeID!))).toContain(worker);
        const load = await startLoad({ engine: c.manager.engine, network: NETWORK, url: "http://app:3000/health/live", intervalMs: 100, maxSeconds: 600 });
        let summary: LoadSummary | undefined;
        try {
            await load.waitForRequests(20);
            const killed = Date.now();
            await c.kill(worker);
            const down = await c.waitForNodeState(worker, "down", 120_000);
            const recovered = await waitForConverged(APP, 2, 180_000, killed, c.manager.engine);
            const after = await runningTasks(c, APP);
            expect(after.map((t) => c.node(t.NodeID!))).not.toContain(worker);
            // A few more seconds of requests to the tasks that run now.
            await load.waitForRequests(30);
            summary = await load.stop();
            log(
                `worker ${worker.hostname} killed: seen down after ${down.toFixed(1)} s, the app's 2 replicas running again after ${recovered.toFixed(1)} s; ` +
                    `${summary.failed} failed of ${summary.total} requests (${JSON.stringify(summary.errors)}); tasks per node now: ${describePlacement(await tasksPerNode(c))}`,
            );
            expect(summary.total).toBeGreaterThan(50);
            expect(summary.ok).toBeGreaterThan(0);
        } finally {
            if (!summary) await load.stop().catch(() => undefined);
            await c.start(worker);
            await c.waitForNodeState(worker, "ready", 120_000);
        }
    });

    it("scales the app onto the worker that came back, through the program", async () => {
        const c = cluster!;
        const since = Date.now();
        config = { ...config, appReplicas: 3 };
        swarm = await update(swarm!, config, log);
        expect(swarm.engine.lastRun.get("app-service")).toBe("updated");
        await waitForConverged(APP, 3, 180_000, since, c.manager.engine);
        const app = (await tasksPerNode(c)).get(APP) ?? [];
        log(`the app scaled to 3 replicas in ${seconds(since)} s: ${app.join(", ")}`);
        expect([...app].sort()).toEqual(c.nodes.map((n) => n.hostname));
    });

    it("moves the tasks off a drained worker, which is left empty, with no failed request", async () => {
        const c = cluster!;
        const load = await startLoad({ engine: c.manager.engine, network: NETWORK, url: "http://app:3000/health/live", intervalMs: 100, maxSeconds: 600 });
        let summary: LoadSummary | undefined;
        try {
            await load.waitForRequests(20);
            const since = Date.now();
            await c.setAvailability(worker, "drain");
            await waitUntil(`${worker.hostname} to have no task running`, 120_000, async () => ((await worker.engine.listContainers()).length === 0 ? true : undefined));
            const emptied = (Date.now() - since) / 1000;
            const moved = await waitForConverged(APP, 3, 180_000, since, c.manager.engine);
            await load.waitForRequests(30);
            summary = await load.stop();
            const placed = await tasksPerNode(c);
            log(
                `worker ${worker.hostname} drained: empty after ${emptied.toFixed(1)} s, the app's 3 replicas running elsewhere after ${moved.toFixed(1)} s; ` +
                    `${summary.failed} failed of ${summary.total} requests (${JSON.stringify(summary.errors)}); tasks per node now: ${describePlacement(placed)}`,
            );
            expect(placed.get(APP)).not.toContain(worker.hostname);
            expect(summary.total).toBeGreaterThan(50);
            expect(summary).toMatchObject({ failed: 0 });
        } finally {
            if (!summary) await load.stop().catch(() => undefined);
            await c.setAvailability(worker, "active");
        }
    });

    // -----------------------------------------------------------------------------------------
    // (5) The data node lost

    it("starts no stateful service elsewhere when the data node is lost, answers 503 meanwhile, and has its stores back with their data when the node returns", async () => {
        const c = cluster!;
        const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
        await mysqlAsUser(c, swarm!, `CREATE TABLE ${table} (note VARCHAR(200)); INSERT INTO ${table} VALUES ('before the data node was lost');`);
        const killed = Date.now();
        await c.kill(dataNode);
        try {
            const down = await c.waitForNodeState(dataNode, "down", 120_000);
            // Each stateful service wants its task back, and no node but the data node may run it: it waits.
            await waitUntil("every stateful service to wait for a suitable node", 120_000, async () => {
                for (const name of STATEFUL) {
                    const wanted = (await serviceTasks(name, c.manager.engine)).filter((t) => t.DesiredState === "running");
                    if (!wanted.some((t) => t.Status.State === "pending")) return undefined;
                }
                return true;
            });
            const placed = await tasksPerNode(c);
            for (const name of STATEFUL) expect({ name, running: placed.get(name) }).toEqual({ name, running: [] });
            const pending = (await serviceTasks("swarm-sb-mysql", c.manager.engine)).find((t) => t.DesiredState === "running" && t.Status.State === "pending")!;
            // The app runs its replicas on the other nodes, and says the stores are gone.
            await waitForConverged(APP, 3, 180_000, killed, c.manager.engine);
            const unavailable = await waitUntil("the app to answer 503 without its stores", 120_000, async () => {
                const health = JSON.parse(await fetchOnNode(c.manager, NETWORK, "http://app:3000/health", true));
                return health.status === "unavailable" ? health : undefined;
            });
            expect(unavailable).toMatchObject({ mysql: { up: false }, elasticsearch: { up: false } });
            log(`data node ${dataNode.hostname} killed: seen down after ${down.toFixed(1)} s; MySQL's task ${pending.Status.State} ("${pending.Status.Err ?? pending.Status.Message}"), the app answering 503`);
        } finally {
            await c.start(dataNode);
        }
        const back = Date.now();
        await c.waitForNodeState(dataNode, "ready", 120_000);
        for (const name of STORES) await waitForConverged(name, 1, 240_000, back, c.manager.engine);
        const returned = (Date.now() - back) / 1000;
        for (const name of STORES) expect({ name, nodes: (await tasksPerNode(c)).get(name) }).toEqual({ name, nodes: [dataNode.hostname] });
        expect(await mysqlAsUser(c, swarm!, `SELECT note FROM ${table};`)).toContain("before the data node was lost");
        // The backups start on the data node too, all at once with their stores: see BACKUPS.
        const backups = await Promise.all(
            BACKUPS.map(async (name) => {
                const [task] = (await serviceTasks(name, c.manager.engine)).filter((t) => t.DesiredState === "running");
                return { name, node: task && c.node(task.NodeID!).hostname, state: task?.Status.State };
            }),
        );
        for (const b of backups) expect({ name: b.name, node: b.node }).toEqual({ name: b.name, node: dataNode.hostname });
        log(`the backups on ${dataNode.hostname} again: ${backups.map((b) => `${b.name} ${b.state}`).join(", ")}`);
        await waitUntil("the app to answer 200 with both stores", 120_000, async () => {
            const health = JSON.parse(await fetchOnNode(c.manager, NETWORK, "http://app:3000/health", true));
            return health.status === "ok" ? true : undefined;
        });
        log(`data node ${dataNode.hostname} back: MySQL, Elasticsearch and Jupyter running there again, on their volumes, ${returned.toFixed(1)} s after its start; the app answering 200 ${seconds(back)} s after`);
    });
});

/** Runs SQL in the MySQL task, on whichever node it runs, as the application user (the password handed to this one exec only). */
async function mysqlAsUser(c: SwarmCluster, stack: DeclaredStack, sql: string): Promise<string> {
    const [task] = await runningTasks(c, "swarm-sb-mysql");
    const { mysqlUser, mysqlDatabase, mysqlPassword } = stack.outputs;
    return exec({ ...stack, docker: c.node(task.NodeID!).engine }, task.Status.ContainerStatus!.ContainerID!, ["mysql", "--host=127.0.0.1", "--protocol=tcp", `--user=${mysqlUser}`, `--database=${mysqlDatabase}`, `--execute=${sql}`], [
        `MYSQL_PWD=${mysqlPassword}`,
    ]);
}

/** The tasks of a service that run (with a health check: healthy), as the manager lists them. */
async function runningTasks(c: SwarmCluster, service: string): Promise<SwarmTask[]> {
    return (await serviceTasks(service, c.manager.engine)).filter((t) => t.DesiredState === "running" && t.Status.State === "running");
}

/** The host name of the node of each running task, by service. */
async function tasksPerNode(c: SwarmCluster): Promise<Map<string, string[]>> {
    const placed = new Map<string, string[]>();
    for (const service of await c.manager.engine.listServices()) {
        const name = service.Spec!.Name!;
        placed.set(name, (await runningTasks(c, name)).map((t) => c.node(t.NodeID!).hostname).sort());
    }
    return placed;
}

/** "node1: swarm-sb-app; node2: ..." */
function describePlacement(placed: Map<string, string[]>): string {
    const byNode = new Map<string, string[]>();
    for (const [service, nodes] of placed) for (const node of nodes) byNode.set(node, [...(byNode.get(node) ?? []), service]);
    return [...byNode.keys()]
        .sort()
        .map((node) => `${node}: ${byNode.get(node)!.sort().join(", ")}`)
        .join("; ");
}

/** A task's address on the stack's overlay network. */
function overlayAddress(task: SwarmTask): string {
    const attachment = ((task as unknown as { NetworksAttachments?: { Network: { Spec: { Name: string } }; Addresses: string[] }[] }).NetworksAttachments ?? []).find(
        (a) => a.Network.Spec.Name === NETWORK,
    );
    if (!attachment) throw new Error(`task ${task.ID} is not on ${NETWORK}`);
    return attachment.Addresses[0].split("/")[0];
}

/**
 * GETs `url` from a throwaway container on `node`, on `network`; resolves to the body, or to the
 * error. With `withAddress`, the body must be JSON and gets the address that answered as `address`.
 */
async function fetchOnNode(node: ClusterNode, network: string, url: string, withAddress = false): Promise<string> {
    const script = withAddress
        ? `const u = new URL(${JSON.stringify(url)}); require("dns").promises.lookup(u.hostname).then(({ address }) => fetch(u.href.replace(u.hostname, address), { signal: AbortSignal.timeout(10000) }).then(r => r.json()).then(j => process.stdout.write(JSON.stringify({ ...j, address })))).catch(e => { process.stdout.write("error: " + e.message); process.exit(1); })`
        : `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(10000) }).then(r => r.text()).then(t => process.stdout.write(t), e => { process.stdout.write("error: " + e.message + " " + (e.cause?.code ?? "")); process.exit(1); })`;
    const client = await node.engine.createContainer({ Image: IMAGES.node, User: "node", Cmd: ["node", "-e", script], HostConfig: { NetworkMode: network } });
    try {
        await client.start();
        await client.wait();
        return demux(await client.logs({ stdout: true, stderr: true })).trim();
    } finally {
        await gone(client.remove({ force: true }));
    }
}

