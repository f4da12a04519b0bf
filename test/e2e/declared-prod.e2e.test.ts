/**
 * The prod stack as the program declares it (index.ts with Pulumi.prod.yaml), brought up on the
 * Docker engine here by the real-engine runner beside the dev stack (its own names and ports),
 * and checked as a user would use it: the app on every interface, the data ports on loopback
 * only, the data volumes protected.
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import crypto from "crypto";
import fs from "fs";
import { TYPES } from "../support/program";
import { engineAnswers } from "./support/docker";
import { bringUp, claimStackNames, DeclaredStack, describePlan, preview } from "./support/declaredStack";
import { expectCleanStop, expectRuntimeApplied, floodLog } from "./support/runtimeChecks";
import {
    answers,
    expectAppHealthy,
    expectMysqlRoundTrip,
    expectRunningAndHealthy,
    expectSecretsHidden,
    listeningAddresses,
    readRows,
} from "./support/stackChecks";

const engine = engineAnswers();
if (!engine.ok) console.warn(`e2e: skipping the declared prod stack, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
const describeWithEngine = engine.ok ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`prod stack: ${line}\n`);

describeWithEngine(`the declared prod stack on a real Docker engine (${engine.reason})`, () => {
    let prod: DeclaredStack;

    let release = () => undefined as void;

    beforeAll(async () => {
        release = await claimStackNames("prod");
        prod = await bringUp("prod", {}, log);
    }, 900_000);

    afterAll(async () => {
        await prod?.engine.removeEverything();
        release();
    }, 300_000);

    it("runs every container the program declares, each healthy, under its prod- name", async () => {
        const declared = prod.run.resources.filter((r) => r.type === TYPES.container).map((r) => r.inputs.name as string);
        const running = await expectRunningAndHealthy(prod);
        expect([...running.keys()].sort()).toEqual(declared.sort());
        expect(declared.sort()).toEqual(["prod-sb-app", "prod-sb-elasticsearch", "prod-sb-elasticsearch-backup", "prod-sb-mysql", "prod-sb-mysql-backup"]);
    });

    it("plans no update and no replacement on a second run with the same config, as pulumi preview --expect-no-changes", async () => {
        // Each resource's inputs against the provider's state of it, as its read left it.
        expect(describePlan(await preview(prod, {}, log))).toEqual([]);
    }, 300_000);

    it("answers /health with 200 on the app's port, and the generated passwords from the outputs work", async () => {
        expect(prod.outputs.appUrl).toBe("http://localhost:8080");
        await expectAppHealthy(prod);
        await expectMysqlRoundTrip(prod, `e2e_${crypto.randomBytes(4).toString("hex")}`, "prod row");
    });

    it("publishes the data ports on 127.0.0.1 only, and the app on every address", async () => {
        const dataPorts = [Number(prod.outputs.mysqlPort), Number(new URL(prod.outputs.elasticsearchUrl).port), 19300];
        expect(dataPorts).toEqual([13306, 19200, 19300]);
        for (const port of dataPorts) {
            expect({ port, listening: listeningAddresses(port) }).toEqual({ port, listening: ["127.0.0.1"] });
            expect({ port, on127001: await answers("127.0.0.1", port), on127002: await answers("127.0.0.2", port) }).toEqual({ port, on127001: true, on127002: false });
        }
        // The contrast: the app, published on 0.0.0.0, answers on another loopback address too.
        expect(listeningAddresses(8080)).toEqual(["0.0.0.0"]);
        expect(await answers("127.0.0.2", 8080)).toBe(true);
    });

    it("keeps every password out of each container's environment, labels, command lines and logs", async () => {
        await expectSecretsHidden(prod, [prod.outputs.mysqlPassword, prod.outputs.mysqlRootPassword]);
    });

    it("runs every container with its memory and CPU limits, log rotation, only its image's capabilities, no-new-privileges and its stop settings", async () => {
        await expectRuntimeApplied(prod);
    });

    it("keeps at most the configured number of log files however much a container writes", async () => {
        const app = prod.run.resources.find((r) => r.type === TYPES.container && r.inputs.name === "prod-sb-app")!.inputs;
        const maxFiles = Number(app.logOpts["max-file"]);
        const maxBytes = parseInt(app.logOpts["max-size"], 10) * 1024 * 1024;
        // Twice what the rotation keeps: without rotation the log would hold it all.
        const files = floodLog("prod-sb-app", maxFiles * maxBytes * 2);
        const sizes = files.map((f) => fs.statSync(f).size);
        expect(files.length).toBeLessThanOrEqual(maxFiles);
        expect(files.length).toBeGreaterThan(1);
        for (const size of sizes) expect(size).toBeLessThanOrEqual(maxBytes * 1.1);
        await expectAppHealthy(prod);
    }, 300_000);

    it("replaces prod-sb-mysql with a clean shutdown: SIGTERM, InnoDB flushed, exit code 0, then healthy again on the same data", async () => {
        const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
        await expectMysqlRoundTrip(prod, table, "before the replacement");
        const stop = await prod.engine.replace("mysql-container");
        log(`prod-sb-mysql stopped in ${stop.seconds.toFixed(1)} s (timeout ${stop.timeoutSeconds} s), exit code ${stop.exitCode}`);
        expectCleanStop(stop, "prod-sb-mysql", /Shutdown complete/);
        await expectRunningAndHealthy(prod);
        expect(await readRows(prod, table)).toEqual(["before the replacement"]);
    }, 600_000);

    it("refuses a destroy, as Pulumi does for the protected data volumes", async () => {
        await expect(prod.engine.destroy()).rejects.toThrow(/destroy refused: .*mysql-data.*protected/);
        await expectRunningAndHealthy(prod);
    });
});
