/**
 * Taking over a deployment made by hand with the guide: its `docker run` and `docker volume
 * create` steps for Jupyter (with the `chmod 777` it ends with), its docker-compose.yml for
 * MySQL, Elasticsearch and the app (the guide's own file, with the local stand-in images and
 * the passwords filled in), data written into each; then adoption (scripts/adopt.ts) and the dev
 * stack brought up by the real-engine runner with the config adoption set: every piece of data
 * is still there, with the user's own passwords.
 *
 * Needs docker-compose (test/e2e/ensure-engine.sh installs Debian's 1.29). Without an engine
 * the suite is skipped with a message.
 */
import { spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import Docker from "dockerode";
import mysql from "mysql2/promise";
import { describePlan, isEmpty, passwordsFromCompose, planAdoption, removeHandMade } from "../../scripts/adopt";
import type { AdoptionPlan } from "../../scripts/adopt";
import { keepSecrets } from "../../scripts/stackSecrets";
import { parseDevConfig } from "../support/fixtures";
import { PROJECT, PROJECT_DIR } from "../support/program";
import { docker, engineAnswers, waitUntil } from "./support/docker";
import { bringUp, claimStackNames, ConfigStore, DeclaredStack, standInImages } from "./support/declaredStack";
import { FIXTURES, IMAGES } from "./support/images";
import { buildWithBuildKit } from "./support/engine";
import { exec, expectAppHealthy, expectJupyterWorks, expectRunningAndHealthy, getJson, readRows } from "./support/stackChecks";

const engine = engineAnswers();
const compose = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
const ready = engine.ok && compose.status === 0;
if (!ready) console.warn(`e2e: skipping the adoption of a hand-made deployment: ${engine.ok ? "docker-compose is not installed (test/e2e/ensure-engine.sh installs it)" : engine.reason}.`);
const describeWhenReady = ready ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`adopt: ${line}\n`);

/** The dev stack's validated config, as the stack command reads it, with `overrides`. */
function devConfig(overrides: Record<string, unknown> = {}) {
    return parseDevConfig({ ...standInImages(), ...overrides });
}

