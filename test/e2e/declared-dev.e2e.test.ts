/**
 * The dev stack as the program declares it (index.ts with Pulumi.dev.yaml), brought up on the
 * Docker engine here by the real-engine runner, checked as a user would use it, torn down as
 * `pulumi destroy` does, and brought up again onto the kept data.
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { keepSecrets } from "../../scripts/stackSecrets";
import { PROJECT, TYPES } from "../support/program";
import { engineAnswers } from "./support/docker";
import { bringUp, claimStackNames, ConfigStore, criticalPath, DeclaredStack, describePlan, preview } from "./support/declaredStack";
import { expectCleanStop, expectRuntimeApplied } from "./support/runtimeChecks";
import {
    expectAppHealthy,
    expectJupyterWorks,
    expectMysqlRoundTrip,
    expectRunningAndHealthy,
    expectSecretsHidden,
    exec,
    jupyterLogin,
    readRows,
    stackContainers,
} from "./support/stackChecks";

const engine = engineAnswers();
if (!engine.ok) console.warn(`e2e: skipping the declared dev stack, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
const describeWithEngine = engine.ok ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`dev stack: ${line}\n`);

describeWithEngine(`the declared dev stack on a real Docker engine (${engine.reason})`, () => {
    const config = new ConfigStore();
    let first: DeclaredStack;
    let second: DeclaredStack | undefined;
    const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
    const row = `kept across destroy ${new Date().toISOString()}`;
    const hostFolder = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-notebooks-"));

    let release = () => undefined as void;

    beforeAll(async () => {
        release = await claimStackNames("dev");
        // What `npm run up` does first: the passwords and the token kept in the stack's config.
        expect(await keepSecrets(config, PROJECT, log)).toEqual(["mysqlRootPassword", "mysqlPassword", "jupyterToken"]);
        first = await bringUp("dev", config.overrides(), log);
    }, 900_000);

    afterAll(async () => {
        await second?.engine.removeEverything();
        await first?.engine.removeEverything();
        fs.rmSync(hostFolder, { recursive: true, force: true });
        release();
    }, 300_000);

    it("runs every container the program declares, each healthy", async () => {
        const declared = first.run.resources.filter((r) => r.type === TYPES.container).map((r) => r.inputs.name as string);
        const running = await expectRunningAndHealthy(first);
        expect([...running.keys()].sort()).toEqual(declared.sort());
        expect(declared.sort()).toEqual(["jupyter", "sb-app", "sb-elasticsearch", "sb-mysql"]);
        // Every one of them declares `wait`, so each was healthy before its create returned.
        for (const name of declared) expect(running.get(name)!.State.Health?.Status).toBe("healthy");
    });

    it("plans no update and no replacement on a second run with the same config, as pulumi preview --expect-no-changes", async () => {
        // Each resource's inputs against the provider's state of it, as its read left it.
        expect(describePlan(await preview(first, config.overrides(), log))).toEqual([]);
    }, 300_000);

    it("creates the app only once MySQL and Elasticsearch are healthy, and builds and starts independent resources at once", () => {
        const at = (name: string) => first.engine.created.find((c) => c.resource.name === name)!;
        expect(at("app-container").started).toBeGreaterThanOrEqual(at("mysql-container").finished);
        expect(at("app-container").started).toBeGreaterThanOrEqual(at("elasticsearch-container").finished);
        // The app image is built while MySQL initialises, not after.
        expect(at("app-image").started).toBeLessThan(at("mysql-container").finished);
        const span = (Math.max(...first.engine.created.map((c) => c.finished)) - Math.min(...first.engine.created.map((c) => c.started))) / 1000;
        expect(span).toBeLessThanOrEqual(criticalPath(first.engine).seconds * 1.2);
    });

    it("answers /health with 200 through the app's published port, both stores up", async () => {
        await expectAppHealthy(first);
    });

    it("lets the application user create a table with the generated password from the outputs, which the app then lists; root's works too", async () => {
        await expectMysqlRoundTrip(first, table, row);
    });

    it("serves Jupyter to the token from the jupyterUrl output only, and the notebook user writes into the notebooks volume", async () => {
        await expectJupyterWorks(first, "from-the-volume.txt");
        const volume = first.outputs.jupyterVolumeName as string;
        const mounts = (await first.docker.getContainer("jupyter").inspect()).Mounts;
        expect(mounts.find((m) => m.Destination === "/home/jovyan/work/notebooks")).toMatchObject({ Type: "volume", Name: volume });
    });

    it("runs every container with its memory and CPU limits, log rotation, only its image's capabilities, no-new-privileges and its stop settings", async () => {
        await expectRuntimeApplied(first);
    });

    it("keeps every password and the token out of each container's environment, labels, command lines and logs", async () => {
        await expectSecretsHidden(first, [first.outputs.mysqlPassword, first.outputs.mysqlRootPassword, jupyterLogin(first).token]);
    });

    it("tears down as destroy does: containers and network go, the data volumes stay", async () => {
        const volumes = ["mysql_volume", "esdata1", "jupyter_volume"];
        await first.engine.destroy();
        expect(await stackContainers(first)).toEqual([]);
        await expect(first.docker.getNetwork("sb-network").inspect()).rejects.toMatchObject({ statusCode: 404 });
        for (const name of volumes) expect((await first.docker.getVolume(name).inspect()).Name).toBe(name);
        // Each stopped within its grace period, the stores with exit code 0 and their own last words.
        const stops = new Map(first.engine.stops.map((s) => [s.name, s]));
        for (const s of first.engine.stops) log(`${s.name} stopped in ${s.seconds.toFixed(1)} s (timeout ${s.timeoutSeconds} s), exit code ${s.exitCode}`);
        expectCleanStop(stops.get("sb-mysql"), "sb-mysql", /Shutdown complete/);
        expectCleanStop(stops.get("sb-elasticsearch"), "sb-elasticsearch", /"message":"closed"/);
        expect({ name: "sb-app", exitCode: stops.get("sb-app")?.exitCode }).toEqual({ name: "sb-app", exitCode: 0 });
        // Jupyter stops on its own handling of SIGTERM, never killed: the image's `tini -g` signals
        // the whole process group and `sudo` relays the signal too, so the server may get it twice
        // and exit 143 from the second while it is already shutting down (upstream does the same).
        const jupyter = stops.get("jupyter")!;
        expect({ exitCode: [0, 143].includes(jupyter.exitCode), stopping: /received signal 15, stopping/.test(jupyter.logTail) }).toEqual({ exitCode: true, stopping: true });
        expect(jupyter.seconds).toBeLessThan(jupyter.timeoutSeconds);
    }, 300_000);

    it("comes back onto the kept data after destroy with no step by hand, the passwords kept in config, and Jupyter on a host folder", async () => {
        // The next `npm run up` finds every secret in the stack's config and sets nothing.
        expect(await keepSecrets(config, PROJECT, log)).toEqual([]);
        second = await bringUp("dev", { ...config.overrides(), jupyterHostFolder: hostFolder }, log);
        expect(second.outputs.mysqlPassword).toBe(first.outputs.mysqlPassword);
        expect(jupyterLogin(second).token).toBe(jupyterLogin(first).token);
        await expectRunningAndHealthy(second);
        expect(await readRows(second, table)).toEqual([row]);
        await expectAppHealthy(second);

        // The host folder, not the volume, is bound at the notebooks path, and the notebook user writes there.
        const file = await expectJupyterWorks(second, "from-the-host-folder.txt");
        expect(fs.statSync(path.join(hostFolder, path.basename(file))).uid).toBe(1000);
        expect(await exec(second, "jupyter", ["sh", "-c", "ls /home/jovyan/work/notebooks"])).toBe("from-the-host-folder.txt");
        await expectSecretsHidden(second, [second.outputs.mysqlPassword, second.outputs.mysqlRootPassword, jupyterLogin(second).token]);
    }, 900_000);
});
