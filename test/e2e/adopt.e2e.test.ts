/**
 * Taking over a deployment made by hand with the guide: its `docker run` and `docker volume
 * create` steps for Jupyter (with the `chmod 777` it ends with), its docker-compose.yml for
 * MySQL, Elasticsearch and the app (the guide's own file, with the local stand-in images and a
 * reader's own passwords typed over its placeholders: 10 characters with a `!` for root, shorter
 * than the ones the stack generates), data written into each; then `npm run adopt -- --compose-file
 * ... --yes` (scripts/adoptCommand.ts, on the stack's config kept in memory) whose `up` is the
 * real-engine runner's bring-up with the config adoption set: every piece of data is still there,
 * with the user's own passwords. And an adoption whose config the program would refuse (the
 * hand-made MySQL made with a user and database name the stack's config does not take): refused
 * before anything is stopped or written, saying why, the hand-made deployment still serving.
 *
 * Needs docker-compose (test/e2e/ensure-engine.sh installs Debian's 1.29). Without an engine
 * the suite is skipped with a message.
 */
import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import Docker from "dockerode";
import mysql from "mysql2/promise";
import { adoptCommand } from "../../scripts/adoptCommand";
import { asConfigString } from "../../scripts/projectConfig";
import { keepSecrets } from "../../scripts/stackSecrets";
import { PROJECT, PROJECT_DIR, stackFile } from "../support/program";
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

