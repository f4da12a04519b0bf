/**
 * components/backup.sh on this machine, for what it does the same way for every store: the
 * notebooks kind needs only tar and gzip, so the schedule's backup, retention, listing, restore
 * and health check run here as in the container. (The real-engine suite runs every kind.)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BACKUP_SCRIPT_SOURCE } from "../components/backup";

describe("the backup script", () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const run = (...args: string[]) => spawnSync("bash", [BACKUP_SCRIPT_SOURCE, ...args], { env, encoding: "utf8" });
    const list = () => run("list").stdout.trim().split("\n").filter(Boolean);

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-backup-script-"));
        for (const d of ["backups", "notebooks", "state"]) fs.mkdirSync(path.join(dir, d));
        fs.writeFileSync(path.join(dir, "notebooks", "analysis.ipynb"), '{"cells": []}');
        env = {
            PATH: process.env.PATH,
            BACKUP_KIND: "notebooks",
            BACKUP_ROOT: path.join(dir, "backups"),
            BACKUP_STATE_DIR: path.join(dir, "state"),
            BACKUP_INTERVAL_SECONDS: "3600",
            BACKUP_RETENTION: "2",
            NOTEBOOKS_DIR: path.join(dir, "notebooks"),
        };
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is unhealthy before the first backup, healthy after it, and names the backup it took", () => {
        expect(run("health")).toMatchObject({ status: 1, stdout: "no backup has succeeded yet\n" });
        const now = run("now");
        expect(now.status).toBe(0);
        expect(now.stdout).toMatch(/^notebooks\/notebooks-\d{8}-\d{6}\.tar\.gz\n$/);
        expect(run("health")).toMatchObject({ status: 0, stdout: expect.stringMatching(/^last successful backup \d+ s ago/) });
    });

    it("keeps exactly the configured number of backups, the newest, and names them newest first", () => {
        const taken = [1, 2, 3, 4].map(() => run("now").stdout.trim());
        expect(new Set(taken).size).toBe(4);
        expect(list()).toEqual([taken[3], taken[2]]);
        expect(fs.readdirSync(path.join(dir, "backups", "notebooks")).sort()).toEqual([taken[2], taken[3]].map((t) => path.basename(t)));
    });

    it("restores a backup in place of what is there, and refuses a name it does not keep", () => {
        const taken = run("now").stdout.trim();
        fs.rmSync(path.join(dir, "notebooks", "analysis.ipynb"));
        fs.writeFileSync(path.join(dir, "notebooks", "later.ipynb"), "{}");
        expect(run("restore", taken).status).toBe(0);
        expect(fs.readdirSync(path.join(dir, "notebooks"))).toEqual(["analysis.ipynb"]);
        expect(run("restore", "notebooks/notebooks-20000101-000000.tar.gz")).toMatchObject({ status: 1, stderr: expect.stringContaining("no backup notebooks-20000101-000000.tar.gz here") });
    });

    it("turns unhealthy when the last backup failed, leaving no partial file, and healthy again after a good one", () => {
        expect(run("now").status).toBe(0);
        fs.rmSync(path.join(dir, "notebooks"), { recursive: true });
        expect(run("now").status).toBe(1);
        expect(run("health")).toMatchObject({ status: 1, stdout: expect.stringMatching(/^the last backup failed \d+ s ago/) });
        expect(fs.readdirSync(path.join(dir, "backups", "notebooks")).filter((f) => f.endsWith(".partial"))).toEqual([]);
        fs.mkdirSync(path.join(dir, "notebooks"));
        expect(run("now").status).toBe(0);
        expect(run("health").status).toBe(0);
    });

    it("turns unhealthy when the last success is older than twice the interval, even one kept on the store by an earlier container", () => {
        const old = Math.floor(Date.now() / 1000) - 2 * 3600 - 60;
        fs.mkdirSync(path.join(dir, "backups", ".status"));
        fs.writeFileSync(path.join(dir, "backups", ".status", "notebooks.last-success"), `${old} notebooks/notebooks-old.tar.gz\n`);
        expect(run("health")).toMatchObject({ status: 1, stdout: expect.stringMatching(/^the last successful backup is \d+ s old, more than twice the interval of 3600 s/) });
        fs.writeFileSync(path.join(dir, "backups", ".status", "notebooks.last-success"), `${old + 120} notebooks/notebooks-old.tar.gz\n`);
        expect(run("health").status).toBe(0);
    });

    it("dumps MySQL consistently (--single-transaction), compressed, with the password from its file and never on the command line", () => {
        // A stand-in mysqldump on the PATH records how it is called and answers as a complete dump.
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(
            path.join(bin, "mysqldump"),
            `#!/bin/bash\nprintf '%s\\n' "$@" > "${dir}/args"\necho "$MYSQL_PWD" > "${dir}/pwd"\necho "CREATE TABLE t (id INT);"\necho "-- Dump completed on 2025-01-01"\n`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(dir, "root_password"), "s3cret-root-password\n", { mode: 0o400 });
        env = {
            ...env,
            PATH: `${bin}:${process.env.PATH}`,
            BACKUP_KIND: "mysql",
            MYSQL_HOST: "mysql",
            MYSQL_DATABASE: "bas_dev",
            MYSQL_ROOT_PASSWORD_FILE: path.join(dir, "root_password"),
        };
        const now = run("now");
        expect(now.status).toBe(0);
        expect(now.stdout).toMatch(/^mysql\/bas_dev-\d{8}-\d{6}\.sql\.gz\n$/);
        const args = fs.readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
        expect(args).toEqual(expect.arrayContaining(["--single-transaction", "--quick", "--routines", "--triggers", "--events", "--databases", "bas_dev", "--user=root"]));
        expect(args.join(" ")).not.toContain("s3cret");
        expect(fs.readFileSync(path.join(dir, "pwd"), "utf8").trim()).toBe("s3cret-root-password");
        const dump = spawnSync("gzip", ["-dc", path.join(dir, "backups", now.stdout.trim())], { encoding: "utf8" }).stdout;
        expect(dump).toContain("-- Dump completed");
    });

    it("refuses a dump that did not get to its end, keeping no file and turning unhealthy", () => {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "mysqldump"), '#!/bin/bash\necho "CREATE TABLE t (id INT);"\n', { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "root_password"), "s3cret-root-password\n");
        env = { ...env, PATH: `${bin}:${process.env.PATH}`, BACKUP_KIND: "mysql", MYSQL_HOST: "mysql", MYSQL_DATABASE: "bas_dev", MYSQL_ROOT_PASSWORD_FILE: path.join(dir, "root_password") };
        expect(run("now")).toMatchObject({ status: 1, stderr: expect.stringContaining("the dump of bas_dev is incomplete") });
        expect(fs.readdirSync(path.join(dir, "backups", "mysql"))).toEqual([]);
        expect(run("health").status).toBe(1);
    });
});
