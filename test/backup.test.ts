import { containerHealthcheck } from "../components/containerTarget";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BACKUP_HEALTHCHECK, BACKUP_SCRIPT, BACKUP_SCRIPT_SOURCE, SNAPSHOT_LOCATION } from "../components/backup";
import { intervalSeconds } from "../components/config";
import { configProblems as problems, parseDevConfig as parse } from "./support/fixtures";
import { Declared, TYPES, declareStack, envMap, plainInputsText, runProgram, stackConfig, valueOf } from "./support/program";

const backupContainers = (declared: Declared) =>
    declared
        .ofType(TYPES.container)
        .filter((c) => (c.inputs.name as string).endsWith("-backup"))
        .sort((a, b) => (a.inputs.name < b.inputs.name ? -1 : 1));

describe("scheduled backups in the prod stack", () => {
    let declared: Declared;
    beforeAll(async () => {
        declared = await declareStack("prod");
    });
    const byName = (name: string) => declared.containersByDockerName().get(name)!;

    it("back up MySQL and Elasticsearch, each by a container running its store's own image", () => {
        expect(backupContainers(declared).map((c) => [c.inputs.name, c.inputs.image])).toEqual([
            ["prod-sb-elasticsearch-backup", "sha256:pulled-elasticsearch:7.17.28"],
            ["prod-sb-mysql-backup", "sha256:pulled-mysql:5.7.44"],
        ]);
    });

    it("run the script from the repository, uploaded as a file, every 6 hours, keeping 28", () => {
        const script = fs.readFileSync(BACKUP_SCRIPT_SOURCE, "utf8");
        for (const c of backupContainers(declared)) {
            expect(c.inputs.entrypoints).toEqual(["/bin/bash", BACKUP_SCRIPT]);
            expect(c.inputs.command).toEqual(["schedule"]);
            expect(c.inputs.uploads[0]).toEqual({ file: BACKUP_SCRIPT, content: script, owner: "0", group: "0", permissions: "0555" });
            expect(envMap(c.inputs.envs)).toMatchObject({ BACKUP_INTERVAL_SECONDS: "21600", BACKUP_RETENTION: "28", BACKUP_ROOT: "/backups" });
        }
    });

    it("dump MySQL as root with the password as a secret file readable by root alone, never in the environment", () => {
        const mysql = byName("prod-sb-mysql-backup");
        const env = envMap(mysql.inputs.envs);
        expect(env).toMatchObject({ BACKUP_KIND: "mysql", MYSQL_HOST: "mysql", MYSQL_DATABASE: "bas_prod", MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/mysql_root_password" });
        expect(mysql.secretInputs.has("uploads")).toBe(true);
        expect(mysql.inputs.uploads[1]).toEqual({
            file: "/run/secrets/mysql_root_password",
            content: "generated-mysql-root-password",
            owner: "0",
            group: "0",
            permissions: "0400",
        });
        // The same password as the MySQL container's, and nowhere in plain text.
        expect(byName("prod-sb-mysql").inputs.uploads.find((u: { file: string }) => u.file.endsWith("root_password")).content).toBe("generated-mysql-root-password");
        for (const c of backupContainers(declared)) expect(plainInputsText(c)).not.toContain("generated-");
    });

    it("put the snapshot repository on the backup store, which Elasticsearch mounts as its path.repo", () => {
        const es = byName("prod-sb-elasticsearch");
        expect(envMap(es.inputs.envs)["path.repo"]).toBe(SNAPSHOT_LOCATION);
        expect(es.inputs.volumes).toEqual([
            { volumeName: "prod-esdata1", containerPath: "/usr/share/elasticsearch/data" },
            { volumeName: "prod-backup_volume", containerPath: "/backups" },
        ]);
        expect(envMap(byName("prod-sb-elasticsearch-backup").inputs.envs)).toMatchObject({
            BACKUP_KIND: "elasticsearch",
            ELASTICSEARCH_URL: "http://elasticsearch:9200",
            SNAPSHOT_REPOSITORY: "sb-backups",
        });
    });

    it("keep the backups on a protected volume that destroy leaves in place", () => {
        const volume = declared.one(TYPES.volume, "backup-store-volume");
        expect(volume.inputs.name).toBe("prod-backup_volume");
        expect(volume.opts).toMatchObject({ protect: true, retainOnDelete: true });
        for (const c of backupContainers(declared)) expect(c.inputs.volumes).toEqual([{ volumeName: "prod-backup_volume", containerPath: "/backups" }]);
    });

    it("report their health from the last backup, wait for the first one, and start once their store is healthy", () => {
        for (const c of backupContainers(declared)) {
            expect(c.inputs.healthcheck).toEqual(containerHealthcheck(BACKUP_HEALTHCHECK));
            expect(c.inputs).toMatchObject({ wait: true, waitTimeout: 600, init: true, restart: "always", user: "root" });
            expect(c.opts).toMatchObject({ deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] });
        }
        expect(byName("prod-sb-mysql-backup").dependencies).toContain("mysql-container");
        expect(byName("prod-sb-elasticsearch-backup").dependencies).toContain("elasticsearch-container");
    });

    it("join the stack's network to reach the stores", () => {
        expect(byName("prod-sb-mysql-backup").inputs.networksAdvanced).toEqual([{ name: "prod-sb-network", aliases: ["mysql-backup"] }]);
        expect(byName("prod-sb-elasticsearch-backup").inputs.networksAdvanced).toEqual([{ name: "prod-sb-network", aliases: ["elasticsearch-backup"] }]);
    });

    it("export where the backups go, how often and how many are kept", async () => {
        const run = await runProgram("prod", stackConfig("prod"));
        expect(await valueOf(run.outputs.backups)).toEqual({
            location: "volume prod-backup_volume",
            interval: "6h",
            retention: 28,
            mysql: "volume prod-backup_volume, mysql/ (gzipped mysqldump files)",
            elasticsearch: "volume prod-backup_volume, elasticsearch/ (snapshot repository sb-backups)",
            containers: ["prod-sb-mysql-backup", "prod-sb-elasticsearch-backup"],
        });
    });
});

describe("backups in the dev stack", () => {
    it("are off by default: no backup container, no backup volume, no path.repo, no output", async () => {
        const run = await runProgram("dev", stackConfig("dev"));
        const declared = new Declared(run);
        expect(backupContainers(declared)).toEqual([]);
        expect(declared.ofType(TYPES.volume).map((v) => v.inputs.name)).not.toContain("backup_volume");
        expect(envMap(declared.container("elasticsearch-container").inputs.envs)).not.toHaveProperty("path.repo");
        expect(declared.container("elasticsearch-container").inputs.volumes).toHaveLength(1);
        expect(run.outputs).not.toHaveProperty("backups");
    });

    it("back up the notebooks volume too when turned on, with the notebook image and DAC_OVERRIDE to read the notebook user's files", async () => {
        const declared = await declareStack("dev", { backupEnabled: true });
        expect(backupContainers(declared).map((c) => c.inputs.name)).toEqual(["jupyter-backup", "sb-elasticsearch-backup", "sb-mysql-backup"]);
        const notebooks = declared.containersByDockerName().get("jupyter-backup")!;
        expect(notebooks.inputs.image).toBe("sha256:pulled-quay.io/jupyter/datascience-notebook:2026-08-24");
        expect(notebooks.inputs.volumes).toEqual([
            { volumeName: "backup_volume", containerPath: "/backups" },
            { volumeName: "jupyter_volume", containerPath: "/notebooks" },
        ]);
        expect(notebooks.inputs.capabilities).toEqual({ drops: ["ALL"], adds: ["DAC_OVERRIDE"] });
        expect(notebooks.inputs.networksAdvanced).toBeUndefined();
        expect(notebooks.dependencies).toContain("jupyter-container");
    });

    it("leave a notebooks host folder to its host, and bind a backup host folder instead of the volume", async () => {
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), "sb-backups-"));
        try {
            const run = await runProgram("dev", stackConfig("dev", { backupEnabled: true, backupHostFolder: folder, jupyterHostFolder: folder }));
            const declared = new Declared(run);
            expect(backupContainers(declared).map((c) => c.inputs.name)).toEqual(["sb-elasticsearch-backup", "sb-mysql-backup"]);
            expect(declared.ofType(TYPES.volume).map((v) => v.inputs.name)).not.toContain("backup_volume");
            for (const name of ["sb-mysql-backup", "sb-elasticsearch-backup", "sb-elasticsearch"]) {
                const c = declared.containersByDockerName().get(name)!;
                expect({ name, mounts: c.inputs.mounts }).toEqual({ name, mounts: [{ type: "bind", source: folder, target: "/backups", readOnly: false }] });
            }
            expect(await valueOf(run.outputs.backups)).toMatchObject({ location: `host folder ${folder}` });
        } finally {
            fs.rmSync(folder, { recursive: true, force: true });
        }
    });
});

