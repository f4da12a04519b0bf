/**
 * Scheduled backups and restore on a real Docker engine: the dev stack as the program declares it
 * with `backupEnabled` (and a retention of 2), brought up by the real-engine runner; then the whole
 * cycle through the stack command's own code (scripts/backupCommand.ts, as `npm run backup` and
 * `npm run restore` run it): write a row, a document and a notebook, back up, lose them, restore,
 * find them again with the app healthy; retention; a failing backup seen as an unhealthy
 * container; and the size and time of a backup and a restore of 100,000 rows.
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import crypto from "crypto";
import { keepSecrets } from "../../scripts/stackSecrets";
import { backupCommand, execIn } from "../../scripts/backupCommand";
import type { ConfigurableStack } from "../../scripts/stackSecrets";
import { PROJECT, PROJECT_DIR, stackConfig } from "../support/program";
import { engineAnswers } from "./support/docker";
import { bringUp, claimStackNames, ConfigStore, DeclaredStack, standInImages } from "./support/declaredStack";
import { expectRuntimeApplied } from "./support/runtimeChecks";
import { connectMysql, exec, expectAppHealthy, expectMysqlRoundTrip, expectRunningAndHealthy, expectSecretsHidden, getJson, ipv4, jupyterLogin, readRows } from "./support/stackChecks";

const engine = engineAnswers();
if (!engine.ok) console.warn(`e2e: skipping the backups, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
const describeWithEngine = engine.ok ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`backups: ${line}\n`);
const BACKUPS = { backupEnabled: true, backupRetention: 2, backupInterval: "1h" };
const CONTAINERS = { mysql: "sb-mysql-backup", elasticsearch: "sb-elasticsearch-backup", notebooks: "jupyter-backup" } as const;

describeWithEngine(`scheduled backups and restore on a real Docker engine (${engine.reason})`, () => {
    const config = new ConfigStore();
    let dev: DeclaredStack;
    let release = () => undefined as void;
    const overrides = () => ({ ...standInImages(), ...BACKUPS, ...config.overrides() });
    // The stack's config as the stack command reads it: the committed file, the test's values.
    const stack: ConfigurableStack = {
        getAllConfig: async () => Object.fromEntries(Object.entries(stackConfig("dev", overrides())).map(([k, value]) => [`${PROJECT}:${k}`, { value, secret: false }])),
        setConfig: async () => undefined,
        outputs: async () => ({}),
    };
    /** Runs `npm run backup` / `npm run restore` as the stack command does; its output and exit code. */
    const command = async (verb: "backup" | "restore", ...args: string[]) => {
        let out = "";
        let err = "";
        const code = await backupCommand(stack, {
            projectDir: PROJECT_DIR,
            stackName: "dev",
            verb,
            args,
            terminal: { out: (t) => void (out += t), err: (t) => void (err += t), ask: async () => "no", askHidden: async () => undefined },
        });
        return { code, out, err };
    };
    const listed = async (kind: keyof typeof CONTAINERS) => (await exec(dev, CONTAINERS[kind], ["sb-backup", "list"])).split("\n").filter(Boolean);
    const health = async (name: string) => (await dev.docker.getContainer(name).inspect()).State.Health?.Status;
    const waitForHealth = async (name: string, status: string, seconds: number) => {
        const started = Date.now();
        while ((await health(name)) !== status) {
            if (Date.now() - started > seconds * 1000) throw new Error(`${name} is not ${status} after ${seconds} s (${await health(name)})`);
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        return (Date.now() - started) / 1000;
    };
    const es = (path: string, init?: RequestInit) => fetch(`${ipv4(dev.outputs.elasticsearchUrl)}${path}`, { ...init, headers: { "content-type": "application/json" } });

    beforeAll(async () => {
        release = await claimStackNames("dev");
        await keepSecrets(config, PROJECT, log);
        dev = await bringUp("dev", overrides(), log);
    }, 900_000);

    afterAll(async () => {
        await dev?.engine.removeEverything();
        release();
    }, 300_000);

    it("runs a backup container per store, each healthy after the first backup it took at its start", async () => {
        const running = await expectRunningAndHealthy(dev);
        expect([...running.keys()].filter((n) => n.endsWith("-backup")).sort()).toEqual(["jupyter-backup", "sb-elasticsearch-backup", "sb-mysql-backup"]);
        for (const kind of Object.keys(CONTAINERS) as (keyof typeof CONTAINERS)[]) expect({ kind, kept: (await listed(kind)).length }).toEqual({ kind, kept: 1 });
        expect(dev.outputs.backups).toMatchObject({ location: "volume backup_volume", interval: "1h", retention: 2 });
    });

    it("runs the backup containers with their limits, log rotation, only the capabilities they need and no-new-privileges, and no password in sight", async () => {
        await expectRuntimeApplied(dev);
        await expectSecretsHidden(dev, [dev.outputs.mysqlPassword, dev.outputs.mysqlRootPassword, jupyterLogin(dev).token]);
    });

    it("backs up a row, a document and a notebook, and restores each after it is lost, the app healthy again", async () => {
        const table = `e2e_${crypto.randomBytes(4).toString("hex")}`;
        await expectMysqlRoundTrip(dev, table, "kept by a backup");
        expect((await es("/e2e-backup/_doc/1", { method: "PUT", body: JSON.stringify({ note: "kept by a snapshot" }) })).status).toBe(201);
        await exec(dev, "jupyter", ["sh", "-c", "echo '{\"cells\": []}' > /home/jovyan/work/notebooks/kept.ipynb"]);

        const backup = await command("backup");
        expect(backup).toMatchObject({ code: 0 });
        const names = backup.out.trim().split("\n");
        expect(names).toEqual([
            expect.stringMatching(/^mysql\/bas_dev-\d{8}-\d{6}\.sql\.gz$/),
            expect.stringMatching(/^elasticsearch\/snapshot-\d{8}-\d{6}$/),
            expect.stringMatching(/^notebooks\/notebooks-\d{8}-\d{6}\.tar\.gz$/),
        ]);

        // Lost: the table dropped, the index deleted, the notebook removed.
        const root = (await connectMysql(dev, "root"))!;
        await root.query(`DROP TABLE ${table}`);
        await root.end();
        expect((await es("/e2e-backup", { method: "DELETE" })).status).toBe(200);
        await exec(dev, "jupyter", ["rm", "/home/jovyan/work/notebooks/kept.ipynb"]);
        await expect(readRows(dev, table)).rejects.toThrow(/doesn't exist/);

        // Without --yes the command asks; the answer "no" changes nothing.
        expect(await command("restore", names[0])).toMatchObject({ code: 1, err: expect.stringContaining("Nothing was changed.") });
        for (const name of names) {
            const restored = await command("restore", name, "--yes");
            expect({ name, code: restored.code, err: restored.err }).toEqual({ name, code: 0, err: expect.stringContaining(`Restored ${name}`) });
        }
        expect(await readRows(dev, table)).toEqual(["kept by a backup"]);
        await expectAppHealthy(dev);
        expect(await getJson(`${ipv4(dev.outputs.elasticsearchUrl)}/e2e-backup/_doc/1`)).toMatchObject({ status: 200, body: { _source: { note: "kept by a snapshot" } } });
        expect(await exec(dev, "jupyter", ["cat", "/home/jovyan/work/notebooks/kept.ipynb"])).toBe('{"cells": []}');
        await expectRunningAndHealthy(dev);
    }, 600_000);

    it("keeps exactly the configured number of backups of each store, the newest", async () => {
        await command("backup");
        const newest = (await command("backup")).out.trim().split("\n");
        for (const kind of Object.keys(CONTAINERS) as (keyof typeof CONTAINERS)[]) {
            const kept = await listed(kind);
            expect({ kind, kept: kept.length, newest: kept[0] }).toEqual({ kind, kept: 2, newest: newest.find((n) => n.startsWith(`${kind}/`)) });
        }
        expect((await command("backup", "--list")).out.trim().split("\n")).toHaveLength(6);
    }, 300_000);

    it("shows a failing backup: the command fails and the backup container turns unhealthy, then healthy after a good one", async () => {
        // MySQL no longer accepts what the backup container has: its password file is gone.
        await exec(dev, CONTAINERS.mysql, ["mv", "/run/secrets/mysql_root_password", "/run/secrets/moved"]);
        const failed = await command("backup");
        expect(failed).toMatchObject({ code: 1, err: expect.stringContaining("mysql: the backup FAILED in sb-mysql-backup") });
        log(`unhealthy ${(await waitForHealth(CONTAINERS.mysql, "unhealthy", 90)).toFixed(0)} s after the failed backup`);
        expect((await dev.docker.getContainer(CONTAINERS.mysql).inspect()).State.Health?.Log?.at(-1)?.Output).toMatch(/the last backup failed/);
        expect(await health(CONTAINERS.elasticsearch)).toBe("healthy");

        await exec(dev, CONTAINERS.mysql, ["mv", "/run/secrets/moved", "/run/secrets/mysql_root_password"]);
        expect((await command("backup")).code).toBe(0);
        await waitForHealth(CONTAINERS.mysql, "healthy", 90);
    }, 300_000);

    it("backs up and restores 100,000 rows (measured)", async () => {
        const user = (await connectMysql(dev, "user"))!;
        await user.query("CREATE TABLE readings (id INT PRIMARY KEY, sensor VARCHAR(64), value DOUBLE, taken DATETIME)");
        for (let start = 0; start < 100_000; start += 5_000) {
            const rows = Array.from({ length: 5_000 }, (_, i) => [start + i, `sensor-${(start + i) % 400}`, Math.random() * 100, new Date(Date.UTC(2024, 0, 1) + (start + i) * 60_000)]);
            await user.query("INSERT INTO readings VALUES ?", [rows]);
        }
        const started = Date.now();
        const backup = await execIn(dev.docker, CONTAINERS.mysql, ["sb-backup", "now"]);
        const backupSeconds = (Date.now() - started) / 1000;
        expect(backup.code).toBe(0);
        const name = backup.stdout.trim();
        const size = Number(await exec(dev, CONTAINERS.mysql, ["stat", "-c", "%s", `/backups/${name}`]));
        await user.query("DROP TABLE readings");
        const restore = await command("restore", name, "--yes");
        expect(restore.code).toBe(0);
        const restoreSeconds = Number(/in ([\d.]+) s;/.exec(restore.err)![1]);
        const [[{ count }]] = (await user.query("SELECT COUNT(*) AS count FROM readings")) as any;
        await user.end();
        expect(count).toBe(100_000);
        log(`100,000 rows: backup ${name} of ${(size / 1024 / 1024).toFixed(2)} MB (gzipped) in ${backupSeconds.toFixed(1)} s; restore (app stopped, database dropped and reloaded, app healthy again) in ${restoreSeconds.toFixed(1)} s`);
        await expectAppHealthy(dev);
    }, 600_000);
});