function composeUp(dir: string, ...args: string[]): string {
    const run = spawnSync("docker-compose", args, { cwd: dir, encoding: "utf8", timeout: 300_000 });
    if (run.status !== 0) throw new Error(`docker-compose ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
}

describeWhenReady(`adopting the guide's hand-made deployment (${engine.reason}, docker-compose ${compose.stdout?.trim()})`, () => {
    // The guide keeps docker-compose.yml in the dashboard folder it binds into the app: Compose
    // names the project, and so the volumes and the network, after that folder.
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-guide-"));
    const dashboard = path.join(workdir, "dashboard");
    const passwords = { root: crypto.randomBytes(12).toString("base64url"), user: crypto.randomBytes(12).toString("base64url") };
    const appImage = "elmkarim/smartbuildingapp:latest";
    const row = "written by hand, before the stack";
    let composeFile = "";
    let plan: AdoptionPlan;
    let adoptSeconds = 0;
    let stack: DeclaredStack | undefined;
    let release = () => undefined as void;
    const config = new ConfigStore();

    beforeAll(async () => {
        release = await claimStackNames("dev");

        // Sections 5 and 6: the notebooks volume, Jupyter run on it, `Permission denied`, `chmod 777`.
        await docker(["volume", "create", "jupyter_volume"]);
        await docker(["run", "-d", "-p", "5000:8888", "--name", "jupyter", "-v", "jupyter_volume:/home/jovyan/work/notebooks", IMAGES.jupyter]);
        const mountpoint = await docker(["volume", "inspect", "--format", "{{.Mountpoint}}", "jupyter_volume"]);
        fs.chmodSync(mountpoint, 0o777);
        await docker(["exec", "-u", "1000", "jupyter", "sh", "-c", "echo notebook by jovyan > /home/jovyan/work/notebooks/guide.ipynb"]);
        await docker(["exec", "-u", "0", "jupyter", "sh", "-c", "echo notebook by root > /home/jovyan/work/notebooks/by-root.ipynb && chmod 600 /home/jovyan/work/notebooks/by-root.ipynb"]);

        // Sections 7.2 and 8: the app image, and the compose file in the dashboard folder.
        // With BuildKit, as the stack builds: the legacy builder's cache belongs to app.e2e.test.ts,
        // which checks which of its layers a rebuild reuses.
        await buildWithBuildKit(new Docker(), { context: "app", dockerfile: "app/Dockerfile", tag: appImage, args: { NODE_IMAGE: IMAGES.node } });
        fs.cpSync(path.join(PROJECT_DIR, "app", "dashboard"), dashboard, { recursive: true });
        composeFile = fs
            .readFileSync(path.join(FIXTURES, "guide", "docker-compose.yml"), "utf8")
            .replace("image: mysql:5.7", `image: ${IMAGES.mysql}`)
            .replace("image: elasticsearch:7.8.1", `image: ${IMAGES.elasticsearch}`)
            .replace("<root_password_here>", passwords.root)
            .replace("<mysql_password_here>", passwords.user);
        fs.writeFileSync(path.join(dashboard, "docker-compose.yml"), composeFile);
        composeUp(dashboard, "up", "-d");

        // Months of data, in short.
        await waitUntil("the hand-made MySQL accepting its user", 120_000, async () => {
            const connection = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "BAS_DEV_RW", password: passwords.user, database: "bas_dev" });
            try {
                await connection.query("CREATE TABLE IF NOT EXISTS readings (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200) NOT NULL)");
                await connection.query("INSERT INTO readings (note) VALUES (?)", [row]);
                return true;
            } finally {
                await connection.end();
            }
        });
        await waitUntil("the hand-made Elasticsearch storing a document", 60_000, async () => {
            const put = await fetch("http://127.0.0.1:9200/sensors/_doc/1", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ room: "A1", celsius: 21.5 }) });
            return put.status < 300 ? true : undefined;
        });

        const started = Date.now();
        // The stack's config already holds passwords (an `up` generated them) that the hand-made data never heard of.
        plan = await planAdoption(new Docker(), devConfig(), {
            configured: { root: "generated-before-adoption-1", user: "generated-before-adoption-2" },
            ask: async () => passwordsFromCompose(composeFile),
        });
        describePlan(plan).forEach(log);
        await removeHandMade(new Docker(), plan);
        adoptSeconds = (Date.now() - started) / 1000;
        log(`hand-made containers stopped and removed in ${adoptSeconds.toFixed(1)} s`);
    }, 900_000);

    afterAll(async () => {
        await stack?.engine.removeEverything();
        spawnSync("docker", ["rm", "-f", "sb-mysql", "sb-elasticsearch", "sb-app", "jupyter"]);
        if (fs.existsSync(path.join(dashboard, "docker-compose.yml"))) spawnSync("docker-compose", ["down", "-v"], { cwd: dashboard });
        spawnSync("docker", ["volume", "rm", "jupyter_volume", "dashboard_mysql_volume", "dashboard_esdata1"]);
        spawnSync("docker", ["rmi", appImage]);
        fs.rmSync(workdir, { recursive: true, force: true });
        release();
    }, 300_000);

    it("finds the guide's volumes by Compose's labels and points the stack's config at them, with the compose file's passwords as secrets", () => {
        expect(plan.config.map((c) => [c.key, c.secret ? "(secret)" : c.value])).toEqual([
            ["mysqlVolumeName", "dashboard_mysql_volume"],
            ["elasticsearchVolumeName", "dashboard_esdata1"],
            ["mysqlRootPassword", "(secret)"],
            ["mysqlPassword", "(secret)"],
        ]);
        expect(plan.config.filter((c) => c.secret).map((c) => c.value)).toEqual([passwords.root, passwords.user]);
        expect(describePlan(plan).join("\n")).not.toContain(passwords.root);
        expect(plan.containers.map((c) => c.name).sort()).toEqual(["jupyter", "sb-app", "sb-elasticsearch", "sb-mysql"]);
        expect(plan.networks).toEqual(["dashboard_sb-network"]);
    });

    it("removes the hand-made containers and the emptied Compose network, and keeps every volume", async () => {
        for (const name of ["sb-mysql", "sb-elasticsearch", "sb-app", "jupyter"]) {
            expect((await docker(["ps", "-aq", "--filter", `name=^${name}$`])).trim()).toBe("");
        }
        expect(await docker(["network", "ls", "-q", "--filter", "name=dashboard_sb-network"])).toBe("");
        for (const volume of ["dashboard_mysql_volume", "dashboard_esdata1", "jupyter_volume"]) {
            expect(await docker(["volume", "inspect", "--format", "{{.Name}}", volume])).toBe(volume);
        }
    });

    it("brings the stack up on the hand-made data: the app healthy with the user's own passwords, the row, the document and the notebooks all there", async () => {
        // What `npm run adopt` then does: the plan's config set on the stack, and `up`, which keeps
        // the remaining secret (the Jupyter token) in config first.
        for (const c of plan.config) await config.setConfig(`${PROJECT}:${c.key}`, c.value, c.secret);
        expect(await keepSecrets(config, PROJECT, log)).toEqual(["jupyterToken"]);
        stack = await bringUp("dev", config.overrides(), log);
        await expectRunningAndHealthy(stack);
        await expectAppHealthy(stack);
        expect(stack.outputs.mysqlPassword).toBe(passwords.user);
        expect(await readRows(stack, "readings")).toEqual([row]);
        expect(await getJson("http://127.0.0.1:9200/sensors/_doc/1")).toMatchObject({ status: 200, body: { found: true, _source: { room: "A1", celsius: 21.5 } } });
        // The notebooks, whatever owner the guide left them with, are the notebook user's now.
        expect(await exec(stack, "jupyter", ["cat", "/home/jovyan/work/notebooks/guide.ipynb", "/home/jovyan/work/notebooks/by-root.ipynb"])).toBe(
            "notebook by jovyan\nnotebook by root",
        );
        expect(await exec(stack, "jupyter", ["stat", "-c", "%u", "/home/jovyan/work/notebooks/by-root.ipynb"])).toBe("1000");
        await expectJupyterWorks(stack, "after-adoption.txt");
    }, 600_000);

    it("comes back onto the adopted data after destroy, with nothing set by hand", async () => {
        await stack!.engine.destroy();
        expect(await keepSecrets(config, PROJECT, log)).toEqual([]);
        const token = stack!.outputs.jupyterUrl;
        stack = await bringUp("dev", config.overrides(), log);
        await expectAppHealthy(stack);
        expect(await readRows(stack, "readings")).toEqual([row]);
        expect(await getJson("http://127.0.0.1:9200/sensors/_doc/1")).toMatchObject({ status: 200, body: { found: true } });
        expect(await exec(stack, "jupyter", ["cat", "/home/jovyan/work/notebooks/after-adoption.txt"])).toBe("written by dev");
        expect(stack.outputs.jupyterUrl).toBe(token);
    }, 600_000);

    it("finds nothing to do when run again", async () => {
        const adopted = Object.fromEntries(plan.config.map((c) => [c.key, c.value]));
        const again = await planAdoption(new Docker(), devConfig(adopted), {
            configured: passwords,
            ask: async () => {
                throw new Error("passwords asked again");
            },
        });
        expect({ empty: isEmpty(again), plan: describePlan(again).filter((l) => !l.startsWith("(found)")) }).toEqual({ empty: true, plan: [] });
    });
});