describe("backup config", () => {
    it.each([
        ["1m", 60],
        ["30m", 1800],
        ["6h", 21600],
        ["1d", 86400],
        ["7d", 604800],
        ["6", undefined],
        ["6 h", undefined],
        ["0h", undefined],
        ["1.5h", undefined],
        ["6s", undefined],
    ])("reads the interval %s as %s seconds", (interval, seconds) => {
        expect(intervalSeconds(interval)).toBe(seconds);
    });

    it("is typed and complete when on", () => {
        expect(parse({ backupEnabled: true }).backup).toEqual({
            interval: "24h",
            intervalSeconds: 86400,
            retention: 7,
            volumeName: "backup_volume",
            hostFolder: "",
            limits: { memoryMb: 256, cpus: "0.5", stopGraceSeconds: 30 },
        });
    });

    it("refuses a bad interval, retention, host folder or limit, even with backups off, every problem at once", () => {
        expect(problems({ backupInterval: "8d", backupRetention: 0, backupHostFolder: "backups", backupMemoryMb: 10, backupCpus: "0" })).toEqual([
            'smart-building:backupInterval: "8d" is not valid; expected a backup interval from "1m" to "7d": a whole number of minutes, hours or days such as "30m", "6h" or "1d".',
            'smart-building:backupRetention: "0" is not valid; expected an integer from 1 to 1000.',
            'smart-building:backupHostFolder: "backups" is not valid; expected an absolute path to an existing folder, or "" for none.',
            'smart-building:backupMemoryMb: "10" is not valid; expected an integer from 64 to 1048576.',
            'smart-building:backupCpus: "0" is not valid; expected a number of CPUs above 0 such as "0.5" or "2" (at most two decimals).',
        ]);
        expect(problems({ backupInterval: "6 hours" })).toHaveLength(1);
        expect(problems({ backupInterval: "30s" })).toHaveLength(1);
        expect(problems({ backupHostFolder: "/no/such/folder" })[0]).toContain("/no/such/folder is not an existing folder");
    });

    it("refuses a backup volume or container name that another one of the stack already has", () => {
        expect(problems({ backupEnabled: true, backupVolumeName: "mysql_volume" })).toEqual([
            'smart-building:mysqlVolumeName, smart-building:backupVolumeName all give the volume name "mysql_volume"; each must be different.',
        ]);
        expect(problems({ backupEnabled: true, appContainerName: "sb-mysql-backup" })).toEqual([
            'smart-building:appContainerName, smart-building:mysqlContainerName all give the container name "sb-mysql-backup"; each must be different.',
        ]);
    });
});
