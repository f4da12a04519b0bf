import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { BACKUP_CONTAINER_SUFFIX, BackupConfig, DataConfig } from "./config";
import { LogRotation, ServiceRuntime, serviceRuntime } from "./runtimeSettings";
import { BindMount, HealthCheck, ServiceDescription, ServiceFile, VolumeMount, secretFile } from "./serviceDescription";
import { Target, Workload, dataVolume, deployService } from "./target";

/** Where the backup store (volume or host folder) is mounted, in the backup containers and in Elasticsearch. */
export const BACKUP_PATH = "/backups";
/** The script every backup container runs (components/backup.sh), uploaded as a file. */
export const BACKUP_SCRIPT = "/usr/local/bin/sb-backup";
export const BACKUP_SCRIPT_SOURCE = path.join(__dirname, "backup.sh");
/** The Elasticsearch snapshot repository the stack registers, and its folder on the store (`path.repo`). */
export const SNAPSHOT_REPOSITORY = "sb-backups";
export const SNAPSHOT_LOCATION = `${BACKUP_PATH}/elasticsearch`;
/** The root password as the MySQL backup container reads it: a file, never an environment variable. */
export const BACKUP_MYSQL_PASSWORD_FILE = "/run/secrets/mysql_root_password";
/** Where the notebooks volume is mounted in its backup container. */
export const BACKUP_NOTEBOOKS_PATH = "/notebooks";
/** The uid the Elasticsearch node runs as (the image's `elasticsearch` user); it owns the snapshot folder. */
export const ELASTICSEARCH_UID = "1000";

export type BackupKind = "mysql" | "elasticsearch" | "notebooks";

/**
 * What each backup container keeps, running as root with every other capability dropped: the
 * MySQL one writes root's own folders on the store and reads root's password file, which needs
 * none; the Elasticsearch one hands the snapshot folder to the node's user (CHOWN), without which
 * the node cannot write its repository; the notebooks one reads and, on a restore, replaces the
 * notebook user's files (DAC_OVERRIDE). The real-engine suite shows these are enough; that CHOWN
 * and DAC_OVERRIDE are each needed follows from what the script does, not from a run without them.
 */
export const BACKUP_CAPABILITIES: Record<BackupKind, string[]> = {
    mysql: [],
    elasticsearch: ["CHOWN"],
    notebooks: ["DAC_OVERRIDE"],
};

/**
 * Healthy while the last backup succeeded and the last success is at most twice the interval
 * old (sb-backup health). The start period covers a first backup of a large store; the check
 * itself only reads two small files, so it runs often, and a failed backup shows within about
 * half a minute.
 */
export const BACKUP_HEALTHCHECK: HealthCheck = {
    tests: ["CMD", "/bin/bash", BACKUP_SCRIPT, "health"],
    interval: "15s",
    timeout: "10s",
    retries: 2,
    startPeriod: "10m",
};
/** `up` waits for the first backup of each store (taken at the container's start): it proves the backups work. */
export const BACKUP_WAIT_TIMEOUT_SECONDS = 600;

export interface BackupStoreArgs {
    readonly target: Target;
    readonly config: BackupConfig;
    readonly data: DataConfig;
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * The backup store: a data volume (kept on destroy, protected where asked, like the data it
 * backs up), or a folder of the Docker host (`backupHostFolder`), ideally on another disk.
 */
export class BackupStore extends pulumi.ComponentResource {
    /** Where the backups go, for the stack's outputs: `volume backup_volume` or `host folder /srv/backups`. */
    public readonly location: pulumi.Output<string>;
    /** What mounts the store at `BACKUP_PATH` in a service. */
    public readonly volumes: VolumeMount[];
    public readonly binds: BindMount[];

    constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:backup:BackupStore", name, {}, opts);
        const { config } = args;
        if (config.hostFolder) {
            this.location = pulumi.output(`host folder ${config.hostFolder}`);
            this.volumes = [];
            this.binds = [{ source: config.hostFolder, target: BACKUP_PATH, readOnly: false }];
        } else {
            const volume = dataVolume(`${name}-volume`, { volumeName: config.volumeName, service: "backup", data: args.data, labels: args.labels }, args.target, this);
            this.location = pulumi.interpolate`volume ${volume}`;
            this.volumes = [{ source: volume, target: BACKUP_PATH }];
            this.binds = [];
        }
        this.registerOutputs({ location: this.location });
    }
}

/** The Elasticsearch settings for snapshots on the store: `path.repo`, as an environment setting the image reads. */
export function elasticsearchSnapshotEnv(): Record<string, string> {
    return { "path.repo": SNAPSHOT_LOCATION };
}

/** One store to back up: its service, and how its backup reaches it. */
interface BackedUp {
    readonly kind: BackupKind;
    /** The service's image (the backup container runs the store's own tools). */
    readonly image: pulumi.Input<string>;
    readonly containerName: string;
    /** Waited for: the service, healthy. */
    readonly workload: Workload;
    readonly envs: Record<string, string>;
    readonly files: ServiceFile[];
    readonly volumes: VolumeMount[];
    /** On the stack's network (the stores), or not (the notebooks volume needs none). */
    readonly onNetwork: boolean;
}

export interface BackupsArgs {
    readonly config: BackupConfig;
    readonly target: Target;
    readonly store: BackupStore;
    readonly log: LogRotation;
    readonly labels: Readonly<Record<string, string>>;
    readonly mysql: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly host: string;
        readonly port: number;
        readonly database: string;
        readonly rootPassword: pulumi.Input<string>;
        readonly workload: Workload;
    };
    readonly elasticsearch: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly url: string;
        readonly workload: Workload;
    };
    /** The notebooks volume, when Jupyter runs on one (a host folder is the host's to back up). */
    readonly notebooks?: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly volumeName: pulumi.Input<string>;
        readonly workload: Workload;
    };
}

/** A backup container's limits, logs, privileges and stop. */
export function backupRuntime(config: BackupConfig, log: LogRotation, kind: BackupKind): ServiceRuntime {
    // The script ends on SIGTERM (Docker's init passes it on), ending a backup under way:
    // its partial file is never taken for a backup, and is removed by the next one.
    // The root filesystem stays writable: the provider uploads the script (and the password) into "/".
    return serviceRuntime(config.limits, log, { noNewPrivileges: true, capabilities: BACKUP_CAPABILITIES[kind] });
}

/** The environment every backup container shares: what to back up, how often, how many to keep. */
export function backupEnv(config: BackupConfig, kind: BackupKind, extra: Record<string, string>): Record<string, string> {
    return {
        BACKUP_INTERVAL_SECONDS: String(config.intervalSeconds),
        BACKUP_KIND: kind,
        BACKUP_RETENTION: String(config.retention),
        BACKUP_ROOT: BACKUP_PATH,
        ...extra,
    };
}

/**
 * Scheduled backups of the stack's stores, each by a small container running the store's own
 * image and tools with components/backup.sh: a consistent `mysqldump --single-transaction`,
 * compressed; an Elasticsearch snapshot into an fs repository on the store; an archive of the
 * notebooks volume. Each takes a backup when it starts, then one every interval, keeps the
 * newest `retention`, and reports unhealthy when its last backup failed or is too old.
 */
export class Backups extends pulumi.ComponentResource {
    /** The containers or swarm services. */
    public readonly workloads: Workload[];
    public readonly names: pulumi.Output<string>[];
    /** What is backed up, in the order of `containers`. */
    public readonly kinds: BackupKind[];

    constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:backup:Backups", name, {}, opts);
        const { config, store, mysql, elasticsearch, notebooks } = args;
        // Read when the program runs: a change of the script replaces the containers (uploads are
        // part of a container's definition).
        const script = fs.readFileSync(BACKUP_SCRIPT_SOURCE, "utf8");

