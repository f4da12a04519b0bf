import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { BACKUP_CONTAINER_SUFFIX, BackupConfig, DataConfig, RestartPolicy } from "./config";
import { bindMount, envList, fixedContainerOptions, onNetwork, secretFile, serviceLabels } from "./containerSettings";
import { dataVolume } from "./dataVolume";
import { LogRotation, ServiceRuntime, containerRuntimeArgs, serviceRuntime } from "./runtimeSettings";

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
export const BACKUP_HEALTHCHECK: docker.types.input.ContainerHealthcheck = {
    tests: ["CMD", "/bin/bash", BACKUP_SCRIPT, "health"],
    interval: "15s",
    timeout: "10s",
    retries: 2,
    startPeriod: "10m",
};
/** `up` waits for the first backup of each store (taken at the container's start): it proves the backups work. */
export const BACKUP_WAIT_TIMEOUT_SECONDS = 600;

export interface BackupStoreArgs {
    readonly config: BackupConfig;
    readonly data: DataConfig;
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * The backup store: a data volume (kept on destroy, protected where asked, like the data it
 * backs up), or a folder of the Docker host (`backupHostFolder`), ideally on another disk.
 */
export class BackupStore extends pulumi.ComponentResource {
    public readonly volume?: docker.Volume;
    /** Where the backups go, for the stack's outputs: `volume backup_volume` or `host folder /srv/backups`. */
    public readonly location: pulumi.Output<string>;
    /** The container fields that mount the store at `BACKUP_PATH`. */
    public readonly volumes: docker.types.input.ContainerVolume[];
    public readonly mounts: docker.types.input.ContainerMount[];

    constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:backup:BackupStore", name, {}, opts);
        const { config } = args;
        if (config.hostFolder) {
            this.location = pulumi.output(`host folder ${config.hostFolder}`);
            this.volumes = [];
            this.mounts = [bindMount(config.hostFolder, BACKUP_PATH, false)];
        } else {
            this.volume = dataVolume(`${name}-volume`, { volumeName: config.volumeName, service: "backup", data: args.data, labels: args.labels }, this);
            this.location = pulumi.interpolate`volume ${this.volume.name}`;
            this.volumes = [{ volumeName: this.volume.name, containerPath: BACKUP_PATH }];
            this.mounts = [];
        }
        this.registerOutputs({ location: this.location });
    }
}

/** The Elasticsearch settings for snapshots on the store: `path.repo`, as an environment setting the image reads. */
export function elasticsearchSnapshotEnv(): Record<string, string> {
    return { "path.repo": SNAPSHOT_LOCATION };
}

/** One store to back up: the container of the service, and how its backup container reaches it. */
interface Target {
    readonly kind: BackupKind;
    /** The service's image (the backup container runs the store's own tools). */
    readonly image: pulumi.Input<string>;
    readonly containerName: pulumi.Input<string>;
    /** Waited for: the service's container, healthy. */
    readonly container: docker.Container;
    readonly envs: Record<string, string>;
    readonly uploads: docker.types.input.ContainerUpload[];
    readonly volumes: docker.types.input.ContainerVolume[];
    /** On the stack's network (the stores), or not (the notebooks volume needs none). */
    readonly network?: docker.Network;
}

