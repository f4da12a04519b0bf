import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { ConfigReader, DOCKER_NAME, IMAGE_REPOSITORY } from "./configReader";
import { LOG_DRIVERS, LogRotation, ServiceLimits } from "./runtimeSettings";

/**
 * The whole stack's settings, read once from Pulumi config and validated before any
 * resource is declared. Every key is declared, with its default and description, in
 * `Pulumi.yaml`: that file is the single source of defaults (the CLI applies them).
 */
export interface StackConfig {
    readonly stack: string;
    /** "production" stacks are held to stricter rules (see the policy pack). */
    readonly environment: Environment;
    readonly docker: DockerHostConfig;
    /** Where the services run: containers on one Docker engine, or services on a Docker Swarm. */
    readonly target: TargetKind;
    /** The swarm's settings; undefined on the `engine` target. */
    readonly swarm?: SwarmConfig;
    /** The host name users reach the Docker host by; used in the URLs the stack exports. */
    readonly publicHost: string;
    readonly restartPolicy: RestartPolicy;
    /** Log rotation of every container. */
    readonly log: LogRotation;
    readonly data: DataConfig;
    readonly networkName: string;
    readonly mysql: MySqlConfig;
    readonly elasticsearch: ElasticsearchConfig;
    readonly app: AppConfig;
    /** Undefined when the Jupyter workspace is switched off for this stack. */
    readonly jupyter?: JupyterConfig;
    /** Undefined when scheduled backups are off for this stack. */
    readonly backup?: BackupConfig;
}

export const TARGETS = ["engine", "swarm"] as const;
export type TargetKind = (typeof TARGETS)[number];

export const ENDPOINT_MODES = ["vip", "dnsrr"] as const;
export const PUBLISH_MODES = ["ingress", "host"] as const;

/** How the stack's services run on a Docker Swarm (`target: swarm`). */
export interface SwarmConfig {
    /** How a service's name resolves: one virtual IP balanced by IPVS (vip), or every task's IP (dnsrr). */
    readonly endpointMode: (typeof ENDPOINT_MODES)[number];
    /** Published ports through the routing mesh on every node (ingress), or on the task's own node (host). */
    readonly publishMode: (typeof PUBLISH_MODES)[number];
    /** The node label (`docker node update --label-add <label>=true`) of the node that holds the data volumes. */
    readonly dataNodeLabel: string;
    /** Where images built by the stack are pushed, since other nodes cannot see a local build. */
    readonly registry: RegistryConfig;
}

export interface RegistryConfig {
    /** `host[:port]`, e.g. "registry.example.com:5000". */
    readonly server: string;
    /** "" for a registry without authentication. */
    readonly username: string;
    readonly password?: pulumi.Output<string>;
}