        const targets: BackedUp[] = [
            {
                kind: "mysql",
                image: mysql.image,
                containerName: `${mysql.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                workload: mysql.workload,
                envs: {
                    MYSQL_DATABASE: mysql.database,
                    MYSQL_HOST: mysql.host,
                    MYSQL_PORT: String(mysql.port),
                    MYSQL_ROOT_PASSWORD_FILE: BACKUP_MYSQL_PASSWORD_FILE,
                },
                files: [secretFile("mysql-root-password", BACKUP_MYSQL_PASSWORD_FILE, mysql.rootPassword, "0")],
                volumes: [],
                onNetwork: true,
            },
            {
                kind: "elasticsearch",
                image: elasticsearch.image,
                containerName: `${elasticsearch.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                workload: elasticsearch.workload,
                envs: { ELASTICSEARCH_UID, ELASTICSEARCH_URL: elasticsearch.url, SNAPSHOT_REPOSITORY },
                files: [],
                volumes: [],
                onNetwork: true,
            },
            ...(notebooks
                ? [
                      {
                          kind: "notebooks" as const,
                          image: notebooks.image,
                          containerName: `${notebooks.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                          workload: notebooks.workload,
                          envs: { NOTEBOOKS_DIR: BACKUP_NOTEBOOKS_PATH },
                          files: [],
                          volumes: [{ source: notebooks.volumeName, target: BACKUP_NOTEBOOKS_PATH }],
                          onNetwork: false,
                      },
                  ]
                : []),
        ];

        const scriptFile: ServiceFile = { key: "script", path: BACKUP_SCRIPT, content: script, secret: false, uid: "0", gid: "0", mode: 0o555 };
        this.workloads = targets.map((t) => {
            const description: ServiceDescription = {
                name: t.containerName,
                service: `${t.kind}-backup`,
                onNetwork: t.onNetwork,
                image: t.image,
                // The store's image with the script in place of its own entrypoint (the
                // server's start-up), as root: it writes the store's root-owned folders.
                entrypoint: ["/bin/bash", BACKUP_SCRIPT],
                command: ["schedule"],
                user: "root",
                // bash is not meant to be PID 1: Docker's init reaps and passes the stop signal on.
                init: true,
                env: backupEnv(config, t.kind, t.envs),
                files: [scriptFile, ...t.files],
                volumes: [...store.volumes, ...t.volumes],
                binds: store.binds,
                ports: [],
                healthcheck: BACKUP_HEALTHCHECK,
                runtime: backupRuntime(config, args.log, t.kind),
                waitTimeoutSeconds: BACKUP_WAIT_TIMEOUT_SECONDS,
                // It mounts the stores' volumes: on a swarm, it runs on the data node with them.
                kind: "stateful",
                labels: args.labels,
            };
            // Created once the store is healthy, so that the first backup finds it.
            return deployService(`${name}-${t.kind}`, description, args.target, this, [t.workload]);
        });
        this.names = this.workloads.map((w) => w.name);
        this.kinds = targets.map((t) => t.kind);
        this.registerOutputs({ names: this.names });
    }
}

/** The `backups` stack output. */
export interface BackupsSummary {
    /** The store: `volume <name>` or `host folder <path>`. */
    readonly location: string;
    readonly interval: string;
    readonly retention: number;
    /** Where each store's backups go on it. */
    readonly mysql: string;
    readonly elasticsearch: string;
    readonly notebooks?: string;
    /** The backup containers (`docker logs` them; `npm run backup` runs them now). */
    readonly containers: string[];
}

/** Where backups go, how often, how many are kept, and which container takes them. */
export function backupsOutput(config: BackupConfig, store: BackupStore, backups: Backups): pulumi.Output<BackupsSummary> {
    return pulumi.all([store.location, ...backups.names]).apply(([location, ...containers]) => ({
        location,
        interval: config.interval,
        retention: config.retention,
        mysql: `${location}, mysql/ (gzipped mysqldump files)`,
        elasticsearch: `${location}, elasticsearch/ (snapshot repository ${SNAPSHOT_REPOSITORY})`,
        ...(backups.kinds.includes("notebooks") ? { notebooks: `${location}, notebooks/ (tar.gz archives)` } : {}),
        containers,
    }));
}
