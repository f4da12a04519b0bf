/**
 * The swarm stack as the program declares it (index.ts with Pulumi.swarm.yaml), brought up on a
 * one-node Docker Swarm here by the real-engine runner, with the app image pushed to a local
 * registry (Debian's docker-registry), and then changed as a team changes it: a new app image
 * rolled out under load, a new Jupyter token, a task killed.
 *
 * The engine is made a swarm by the global setup, before any suite runs, and left after they all
 * finish (test/e2e/support/globalSetup.ts says why). This kernel has no IPVS, so the stack runs with `swarmEndpointMode: dnsrr` and
 * `swarmPublishMode: host` (users keep Swarm's vip and ingress): the app's tasks each publish on a
 * port the engine picks, and the rolling update is measured from a client on the stack's overlay
 * network that resolves `app` for every request (test/e2e/support/swarm.ts).
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import { spawnSync } from "child_process";
import crypto from "crypto";
import Docker from "dockerode";
import { TYPES } from "../support/program";
import { docker as dockerCli, engineAnswers, LABEL } from "./support/docker";
import { bringUp, claimStackNames, DeclaredStack, describePlan, preview, update } from "./support/declaredStack";
import { demux } from "./support/engine";
import { IMAGES, JUPYTER_STANDIN } from "./support/images";
import { exec, expectSecretsHidden, getJson, stackVolumes } from "./support/stackChecks";
import {
    Registry,
    joinSwarm,
    killTask,
    localNodeId,
    manifestExists,
    pushImage,
    removeNodeLabel,
    serviceTasks,
    setNodeLabel,
    startLoad,
    startRegistry,
    taskContainers,
    waitForConverged,
    waitForUpdateCompleted,
} from "./support/swarm";

const engine = engineAnswers();
if (!engine.ok) console.warn(`e2e: skipping the declared swarm stack, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
const describeWithEngine = engine.ok ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`swarm stack: ${line}\n`);

const STACK = "swarm";
const DATA_NODE_LABEL = "org.smartbuilding.data";
const NETWORK = "swarm-sb-network";
const APP = "swarm-sb-app";
const JUPYTER = "swarm-jupyter";
/** A Node.js base with the same content and another image id: the app built on it is a new image. */
const ROLLED_NODE = `${IMAGES.node}-rolled`;

const secret = () => crypto.randomBytes(24).toString("base64url");