export interface BackupsArgs {
    readonly config: BackupConfig;
    readonly store: BackupStore;
    readonly network: docker.Network;
    readonly restartPolicy: RestartPolicy;
    readonly log: LogRotation;
    readonly labels: Readonly<Record<string, string>>;
    readonly mysql: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly host: string;
        readonly port: number;
        readonly database: string;
        readonly rootPassword: pulumi.Input<string>;
        readonly container: docker.Container;
    };
    readonly elasticsearch: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly url: string;
        readonly container: docker.Container;
    };
    /** The notebooks volume, when Jupyter runs on one (a host folder is the host's to back up). */
    readonly notebooks?: {
        readonly image: pulumi.Input<string>;
        readonly containerName: string;
        readonly volumeName: pulumi.Input<string>;
        readonly container: docker.Container;
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
export function backupEnv(config: BackupConfig, kind: BackupKind, extra: Record<string, string>): string[] {
    return envList({
        BACKUP_INTERVAL_SECONDS: String(config.intervalSeconds),
        BACKUP_KIND: kind,
        BACKUP_RETENTION: String(config.retention),
        BACKUP_ROOT: BACKUP_PATH,
        ...extra,
    });
}

/**
 * Scheduled backups of the stack's stores, each by a small container running the store's own
 * image and tools with components/backup.sh: a consistent `mysqldump --single-transaction`,
 * compressed; an Elasticsearch snapshot into an fs repository on the store; an archive of the
 * notebooks volume. Each takes a backup when it starts, then one every interval, keeps the
 * newest `retention`, and reports unhealthy when its last backup failed or is too old.
 */
export class Backups extends pulumi.ComponentResource {
    public readonly containers: docker.Container[];
    public readonly containerNames: pulumi.Output<string>[];
    /** What is backed up, in the order of `containers`. */
    public readonly kinds: BackupKind[];

    constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:backup:Backups", name, {}, opts);
        const { config, store, mysql, elasticsearch, notebooks } = args;
        // Read when the program runs: a change of the script replaces the containers (uploads are
        // part of a container's definition).
        const script = fs.readFileSync(BACKUP_SCRIPT_SOURCE, "utf8");

        const targets: Target[] = [
            {
                kind: "mysql",
                image: mysql.image,
                containerName: `${mysql.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                container: mysql.container,
                envs: {
                    MYSQL_DATABASE: mysql.database,
                    MYSQL_HOST: mysql.host,
                    MYSQL_PORT: String(mysql.port),
                    MYSQL_ROOT_PASSWORD_FILE: BACKUP_MYSQL_PASSWORD_FILE,
                },
                uploads: [secretFile(BACKUP_MYSQL_PASSWORD_FILE, mysql.rootPassword, "0")],
                volumes: [],
                network: args.network,
            },
            {
                kind: "elasticsearch",
                image: elasticsearch.image,
                containerName: `${elasticsearch.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                container: elasticsearch.container,
                envs: { ELASTICSEARCH_UID, ELASTICSEARCH_URL: elasticsearch.url, SNAPSHOT_REPOSITORY },
                uploads: [],
                volumes: [],
                network: args.network,
            },
            ...(notebooks
                ? [
                      {
                          kind: "notebooks" as const,
                          image: notebooks.image,
                          containerName: `${notebooks.containerName}${BACKUP_CONTAINER_SUFFIX}`,
                          container: notebooks.container,
                          envs: { NOTEBOOKS_DIR: BACKUP_NOTEBOOKS_PATH },
                          uploads: [],
                          volumes: [{ volumeName: notebooks.volumeName, containerPath: BACKUP_NOTEBOOKS_PATH }],
                      },
                  ]
                : []),
        ];

        this.containers = targets.map(
            (t) =>
                new docker.Container(
                    `${name}-${t.kind}`,
                    {
                        name: t.containerName,
                        image: t.image,
                        // The store's image with the script in place of its own entrypoint (the
                        // server's start-up), as root: it writes the store's root-owned folders.
                        entrypoints: ["/bin/bash", BACKUP_SCRIPT],
                        command: ["schedule"],
                        user: "root",
                        envs: backupEnv(config, t.kind, t.envs),
                        uploads: [{ file: BACKUP_SCRIPT, content: script, owner: "0", group: "0", permissions: "0555" }, ...t.uploads],
                        volumes: [...store.volumes, ...t.volumes],
                        ...(store.mounts.length > 0 ? { mounts: store.mounts } : {}),
                        ...(t.network ? { networksAdvanced: onNetwork(t.network, `${t.kind}-backup`) } : {}),
                        healthcheck: BACKUP_HEALTHCHECK,
                        wait: true,
                        waitTimeout: BACKUP_WAIT_TIMEOUT_SECONDS,
                        // bash is not meant to be PID 1: Docker's init reaps and passes the stop signal on.
                        init: true,
                        restart: args.restartPolicy,
                        labels: serviceLabels(args.labels, `${t.kind}-backup`),
                        ...containerRuntimeArgs(backupRuntime(config, args.log, t.kind)),
                    } satisfies docker.ContainerArgs,
                    // Created once the store is healthy, so that the first backup finds it.
                    fixedContainerOptions(this, [t.container]),
                ),
        );
        this.containerNames = this.containers.map((c) => c.name);
        this.kinds = targets.map((t) => t.kind);
        this.registerOutputs({ containerNames: this.containerNames });
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
    return pulumi.all([store.location, ...backups.containerNames]).apply(([location, ...containers]) => ({
        location,
        interval: config.interval,
        retention: config.retention,
        mysql: `${location}, mysql/ (gzipped mysqldump files)`,
        elasticsearch: `${location}, elasticsearch/ (snapshot repository ${SNAPSHOT_REPOSITORY})`,
        ...(backups.kinds.includes("notebooks") ? { notebooks: `${location}, notebooks/ (tar.gz archives)` } : {}),
        containers,
    }));
}