export const ENVIRONMENTS = ["development", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** "no" is left out on purpose: every container of the stack comes back after a reboot or a crash. */
export const RESTART_POLICIES = ["unless-stopped", "always", "on-failure"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export interface DockerHostConfig {
    /** `unix:///var/run/docker.sock`, `ssh://user@host`, `tcp://host:2376`, ... */
    readonly host: string;
    /** Extra ssh options for an `ssh://` host. */
    readonly sshOpts: string[];
}

export interface DataConfig {
    /** Keep data volumes in Docker when they leave the stack (`pulumi destroy`). */
    readonly retainOnDelete: boolean;
    /** Refuse any plan that would delete a data volume. */
    readonly protect: boolean;
}

/** A service's share of the host, and how long it is given to stop. */
/** Where a container port is published on the Docker host. */
export interface Published {
    readonly ip: string;
    readonly port: number;
}

export interface MySqlConfig {
    /** Passwords set in config (as secrets) instead of generated, e.g. to reuse a kept volume. */
    readonly rootPassword?: pulumi.Output<string>;
    readonly password?: pulumi.Output<string>;
    readonly image: string;
    readonly containerName: string;
    readonly volumeName: string;
    readonly user: string;
    readonly database: string;
    /** Undefined when the data ports are not published (`dataPublishAddress: none`). */
    readonly published?: Published;
    /** `innodb_buffer_pool_size` as the server takes it (`128M`, `1G`). */
    readonly bufferPoolSize: string;
    readonly limits: ServiceLimits;
}

export interface ElasticsearchConfig {
    readonly image: string;
    readonly containerName: string;
    readonly volumeName: string;
    /** JVM heap sizes as the JVM writes them (`256m`, `1g`). */
    readonly heapMin: string;
    readonly heapMax: string;
    readonly publishedHttp?: Published;
    readonly publishedTransport?: Published;
    readonly limits: ServiceLimits;
}

export interface AppConfig {
    /** Local tag given to the built image (never pushed). */
    readonly imageName: string;
    /** The Node.js base image, handed to `app/Dockerfile` as the `NODE_IMAGE` build argument. */
    readonly nodeImage: string;
    readonly buildPlatform: string;
    readonly containerName: string;
    readonly published: Published;
    /** Host folder bound over the image's dashboard folder, "" for none. */
    readonly contentDir: string;
    /** App instances on a swarm (one engine runs one container). */
    readonly replicas: number;
    readonly limits: ServiceLimits;
}

export interface JupyterConfig {
    /** The base image, `<registry>/<repository>:<tag>`. */
    readonly baseImage: string;
    readonly containerName: string;
    readonly containerPort: number;
    readonly published: Published;
    readonly volumeName: string;
    readonly mountPath: string;
    /** A folder of the Docker host bound at `mountPath` instead of the volume, "" for none. */
    readonly hostFolder: string;
    readonly grantSudo: boolean;
    readonly pipPackages: string[];
    readonly extraFilesDir: string;
    readonly extraFilesPath: string;
    /** Local tag of the derived image, built only when there are extras. */
    readonly derivedImageName: string;
    /** The login token set in config (as a secret), or undefined to have one generated. */
    readonly token?: pulumi.Output<string>;
    readonly buildPlatform: string;
    readonly limits: ServiceLimits;
}

/** Scheduled backups of MySQL, Elasticsearch and the notebooks (see components/backup.ts). */
export interface BackupConfig {
    /** The schedule as written in config ("6h"), and in seconds. */
    readonly interval: string;
    readonly intervalSeconds: number;
    /** Backups kept per store, the newest ones; older ones are deleted after each successful backup. */
    readonly retention: number;
    /** The backup volume, used when `hostFolder` is "". */
    readonly volumeName: string;
    /** An absolute folder of the Docker host the backups go to instead of the volume, "" for none. */
    readonly hostFolder: string;
    /** Limits of each backup container. */
    readonly limits: ServiceLimits;
}

/** A backup interval: a whole number of minutes, hours or days. */
const INTERVAL = /^([1-9]\d{0,4})([mhd])$/;
const INTERVAL_UNITS = { m: 60, h: 3600, d: 86400 } as const;
/** One minute to one week: more often would overlap with the dumps themselves, less often is no schedule. */
export const MIN_BACKUP_INTERVAL_SECONDS = 60;
export const MAX_BACKUP_INTERVAL_SECONDS = 7 * 86400;
export const MAX_BACKUP_RETENTION = 1000;

/** The seconds of a backup interval such as "30m", "6h" or "1d", or undefined when it is not one. */
export function intervalSeconds(interval: string): number | undefined {
    const match = INTERVAL.exec(interval);
    return match ? Number(match[1]) * INTERVAL_UNITS[match[2] as keyof typeof INTERVAL_UNITS] : undefined;
}

/** A registry address: a host name or IPv4 address and an optional port, as image references start. */
const REGISTRY_OR_NONE = /^$|^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:\d{1,5})?$/;
const REGISTRY_EXPECTED = 'a registry address such as "registry.example.com:5000"';
/** A node label key as Docker takes it. */
const NODE_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/;
const MAX_REPLICAS = 100;
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;
const DOCKER_HOST = /^(unix|npipe|tcp|ssh):\/\/\S+$/;
/** An engine on the machine running Pulumi, the only one whose folders the program can see. */
const LOCAL_ENGINE = /^(unix|npipe):\/\//;
const NAME_PREFIX = /^$|^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** MySQL 5.7 allows 32 characters for a user name and 64 for a database; letters, digits and '_' keep quoting out of the way. */
const MYSQL_USER = /^[A-Za-z0-9_]{1,32}$/;
const MYSQL_DATABASE = /^[A-Za-z0-9_]{1,64}$/;
const HEAP = /^([1-9]\d*)([kKmMgG])$/;
/** A size as Docker's log drivers take it for `max-size`. */
const LOG_SIZE = /^[1-9]\d*[kmg]$/;
/** `docker run --cpus`: a positive decimal with at most two decimals. */
const CPUS = /^(?!0+(\.0+)?$)\d{1,3}(\.\d{1,2})?$/;
/** Docker refuses a memory limit below 6 MB; no service of this stack starts in less than 64. */
const MIN_MEMORY_MB = 64;
const MAX_MEMORY_MB = 1024 * 1024;
const MAX_GRACE_SECONDS = 3600;
/**
 * What a MySQL server needs beside its InnoDB buffer pool: connection buffers, the
 * performance schema (about 100 MB on 5.7 at its defaults), the dictionary and the binaries.
 */
export const MYSQL_OVERHEAD_MB = 256;
/**
 * Elastic's advice: no more than half of the memory for the heap; the rest goes to direct
 * (off-heap) buffers, the JVM itself and the file system cache Lucene relies on.
 */
export const ELASTICSEARCH_MAX_HEAP_SHARE = 0.5;
/**
 * How a MySQL password reaches the server and its clients: a file under /run/secrets, read by the
 * image's entrypoint, the health check and the backup script through the shell (`$(<file)`,
 * `$(cat file)`), which drops a NUL character and every line break at the end. Such a password
 * would not be the one the data knows. No length rule: one set in config is the data's own (the
 * stack command generates 32 characters where none is set).
 */
export const MYSQL_PASSWORD_UNREADABLE = {
    pattern: /\0|\n$/,
    why: "contains a NUL character or ends with a line break, which the shell that reads the password file drops: MySQL would not get it as set",
};
/** Jupyter's own generated tokens are 48 hex digits; the stack command generates 32 letters and digits. */
const MIN_TOKEN_LENGTH = 32;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/;
const ABSOLUTE_CONTAINER_PATH = /^\/[A-Za-z0-9_./-]*$/;
const IMAGE_TAG = /^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/**
 * A pip requirement: a project name, optional extras, optional version specifiers, no
 * spaces, quotes, URLs or environment markers (see the README). The derived image's
 * Dockerfile hands the list to pip as separate words.
 */
export const PIP_REQUIREMENT =
    /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*\])?(?:(?:===|==|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+(?:,(?:===|==|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+)*)?$/;

/** Reads the stack's config through Pulumi and validates it; throws a `ConfigError` listing every problem. */
export function loadStackConfig(): StackConfig {
    const project = pulumi.getProject();
    const prefix = `${project}:`;
    const set = Object.keys(pulumi.runtime.allConfig())
        .filter((key) => key.startsWith(prefix))
        .map((key) => key.slice(prefix.length));
    // The raw values, as the CLI hands them over (defaults from Pulumi.yaml applied). Secret
    // keys come through here too, without the warning `Config.get` gives for them; the
    // reader wraps them as secrets again before anything else sees them.
    return parseStackConfig(project, pulumi.getStack(), (key) => pulumi.runtime.getConfig(`${project}:${key}`), process.cwd(), set);
}

/**
 * The secrets the program reads as optional config, which Pulumi.yaml does not declare: a key
 * declared there without a default stops every CLI command on a stack that lacks it (Pulumi.yaml
 * says why).
 */
export const SECRET_KEYS = ["mysqlRootPassword", "mysqlPassword", "jupyterToken", "registryPassword"] as const;

/** Every key of the project's namespace the program knows: those Pulumi.yaml declares, and the secrets. */
export function knownKeys(projectDir: string): Set<string> {
    const file = parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { config?: Record<string, unknown> };
    return new Set([...Object.keys(file.config ?? {}).filter((key) => !key.includes(":")), ...SECRET_KEYS]);
}

/**
 * Validates raw config values (strings, as Pulumi hands them to programs) and returns
 * the typed settings, or throws one `ConfigError` naming every bad key and value.
 */
export function parseStackConfig(
    namespace: string,
    stack: string,
    lookup: (key: string) => string | undefined,
    projectDir: string = process.cwd(),
    setKeys: readonly string[] = [],
): StackConfig {
    const r = new ConfigReader(namespace, lookup, projectDir);
    r.unknownKeys(setKeys, knownKeys(projectDir));

    const environment = r.oneOf("environment", ENVIRONMENTS);
    const prefix = r.string("namePrefix", NAME_PREFIX, 'a name prefix of letters, digits, "_", "." or "-" (may be empty)');
    const docker: DockerHostConfig = {
        host: r.string("dockerHost", DOCKER_HOST, 'a Docker host URL such as "unix:///var/run/docker.sock" or "ssh://user@host"'),
        sshOpts: r.stringList("dockerSshOpts", /^\S+$/, "an ssh option word without spaces"),
    };
    const target = r.oneOf("target", TARGETS);
    const publicHost = r.string("publicHost", HOSTNAME, 'a host name or IP address such as "localhost"');
    const restartPolicy = r.oneOf("restartPolicy", RESTART_POLICIES);
    const log: LogRotation = {
        driver: r.oneOf("logDriver", LOG_DRIVERS),
        maxSize: r.string("logMaxSize", LOG_SIZE, 'a log file size such as "10m" (k, m or g)'),
        maxFiles: r.integer("logMaxFiles", 1, 100),
    };
    const limits = (service: string): ServiceLimits => ({
        memoryMb: r.integer(`${service}MemoryMb`, MIN_MEMORY_MB, MAX_MEMORY_MB),
        cpus: r.string(`${service}Cpus`, CPUS, 'a number of CPUs above 0 such as "0.5" or "2" (at most two decimals)'),
        stopGraceSeconds: r.integer(`${service}StopGraceSeconds`, 1, MAX_GRACE_SECONDS),
    });
    const publishAddress = r.ipv4("publishAddress");
    const dataPublishAddress = r.ipv4("dataPublishAddress", ["none"]);
    const data: DataConfig = {
        retainOnDelete: r.boolean("retainDataOnDestroy"),
        protect: r.boolean("protectData"),
    };
    const networkName = r.dockerName("networkName", prefix);
    const buildPlatform = r.string("buildPlatform", PLATFORM, 'a platform such as "linux/amd64" or "linux/arm64"');

    const dataPublished = (port: number): Published | undefined =>
        dataPublishAddress === "none" ? undefined : { ip: dataPublishAddress, port };

    const mysql: MySqlConfig = {
        image: r.imageRef("mysqlImage"),
        containerName: r.dockerName("mysqlContainerName", prefix),
        volumeName: r.dockerName("mysqlVolumeName", prefix),
        user: r.string("mysqlUser", MYSQL_USER, "a MySQL user name: 1 to 32 letters, digits or '_'"),
        database: r.string("mysqlDatabase", MYSQL_DATABASE, "a MySQL database name: 1 to 64 letters, digits or '_'"),
        published: dataPublished(r.port("mysqlHostPort")),
        rootPassword: r.password("mysqlRootPassword", MYSQL_PASSWORD_UNREADABLE),
        password: r.password("mysqlPassword", MYSQL_PASSWORD_UNREADABLE),
        bufferPoolSize: r.string("mysqlBufferPoolSize", HEAP, 'a size such as "128m" or "1g"').toUpperCase(),
        limits: limits("mysql"),
    };
    const bufferPool = heapBytes(mysql.bufferPoolSize);
    if (bufferPool !== undefined && mysql.limits.memoryMb * MIB < bufferPool + MYSQL_OVERHEAD_MB * MIB) {
        const needed = Math.ceil(bufferPool / MIB) + MYSQL_OVERHEAD_MB;
        r.conflict(
            `${r.qualified("mysqlMemoryMb")} ${mysql.limits.memoryMb} does not cover ${r.qualified("mysqlBufferPoolSize")} ` +
                `"${r.lookupRaw("mysqlBufferPoolSize")}" plus ${MYSQL_OVERHEAD_MB} MB for the rest of the server; ` +
                `set mysqlMemoryMb to at least ${needed}, or a smaller buffer pool.`,
        );
    }
    if (mysql.user.toLowerCase() === "root") {
        r.problem("mysqlUser", mysql.user, "a user other than root (root gets its own generated password)");
    }

    const heapExpected = 'a JVM heap size such as "256m" or "1g"';
    const elasticsearch: ElasticsearchConfig = {
        image: r.imageRef("elasticsearchImage"),
        containerName: r.dockerName("elasticsearchContainerName", prefix),
        volumeName: r.dockerName("elasticsearchVolumeName", prefix),
        heapMin: r.string("elasticsearchHeapMin", HEAP, heapExpected),
        heapMax: r.string("elasticsearchHeapMax", HEAP, heapExpected),
        publishedHttp: dataPublished(r.port("elasticsearchHttpHostPort")),
        publishedTransport: dataPublished(r.port("elasticsearchTransportHostPort")),
        limits: limits("elasticsearch"),
    };
    const min = heapBytes(elasticsearch.heapMin);
    const max = heapBytes(elasticsearch.heapMax);
    if (min !== undefined && max !== undefined && min > max) {
        r.conflict(
            `${r.qualified("elasticsearchHeapMin")} "${elasticsearch.heapMin}" is above ` +
                `${r.qualified("elasticsearchHeapMax")} "${elasticsearch.heapMax}"; the minimum heap must not exceed the maximum.`,
        );
    }
    if (max !== undefined && max > elasticsearch.limits.memoryMb * MIB * ELASTICSEARCH_MAX_HEAP_SHARE) {
        const needed = Math.ceil(max / MIB / ELASTICSEARCH_MAX_HEAP_SHARE);
        r.conflict(
            `${r.qualified("elasticsearchHeapMax")} "${elasticsearch.heapMax}" is more than half of ` +
                `${r.qualified("elasticsearchMemoryMb")} ${elasticsearch.limits.memoryMb}; the other half is for off-heap memory ` +
                `and the file system cache: set elasticsearchMemoryMb to at least ${needed}, or a smaller heap.`,
        );
    }

    // A folder can only be bound from, or checked on, the machine running Pulumi when the
    // Docker engine runs there too.
    const localEngine = LOCAL_ENGINE.test(docker.host);
    const app: AppConfig = {
        imageName: r.imageRef("appImageName"),
        nodeImage: r.imageRef("appNodeImage"),
        buildPlatform,
        containerName: r.dockerName("appContainerName", prefix),
        published: { ip: publishAddress, port: r.port("appHostPort") },
        contentDir: r.folder("appContentDir", { relative: true, checkExists: true }),
        replicas: r.integer("appReplicas", 1, MAX_REPLICAS),
        limits: limits("app"),
    };
    if (app.contentDir !== "" && DOCKER_HOST.test(docker.host) && !localEngine) {
        r.conflict(
            `${r.qualified("appContentDir")} "${app.contentDir}" binds a folder of this project, which only works ` +
                `with a local Docker engine, but ${r.qualified("dockerHost")} is "${docker.host}"; set appContentDir to "".`,
        );
    }

    let jupyter: JupyterConfig | undefined;
    if (r.boolean("jupyterEnabled")) {
        const repository = r.string(
            "jupyterImage",
            IMAGE_REPOSITORY,
            'an image repository without a tag, such as "quay.io/jupyter/datascience-notebook"',
        );
        const tag = r.string("jupyterTag", IMAGE_TAG, 'a non-empty image tag other than "latest", such as "2026-08-24"');
        jupyter = {
            baseImage: `${repository}:${tag}`,
            containerName: r.dockerName("jupyterContainerName", prefix),
            containerPort: r.port("jupyterContainerPort"),
            published: { ip: publishAddress, port: r.port("jupyterHostPort") },
            volumeName: r.dockerName("jupyterVolumeName", prefix),
            mountPath: r.string("jupyterMountPath", ABSOLUTE_CONTAINER_PATH, "an absolute path in the container"),
            hostFolder: r.folder("jupyterHostFolder", { relative: false, checkExists: localEngine }),
            grantSudo: r.boolean("jupyterGrantSudo"),
            pipPackages: r.stringList(
                "jupyterPipPackages",
                PIP_REQUIREMENT,
                'a pip requirement such as "nltk" or "nltk==3.9.1" (no spaces, URLs or markers)',
            ),
            extraFilesDir: r.folder("jupyterExtraFilesDir", { relative: true, checkExists: true }),
            extraFilesPath: r.string("jupyterExtraFilesPath", ABSOLUTE_CONTAINER_PATH, "an absolute path in the container"),
            derivedImageName: r.imageRef("jupyterImageName"),
            token: r.secret("jupyterToken", MIN_TOKEN_LENGTH),
            buildPlatform,
            limits: limits("jupyter"),
        };
    }

    // Read on every target, so that a bad value is reported before anyone moves to a swarm.
    const swarmConfig = readSwarmConfig(r);
    const swarm = target === "swarm" ? checkSwarmTarget(r, swarmConfig, { publishAddress, dataPublishAddress, contentDir: app.contentDir }) : undefined;

    // Read whether backups are on or not, so that a bad value is reported before anyone turns them on.
    const backupEnabled = r.boolean("backupEnabled");
    const intervalExpected = 'a backup interval from "1m" to "7d": a whole number of minutes, hours or days such as "30m", "6h" or "1d"';
    const interval = r.string("backupInterval", INTERVAL, intervalExpected);
    const seconds = intervalSeconds(interval);
    if (seconds !== undefined && (seconds < MIN_BACKUP_INTERVAL_SECONDS || seconds > MAX_BACKUP_INTERVAL_SECONDS)) {
        r.problem("backupInterval", interval, intervalExpected);
    }
    const backupConfig: BackupConfig = {
        interval,
        intervalSeconds: seconds ?? NaN,
        retention: r.integer("backupRetention", 1, MAX_BACKUP_RETENTION),
        volumeName: r.dockerName("backupVolumeName", prefix),
        hostFolder: r.folder("backupHostFolder", { relative: false, checkExists: localEngine }),
        limits: limits("backup"),
    };
    const backup = backupEnabled ? backupConfig : undefined;

    // Docker refuses a second binding to a port even on another address when either address
    // is 0.0.0.0, so host ports are compared by number, not by address and number.
    const hostPort = (published?: Published) => (published && published.port !== 0 ? published.port : undefined);
    reportShared(
        r,
        [
            ["mysqlHostPort", hostPort(mysql.published)],
            ["elasticsearchHttpHostPort", hostPort(elasticsearch.publishedHttp)],
            ["elasticsearchTransportHostPort", hostPort(elasticsearch.publishedTransport)],
            ["appHostPort", hostPort(app.published)],
            ["jupyterHostPort", hostPort(jupyter?.published)],
        ],
        (keys, port) => `${keys} all publish host port ${port}; each service needs its own host port.`,
    );
    const validName = (name?: string) => (name !== undefined && DOCKER_NAME.test(name) ? name : undefined);
    reportShared(
        r,
        [
            ["mysqlContainerName", validName(mysql.containerName)],
            ["elasticsearchContainerName", validName(elasticsearch.containerName)],
            ["appContainerName", validName(app.containerName)],
            ["jupyterContainerName", validName(jupyter?.containerName)],
            ...backupContainerNames(mysql, elasticsearch, jupyter, backup).map(([key, name]): [string, string | undefined] => [key, validName(name)]),
        ],
        (keys, name) => `${keys} all give the container name "${name}"; each must be different.`,
    );
    reportShared(
        r,
        [
            ["mysqlVolumeName", validName(mysql.volumeName)],
            ["elasticsearchVolumeName", validName(elasticsearch.volumeName)],
            ["jupyterVolumeName", validName(jupyter?.volumeName)],
            ["backupVolumeName", backup && !backup.hostFolder ? validName(backup.volumeName) : undefined],
        ],
        (keys, name) => `${keys} all give the volume name "${name}"; each must be different.`,
    );

    r.finish();
    return {
        stack,
        environment,
        docker,
        target,
        swarm,
        publicHost,
        restartPolicy,
        log,
        data,
        networkName,
        mysql,
        elasticsearch,
        app,
        jupyter,
        backup,
    };
}

/**
 * The swarm's settings, with what a swarm cannot do that an engine can: bind a published port to
 * one address (the routing mesh publishes on every address of every node), and bind a folder of
 * the machine running Pulumi into a task that may run on another node.
 */
function readSwarmConfig(r: ConfigReader): SwarmConfig {
    return {
        endpointMode: r.oneOf("swarmEndpointMode", ENDPOINT_MODES),
        publishMode: r.oneOf("swarmPublishMode", PUBLISH_MODES),
        dataNodeLabel: r.string("swarmDataNodeLabel", NODE_LABEL, 'a node label such as "org.smartbuilding.data"'),
        registry: {
            server: r.string("registryServer", REGISTRY_OR_NONE, REGISTRY_EXPECTED),
            username: r.string("registryUsername", /^$|^\S+$/, "a user name without spaces, or \"\" for a registry without authentication"),
            password: r.secret("registryPassword", 1),
        },
    };
}

/** A swarm target's settings, checked against the rest of the stack's config. */
function checkSwarmTarget(
    r: ConfigReader,
    swarm: SwarmConfig,
    engine: { publishAddress: string; dataPublishAddress: string; contentDir: string },
): SwarmConfig {
    if (swarm.registry.server === "") r.problem("registryServer", "", `${REGISTRY_EXPECTED}; target "swarm" needs one, since other nodes cannot see an image built here`);
    const everywhere = "a swarm publishes a port on every address of every node (ingress) or of the task's node (host), never on one address";
    if (engine.publishAddress !== "" && engine.publishAddress !== "0.0.0.0") {
        r.conflict(`${r.qualified("publishAddress")} "${engine.publishAddress}" cannot be honoured with ${r.qualified("target")} "swarm": ${everywhere}; set it to "0.0.0.0".`);
    }
    if (!["", "none", "0.0.0.0"].includes(engine.dataPublishAddress)) {
        r.conflict(
            `${r.qualified("dataPublishAddress")} "${engine.dataPublishAddress}" cannot be honoured with ${r.qualified("target")} "swarm": ${everywhere}; ` +
                `set it to "none" (reach MySQL and Elasticsearch from a container on the stack's network) or "0.0.0.0".`,
        );
    }
    if (swarm.endpointMode === "dnsrr" && swarm.publishMode === "ingress") {
        r.conflict(
            `${r.qualified("swarmEndpointMode")} "dnsrr" cannot be used with ${r.qualified("swarmPublishMode")} "ingress": the routing mesh needs a virtual IP; ` +
                `set swarmPublishMode to "host", or swarmEndpointMode to "vip".`,
        );
    }
    if (engine.contentDir !== "") {
        r.conflict(
            `${r.qualified("appContentDir")} "${engine.contentDir}" binds a folder of this machine, which the app's tasks on other nodes cannot see; ` +
                `with ${r.qualified("target")} "swarm" set it to "" (the app serves the dashboard in its image).`,
        );
    }
    if (swarm.registry.username !== "" && swarm.registry.password === undefined) {
        r.conflict(
            `${r.qualified("registryUsername")} "${swarm.registry.username}" is set without ${r.qualified("registryPassword")}; ` +
                `set it as a secret: pulumi config set --secret registryPassword.`,
        );
    }
    return swarm;
}

/** The suffix of each backup container's name, after the name of the service it backs up. */
export const BACKUP_CONTAINER_SUFFIX = "-backup";

/**
 * The backup containers' names, each after its service's container (`sb-mysql-backup`), with the
 * key that names them: none when backups are off; none for the notebooks on a host folder.
 */
export function backupContainerNames(
    mysql: MySqlConfig,
    elasticsearch: ElasticsearchConfig,
    jupyter: JupyterConfig | undefined,
    backup: BackupConfig | undefined,
): [string, string][] {
    if (!backup) return [];
    return [
        ["mysqlContainerName", `${mysql.containerName}${BACKUP_CONTAINER_SUFFIX}`],
        ["elasticsearchContainerName", `${elasticsearch.containerName}${BACKUP_CONTAINER_SUFFIX}`],
        ...(jupyter && !jupyter.hostFolder ? [["jupyterContainerName", `${jupyter.containerName}${BACKUP_CONTAINER_SUFFIX}`] as [string, string]] : []),
    ];
}

const MIB = 1024 ** 2;

/** The size in bytes of a JVM heap (or buffer pool) setting, or undefined if it is not one. */
export function heapBytes(size: string): number | undefined {
    const match = HEAP.exec(size);
    if (!match) return undefined;
    const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as "k" | "m" | "g"];
    return Number(match[1]) * unit;
}

/**
 * Records one conflict for each value that more than one key gives (undefined values are
 * skipped); `describe` words it from the keys, listed in order, and the shared value.
 */
function reportShared<T>(r: ConfigReader, entries: [string, T | undefined][], describe: (keys: string, value: T) => string): void {
    const byValue = new Map<T, string[]>();
    for (const [key, value] of entries) {
        if (value !== undefined) byValue.set(value, [...(byValue.get(value) ?? []), key]);
    }
    for (const [value, keys] of byValue) {
        if (keys.length > 1) r.conflict(describe(keys.map((k) => r.qualified(k)).join(", "), value));
    }
}