describeWithEngine(`the declared swarm stack on a one-node swarm (${engine.reason})`, () => {
    const docker = new Docker();
    let registry: Registry;
    let release = () => undefined as void;
    let swarm: DeclaredStack;
    /** The config `npm run up` would keep for this stack, and what this machine needs (dnsrr, host mode, the local registry). */
    let config: Record<string, unknown>;

    beforeAll(async () => {
        release = await claimStackNames(STACK);
        await removeStackVolumes(docker);
        // The global setup made the engine a swarm (and its teardown leaves it): this only checks it is one.
        await joinSwarm();
        await setNodeLabel(DATA_NODE_LABEL, "true");
        registry = await startRegistry();
        // The pulled images come from the registry, as on a real swarm: the program pins each to
        // the digest the registry gives (docker.getRegistryImage), and every node pulls it.
        const hosted = async (image: string) => {
            const at = image.lastIndexOf(":");
            return (await pushImage(image, registry.address, image.slice(0, at), image.slice(at + 1))).reference;
        };
        config = {
            mysqlImage: await hosted(IMAGES.mysql),
            elasticsearchImage: await hosted(IMAGES.elasticsearch),
            jupyterImage: (await hosted(`${JUPYTER_STANDIN.repository}:${JUPYTER_STANDIN.tag}`)).replace(/:[^:/]+$/, ""),
            swarmEndpointMode: "dnsrr",
            swarmPublishMode: "host",
            registryServer: registry.address,
            mysqlRootPassword: secret(),
            mysqlPassword: secret(),
            jupyterToken: secret(),
        };
        swarm = await bringUp(STACK, config, log);
    }, 900_000);

    afterAll(async () => {
        await swarm?.engine.removeEverything();
        await removeStackVolumes(docker).catch(() => undefined);
        await registry?.stop();
        await dockerCli(["image", "rm", "--force", ROLLED_NODE]).catch(() => undefined);
        await removeNodeLabel(DATA_NODE_LABEL).catch(() => undefined);
        release();
    }, 300_000);

    it("converges every service the program declares to its replicas, each task healthy, on the data node where it is stateful", async () => {
        const declared = swarm.run.resources.filter((r) => r.type === TYPES.service).map((r) => r.inputs.name as string).sort();
        expect(declared).toEqual([
            "swarm-jupyter",
            "swarm-jupyter-backup",
            "swarm-sb-app",
            "swarm-sb-elasticsearch",
            "swarm-sb-elasticsearch-backup",
            "swarm-sb-mysql",
            "swarm-sb-mysql-backup",
        ]);
        const dataNode = await localNodeId();
        for (const name of declared) {
            const tasks = (await serviceTasks(name)).filter((t) => t.DesiredState === "running");
            if (name !== APP) expect({ name, nodes: tasks.map((t) => t.NodeID) }).toEqual({ name, nodes: [dataNode] });
            const health = await Promise.all(
                tasks.map(async (t) => {
                    const state = (await docker.getContainer(t.Status.ContainerStatus!.ContainerID!).inspect()).State;
                    return `${t.Status.State}/${state.Health?.Status ?? "no health check"}`;
                }),
            );
            const replicas = name === APP ? 2 : 1;
            expect({ name, health }).toEqual({ name, health: Array(replicas).fill("running/healthy") });
        }
        log(`converged from nothing in ${swarm.seconds.toFixed(1)} s`);
    });

    it("plans no update and no replacement on a second run with the same config, as pulumi preview --expect-no-changes", async () => {
        // Each resource's inputs against the provider's state of it, as its read left it.
        expect(describePlan(await preview(swarm, config, log))).toEqual([]);
    }, 300_000);

    it("pushes the app image to the registry and runs it by the digest the push returned", async () => {
        const image = swarm.engine.created.find((c) => c.resource.type === TYPES.image && c.resource.name === "app-image")!;
        const repoDigest = String(swarm.run.resources.find((r) => r.name === "app-service")!.inputs.taskSpec.containerSpec.image);
        expect(repoDigest).toMatch(new RegExp(`^${registry.address.replace(/\./g, "\\.")}/smartbuildingapp@sha256:[0-9a-f]{64}$`));
        expect(image).toBeDefined();
        const [repository, digest] = repoDigest.slice(registry.address.length + 1).split("@");
        expect(await manifestExists(registry.address, repository, digest)).toBe(true);
        const spec = (await docker.getService(APP).inspect()).Spec.TaskTemplate.ContainerSpec.Image;
        expect(spec).toBe(repoDigest);
    });

    it("answers /health with 200 on every app task's port with both stores up, and lists a table written with the generated password", async () => {
        const tasks = await taskContainers(APP);
        expect(tasks).toHaveLength(2);
        for (const task of tasks) {
            const health = await getJson(`http://127.0.0.1:${hostPort(task.ports)}/health`);
            expect(health).toMatchObject({ status: 200, body: { status: "ok", mysql: { up: true }, elasticsearch: { up: true } } });
        }
        const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
        await mysqlAsUser(swarm, `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200)); INSERT INTO ${table} (note) VALUES ('swarm row');`);
        const tables = await getJson(`http://127.0.0.1:${hostPort(tasks[0].ports)}/api/mysql/tables`);
        expect((tables.body.tables as { name: string }[]).map((t) => t.name)).toContain(table);
    });

    it("mounts every secret as a file readable by its reader alone, and shows none in an environment, label, command line or log", async () => {
        const [app] = await taskContainers(APP);
        expect(await exec(swarm, app.containerId, ["stat", "-c", "%u %a", "/run/secrets/mysql_password"])).toBe("1000 400");
        const [mysql] = await taskContainers("swarm-sb-mysql");
        expect(await exec(swarm, mysql.containerId, ["stat", "-c", "%u %a", "/run/secrets/mysql_root_password"])).toBe("0 400");
        await expectSecretsHidden(swarm, [swarm.outputs.mysqlPassword, swarm.outputs.mysqlRootPassword, String(config.jupyterToken)]);
        const secretNames = (await docker.listSecrets()).map((s) => s.Spec!.Name);
        for (const value of [swarm.outputs.mysqlPassword, config.jupyterToken]) expect(secretNames.join(" ")).not.toContain(String(value));
    });

    it("rolls a new app image out one task at a time, start-first, with no failed request", async () => {
        const built = spawnSync("docker", ["build", "--label", `${LABEL}=rolled`, "-t", ROLLED_NODE, "-"], { input: `FROM ${IMAGES.node}\nLABEL org.smartbuilding.e2e.rolled=true\n`, encoding: "utf8" });
        expect({ built: built.status, stderr: built.status === 0 ? "" : built.stderr }).toEqual({ built: 0, stderr: "" });
        const before = (await docker.getService(APP).inspect()).Spec.TaskTemplate.ContainerSpec.Image;
        const load = await startLoad({ network: NETWORK, url: "http://app:3000/health/live", intervalMs: 100, maxSeconds: 600 });
        const since = Date.now();
        config = { ...config, appNodeImage: ROLLED_NODE };
        swarm = await update(swarm, config, log);
        const untilCompleted = await waitForUpdateCompleted(APP, 300_000, since);
        const summary = await load.stop();
        const status = (await docker.getService(APP).inspect()).UpdateStatus!;
        const rolling = (Date.parse(status.CompletedAt) - Date.parse(status.StartedAt)) / 1000;
        log(
            `rolling update: ${summary.failed} failed of ${summary.total} requests (${Object.keys(summary.addresses).length} task addresses answered, ` +
                `max latency ${summary.maxLatencyMs} ms); up (build, push, service update) to update completed ${untilCompleted.toFixed(1)} s, ` +
                `of which the engine's rolling update ${rolling.toFixed(1)} s`,
        );
        expect(swarm.engine.lastRun.get("app-image")).toBe("updated");
        expect(swarm.engine.lastRun.get("app-service")).toBe("updated");
        expect(swarm.engine.lastRun.get("mysql-service")).toBe("same");
        const after = (await docker.getService(APP).inspect()).Spec.TaskTemplate.ContainerSpec.Image;
        expect(after).not.toBe(before);
        expect(summary).toMatchObject({ failed: 0 });
        expect(summary.total).toBeGreaterThan(50);
        // Both old tasks and both new ones answered while it rolled.
        expect(Object.keys(summary.addresses).length).toBeGreaterThanOrEqual(3);
        expect((await taskContainers(APP)).length).toBe(2);
    });

    it("rolls Jupyter onto a new secret when its token changes, deletes the old secret, and the app keeps answering", async () => {
        const oldToken = String(config.jupyterToken);
        const oldSecret = secretName(swarm);
        config = { ...config, jupyterToken: secret() };
        swarm = await update(swarm, config, log);
        expect(swarm.engine.lastRun.get("jupyter-service-jupyter-token")).toBe("replaced");
        expect(swarm.engine.lastRun.get("jupyter-service")).toBe("updated");
        expect(swarm.engine.lastRun.get("app-service")).toBe("same");
        const names = (await docker.listSecrets()).map((s) => s.Spec!.Name);
        expect(names).toContain(secretName(swarm));
        expect(names).not.toContain(oldSecret);
        await waitForConverged(JUPYTER, 1, 120_000);
        // Stop-first: the old task's server had exited, cleanly, before the new one started.
        const { old, current } = await lastHandover(docker, JUPYTER);
        expect(Date.parse(old.state.FinishedAt)).toBeLessThanOrEqual(Date.parse(current.state.StartedAt));
        expect([0, 143]).toContain(old.state.ExitCode);
        const jupyter = "http://127.0.0.1:5001";
        expect((await getJson(`${jupyter}/api/status?token=${String(config.jupyterToken)}`)).status).toBe(200);
        expect([401, 403]).toContain((await getJson(`${jupyter}/api/status?token=${oldToken}`)).status);
        for (const task of await taskContainers(APP)) expect((await getJson(`http://127.0.0.1:${hostPort(task.ports)}/health`)).status).toBe(200);
    });

    it("updates MySQL stop-first: the old server shuts down cleanly before the new one starts, the data stays, and the app's tasks live through it", async () => {
        const appTasks = (await taskContainers(APP)).map((t) => t.taskId).sort();
        const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
        await mysqlAsUser(swarm, `CREATE TABLE ${table} (note VARCHAR(200)); INSERT INTO ${table} VALUES ('before the update');`);
        const since = Date.now();
        config = { ...config, mysqlBufferPoolSize: "256m" };
        swarm = await update(swarm, config, log);
        expect(swarm.engine.lastRun.get("mysql-service")).toBe("updated");
        await waitForUpdateCompleted("swarm-sb-mysql", 300_000, since);

        const { old, current } = await lastHandover(docker, "swarm-sb-mysql");
        const stopSeconds = (Date.parse(old.state.FinishedAt) - since) / 1000;
        log(`MySQL rolled stop-first: the old server exited ${old.state.ExitCode}; the new one started ${((Date.parse(current.state.StartedAt) - Date.parse(old.state.FinishedAt)) / 1000).toFixed(1)} s after`);
        expect({ exitCode: old.state.ExitCode, clean: /Shutdown complete/.test(old.log) }).toEqual({ exitCode: 0, clean: true });
        expect(Date.parse(old.state.FinishedAt)).toBeLessThanOrEqual(Date.parse(current.state.StartedAt));
        expect(stopSeconds).toBeLessThan(120);

        expect(await mysqlAsUser(swarm, `SELECT note FROM ${table};`)).toContain("before the update");
        // The app's health check is liveness only: no app task was restarted while MySQL was down.
        expect((await taskContainers(APP)).map((t) => t.taskId).sort()).toEqual(appTasks);
        const health = await getJson(`http://127.0.0.1:${hostPort((await taskContainers(APP))[0].ports)}/health`);
        expect(health).toMatchObject({ status: 200, body: { mysql: { up: true } } });
    });

    it("replaces a killed app task, and /health answers again", async () => {
        const since = Date.now();
        const killed = await killTask(APP);
        const seconds = await waitForConverged(APP, 2, 120_000, since);
        const tasks = await taskContainers(APP);
        expect(tasks.map((t) => t.taskId)).not.toContain(killed);
        for (const task of tasks) expect((await getJson(`http://127.0.0.1:${hostPort(task.ports)}/health`)).status).toBe(200);
        log(`a killed app task was replaced and healthy in ${seconds.toFixed(1)} s`);
    });
});