function composeUp(dir: string, ...args: string[]): string {
    const run = spawnSync("docker-compose", args, { cwd: dir, encoding: "utf8", timeout: 300_000 });
    if (run.status !== 0) throw new Error(`docker-compose ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
}

/** The guide's app image, as section 7.2 builds it; the compose file runs it. */
const APP_IMAGE = "elmkarim/smartbuildingapp:latest";

/**
 * The guide's docker-compose.yml in `dashboard` (the folder Compose names the project, volumes and
 * network after), with the stand-in images, a reader's passwords over its placeholders and, as a
 * reader may, its own MySQL user and database; brought up. Resolves to the file's text.
 */
function composeGuide(dashboard: string, made: { root: string; user: string; userName?: string; database?: string }): string {
    fs.cpSync(path.join(PROJECT_DIR, "app", "dashboard"), dashboard, { recursive: true });
    const text = fs
        .readFileSync(path.join(FIXTURES, "guide", "docker-compose.yml"), "utf8")
        .replace("image: mysql:5.7", `image: ${IMAGES.mysql}`)
        .replace("image: elasticsearch:7.8.1", `image: ${IMAGES.elasticsearch}`)
        .replace("<root_password_here>", made.root)
        .replace("<mysql_password_here>", made.user)
        .replace("MYSQL_USER: BAS_DEV_RW", `MYSQL_USER: ${made.userName ?? "BAS_DEV_RW"}`)
        .replace("MYSQL_DATABASE: bas_dev", `MYSQL_DATABASE: ${made.database ?? "bas_dev"}`);
    fs.writeFileSync(path.join(dashboard, "docker-compose.yml"), text);
    // Compose would hand back a volume an interrupted earlier run left, data and all.
    const project = path.basename(dashboard);
    spawnSync("docker", ["volume", "rm", `${project}_mysql_volume`, `${project}_esdata1`]);
    composeUp(dashboard, "up", "-d");
    return text;
}

/**
 * The dev stack's config as `npm run adopt` reads it from the Pulumi CLI (Pulumi.dev.yaml's keys,
 * the stand-in images, and `extra`), kept in memory; records every key set.
 */
class DevConfig extends ConfigStore {
    readonly set: [string, string, boolean][] = [];

    constructor(extra: Record<string, string> = {}) {
        super();
        const committed = Object.entries(stackFile("dev")).filter(([key]) => key.startsWith(`${PROJECT}:`));
        for (const [key, value] of committed) void super.setConfig(key, asConfigString(value), false);
        for (const [key, value] of Object.entries({ ...standInImages(), ...extra })) void super.setConfig(`${PROJECT}:${key}`, value, /Password$/.test(key));
    }

    async setConfig(key: string, value: string, secret: boolean) {
        this.set.push([key, value, secret]);
        await super.setConfig(key, value, secret);
    }
}

/** `npm run adopt -- <args>` on the dev stack's `config`, through this engine's socket; `up` stands for the stack command's. */
async function runAdopt(config: ConfigStore, args: string[], up: (yes: boolean) => Promise<number>): Promise<{ code: number; said: string }> {
    let said = "";
    const terminal = {
        out: (text: string) => void (said += text),
        err: (text: string) => {
            said += text;
            process.stderr.write(text.replace(/^(?=.)/gm, "adopt: "));
        },
        ask: async () => undefined,
        askHidden: async () => undefined,
    };
    const code = await adoptCommand(config, { projectDir: PROJECT_DIR, stackName: "dev", args, terminal, up, connect: () => new Docker() });
    return { code, said };
}

/** Each of `names` as the engine has it: its id and whether it runs (undefined when there is none). */
async function containersNamed(names: readonly string[]): Promise<Record<string, { id: string; running: boolean } | undefined>> {
    const found = await Promise.all(
        names.map(async (name) => {
            const info = await new Docker()
                .getContainer(name)
                .inspect()
                .catch(() => undefined);
            return [name, info && { id: info.Id, running: info.State.Running }] as const;
        }),
    );
    return Object.fromEntries(found);
}

const HAND_MADE = ["sb-mysql", "sb-elasticsearch", "sb-app", "jupyter"] as const;
let releaseNames = () => undefined as void;

beforeAll(async () => {
    if (!ready) return;
    releaseNames = await claimStackNames("dev");
    // Section 7.2: the app image. With BuildKit, as the stack builds: the legacy builder's cache
    // belongs to app.e2e.test.ts, which checks which of its layers a rebuild reuses.
    await buildWithBuildKit(new Docker(), { context: "app", dockerfile: "app/Dockerfile", tag: APP_IMAGE, args: { NODE_IMAGE: IMAGES.node } });
}, 900_000);

afterAll(() => {
    if (!ready) return;
    spawnSync("docker", ["rmi", APP_IMAGE]);
    releaseNames();
});

describeWhenReady(`adopting the guide's hand-made deployment (${engine.reason}, docker-compose ${compose.stdout?.trim()})`, () => {
    // The guide keeps docker-compose.yml in the dashboard folder it binds into the app: Compose
    // names the project, and so the volumes and the network, after that folder.
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-guide-"));
    const dashboard = path.join(workdir, "dashboard");
    // A reader's own, as the guide's placeholders invite: the root one shorter than the 32 characters
    // the stack generates (and than the 12 it once demanded of any), both with a character a shell
    // or a YAML file would trip on if anything quoted them carelessly.
    const passwords = { root: "Guide2024!", user: "Sensors#7!" };
    const row = "written by hand, before the stack";
    // The stack's config already holds passwords (an `up` generated them) that the hand-made data never heard of.
    const config = new DevConfig({ mysqlRootPassword: "generated-before-adoption-1", mysqlPassword: "generated-before-adoption-2" });
    let handMade: Awaited<ReturnType<typeof containersNamed>> = {};
    let adoption = { code: -1, said: "" };
    /** The engine as `up` found it, once adoption had removed the hand-made containers. */
    let beforeUp: { containers: Awaited<ReturnType<typeof containersNamed>>; networks: string; volumes: string[] } | undefined;
    let kept: string[] = [];
    let upFailure: unknown;
    let stack: DeclaredStack | undefined;

    beforeAll(async () => {
        // Sections 5 and 6: the notebooks volume, Jupyter run on it, `Permission denied`, `chmod 777`.
        await docker(["volume", "create", "jupyter_volume"]);
        await docker(["run", "-d", "-p", "5000:8888", "--name", "jupyter", "-v", "jupyter_volume:/home/jovyan/work/notebooks", IMAGES.jupyter]);
        const mountpoint = await docker(["volume", "inspect", "--format", "{{.Mountpoint}}", "jupyter_volume"]);
        fs.chmodSync(mountpoint, 0o777);
        await docker(["exec", "-u", "1000", "jupyter", "sh", "-c", "echo notebook by jovyan > /home/jovyan/work/notebooks/guide.ipynb"]);
        await docker(["exec", "-u", "0", "jupyter", "sh", "-c", "echo notebook by root > /home/jovyan/work/notebooks/by-root.ipynb && chmod 600 /home/jovyan/work/notebooks/by-root.ipynb"]);

        // Section 8: the compose file in the dashboard folder.
        composeGuide(dashboard, passwords);

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
        handMade = await containersNamed(HAND_MADE);

        // npm run adopt -- --compose-file .../docker-compose.yml --yes; its `up` keeps the remaining
        // secret (the Jupyter token) in config first, as the stack command's does, then brings the stack up.
        const started = Date.now();
        adoption = await runAdopt(config, ["--compose-file", path.join(dashboard, "docker-compose.yml"), "--yes"], async () => {
            log(`hand-made containers stopped and removed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
            beforeUp = {
                containers: await containersNamed(HAND_MADE),
                networks: await docker(["network", "ls", "-q", "--filter", "name=dashboard_sb-network"]),
                volumes: await Promise.all(["dashboard_mysql_volume", "dashboard_esdata1", "jupyter_volume"].map((v) => docker(["volume", "inspect", "--format", "{{.Name}}", v]))),
            };
            try {
                kept = await keepSecrets(config, PROJECT, log);
                stack = await bringUp("dev", config.overrides(), log);
                return 0;
            } catch (err) {
                upFailure = err;
                return 1;
            }
        });
        log(`adopted and up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }, 900_000);

    afterAll(async () => {
        await stack?.engine.removeEverything();
        spawnSync("docker", ["rm", "-f", ...HAND_MADE]);
        if (fs.existsSync(path.join(dashboard, "docker-compose.yml"))) spawnSync("docker-compose", ["down", "-v"], { cwd: dashboard });
        spawnSync("docker", ["volume", "rm", "jupyter_volume", "dashboard_mysql_volume", "dashboard_esdata1"]);
        fs.rmSync(workdir, { recursive: true, force: true });
    }, 300_000);

    it("adopts it, and its up succeeds", () => {
        expect({ code: adoption.code, upFailure }).toEqual({ code: 0, upFailure: undefined });
        expect(adoption.said).not.toContain("refused");
    });

    it("finds the guide's volumes by Compose's labels and points the stack's config at them, with the compose file's passwords as secrets", () => {
        expect(config.set.map(([key, value, secret]) => [key.slice(PROJECT.length + 1), secret ? "(secret)" : value])).toEqual([
            ["mysqlVolumeName", "dashboard_mysql_volume"],
            ["elasticsearchVolumeName", "dashboard_esdata1"],
            ["mysqlRootPassword", "(secret)"],
            ["mysqlPassword", "(secret)"],
            ["jupyterToken", "(secret)"],
        ]);
        expect(config.set.filter(([key]) => /Password$/.test(key)).map(([, value]) => value)).toEqual([passwords.root, passwords.user]);
        expect(kept).toEqual(["jupyterToken"]);
        for (const name of HAND_MADE) expect(adoption.said).toContain(`remove the hand-made container ${name} (`);
        expect(adoption.said).toContain("remove the Compose network dashboard_sb-network, left empty");
        expect(adoption.said).not.toContain(passwords.root);
        expect(adoption.said).not.toContain(passwords.user);
    });

    it("removes the hand-made containers and the emptied Compose network before up, and keeps every volume", () => {
        expect(Object.values(handMade).every((c) => c?.running)).toBe(true);
        expect(beforeUp).toEqual({
            containers: Object.fromEntries(HAND_MADE.map((name) => [name, undefined])),
            networks: "",
            volumes: ["dashboard_mysql_volume", "dashboard_esdata1", "jupyter_volume"],
        });
    });

    it("brings the stack up on the hand-made data: the app healthy with the user's own passwords, the row, the document and the notebooks all there", async () => {
        await expectRunningAndHealthy(stack!);
        await expectAppHealthy(stack!);
        expect(stack!.outputs.mysqlRootPassword).toBe(passwords.root);
        expect(stack!.outputs.mysqlPassword).toBe(passwords.user);
        expect(await readRows(stack!, "readings")).toEqual([row]);
        expect(await getJson("http://127.0.0.1:9200/sensors/_doc/1")).toMatchObject({ status: 200, body: { found: true, _source: { room: "A1", celsius: 21.5 } } });
        // The notebooks, whatever owner the guide left them with, are the notebook user's now.
        expect(await exec(stack!, "jupyter", ["cat", "/home/jovyan/work/notebooks/guide.ipynb", "/home/jovyan/work/notebooks/by-root.ipynb"])).toBe(
            "notebook by jovyan\nnotebook by root",
        );
        expect(await exec(stack!, "jupyter", ["stat", "-c", "%u", "/home/jovyan/work/notebooks/by-root.ipynb"])).toBe("1000");
        await expectJupyterWorks(stack!, "after-adoption.txt");
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
        const before = config.set.length;
        const up = jest.fn(async () => 0);
        const again = await runAdopt(config, ["--yes"], up);
        expect(again.code).toBe(0);
        expect(again.said).toMatch(/^Nothing to adopt for stack dev: /);
        expect(up).not.toHaveBeenCalled();
        expect(config.set.length).toBe(before);
    });
});

describeWhenReady("an adoption whose config the stack would refuse", () => {
    // A reader who named the MySQL user and database in their own style: MySQL takes both (quoted),
    // the stack's config does not (letters, digits and '_'). Any run of the stack on that data
    // would be refused, so adoption must be refused before it stops anything.
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-refused-"));
    const dashboard = path.join(workdir, "smart-dashboard");
    const made = { root: "Guide2024!", user: "Sensors#7!", userName: "bas-dev-rw", database: "bas-dev" };
    const config = new DevConfig();
    const up = jest.fn(async () => 0);
    let handMade: Awaited<ReturnType<typeof containersNamed>> = {};
    let committed: Record<string, { value: string; secret?: boolean }> = {};
    let adoption = { code: -1, said: "" };

    beforeAll(async () => {
        composeGuide(dashboard, made);
        await waitUntil("the hand-made MySQL accepting its user", 120_000, async () => {
            const connection = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: made.userName, password: made.user, database: made.database });
            await connection.end();
            return true;
        });
        handMade = await containersNamed(HAND_MADE);
        committed = await config.getAllConfig();
        adoption = await runAdopt(config, ["--compose-file", path.join(dashboard, "docker-compose.yml"), "--yes"], up);
    }, 600_000);

    afterAll(() => {
        spawnSync("docker-compose", ["down", "-v"], { cwd: dashboard });
        fs.rmSync(workdir, { recursive: true, force: true });
    }, 300_000);

    it("stops with exit code 1, saying why by key, and what it would have set", () => {
        expect(adoption.code).toBe(1);
        expect(adoption.said).toContain("Adoption refused: stack dev would not run with the config adoption would give it (2 problems, found by the checks preview and up run); nothing was stopped, removed or written:\n");
        expect(adoption.said).toContain(`  - ${PROJECT}:mysqlUser: "bas-dev-rw" is not valid; expected a MySQL user name: 1 to 32 letters, digits or '_'.\n`);
        expect(adoption.said).toContain(`  - ${PROJECT}:mysqlDatabase: "bas-dev" is not valid; expected a MySQL database name: 1 to 64 letters, digits or '_'.\n`);
        expect(adoption.said).toContain("  - set mysqlUser = bas-dev-rw: the hand-made sb-mysql made its user with MYSQL_USER=bas-dev-rw\n");
        expect(adoption.said).not.toContain(made.root);
        expect(up).not.toHaveBeenCalled();
    });

    it("has touched nothing: the hand-made containers still run, serving their data, and the stack's config is as it was", async () => {
        expect(handMade["sb-mysql"]?.running).toBe(true);
        expect(await containersNamed(HAND_MADE)).toEqual(handMade);
        expect(await docker(["network", "ls", "-q", "--filter", "name=smart-dashboard_sb-network"])).not.toBe("");
        const connection = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: made.userName, password: made.user, database: made.database });
        try {
            expect(await connection.query("SELECT 1 AS up").then(([rows]) => rows)).toEqual([{ up: 1 }]);
        } finally {
            await connection.end();
        }
        expect(config.set).toEqual([]);
        expect(await config.getAllConfig()).toEqual(committed);
    });
});