/**
 * The last handover of a one-task service's update: the task most recently shut down (its
 * container's state and last log lines) and the running one.
 */
async function lastHandover(docker: Docker, service: string) {
    const tasks = await Promise.all(
        (await serviceTasks(service)).map(async (t) => {
            const container = docker.getContainer(t.Status.ContainerStatus!.ContainerID!);
            return { desired: t.DesiredState, state: (await container.inspect()).State, log: demux(await container.logs({ stdout: true, stderr: true, tail: 20 })) };
        }),
    );
    const [old] = tasks.filter((t) => t.desired === "shutdown").sort((a, b) => Date.parse(b.state.FinishedAt) - Date.parse(a.state.FinishedAt));
    const [current] = tasks.filter((t) => t.desired === "running");
    return { old, current };
}

/** The host port a task publishes on IPv4. */
function hostPort(ports: { hostIp: string; hostPort: number }[]): number {
    const port = ports.find((p) => p.hostIp === "0.0.0.0") ?? ports[0];
    if (!port) throw new Error("the task publishes no port");
    return port.hostPort;
}

/** The name of the Jupyter service's token secret, as the run declared it. */
function secretName(stack: DeclaredStack): string {
    return String(stack.run.resources.find((r) => r.type === TYPES.secret && r.name === "jupyter-service-jupyter-token")!.inputs.name);
}

/** Runs SQL in the MySQL task as the application user, the password from the stack's outputs handed to this one exec only. */
async function mysqlAsUser(stack: DeclaredStack, sql: string): Promise<string> {
    const [task] = await taskContainers("swarm-sb-mysql");
    const { mysqlUser, mysqlDatabase, mysqlPassword } = stack.outputs;
    return exec(stack, task.containerId, ["mysql", "--host=127.0.0.1", "--protocol=tcp", `--user=${mysqlUser}`, `--database=${mysqlDatabase}`, `--execute=${sql}`], [`MYSQL_PWD=${mysqlPassword}`]);
}

/** The stack's volumes, which the services' mounts created and no destroy removes (components/target.ts). */
async function removeStackVolumes(docker: Docker): Promise<void> {
    for (const name of await stackVolumes({ stack: STACK, docker, outputs: {} })) await docker.getVolume(name).remove();
}
