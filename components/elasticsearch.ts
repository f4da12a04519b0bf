import * as pulumi from "@pulumi/pulumi";
import type { DataConfig, ElasticsearchConfig } from "./config";
import type { BackupStore } from "./backup";
import { elasticsearchSnapshotEnv } from "./backup";
import { LogRotation, ServiceRuntime, serviceRuntime } from "./runtimeSettings";
import { HealthCheck, ServiceDescription } from "./serviceDescription";
import { Target, Workload, dataVolume, deployService, runImage } from "./target";

export interface ElasticsearchArgs {
    readonly target: Target;
    readonly config: ElasticsearchConfig;
    readonly log: LogRotation;
    readonly labels: Readonly<Record<string, string>>;
    readonly data: DataConfig;
    /** With scheduled backups: the store the node writes its snapshots to (`path.repo`). */
    readonly backupStore?: BackupStore;
}

export const ELASTICSEARCH_ALIAS = "elasticsearch";
export const ELASTICSEARCH_HTTP_PORT = 9200;
export const ELASTICSEARCH_TRANSPORT_PORT = 9300;
export const ELASTICSEARCH_DATA_PATH = "/usr/share/elasticsearch/data";
/** The JVM start and a first cluster-state recovery take well over the provider's 60 s default. */
export const ELASTICSEARCH_WAIT_TIMEOUT_SECONDS = 300;

/**
 * What the image needs, found on the engine with everything else dropped: started as root, its
 * entrypoint changes to uid 1000, gid 0 with `chroot --userspec=1000:0 /`, which needs
 * SYS_CHROOT ("cannot change root directory"), SETGID ("failed to set supplemental groups") and
 * SETUID ("failed to set user-ID"); tini, PID 1 and root, passes `docker stop`'s SIGTERM on to
 * the node, another user's process, which needs KILL (without it: "[FATAL tini] Unexpected
 * error when forwarding signal", exit code 1, and the node never shuts down cleanly).
 */
export const ELASTICSEARCH_CAPABILITIES = ["KILL", "SETGID", "SETUID", "SYS_CHROOT"];

/** The Elasticsearch container's limits, logs, privileges and stop. */
export function elasticsearchRuntime(config: ElasticsearchConfig, log: LogRotation): ServiceRuntime {
    // The node closes its shards and exits 0 on SIGTERM (tini, PID 1, passes it on).
    // The root filesystem stays writable: the node creates config/elasticsearch.keystore on
    // its first start and its temporary folder under /tmp, and a tmpfs over config/ would
    // hide the image's own settings.
    return serviceRuntime(config.limits, log, { noNewPrivileges: true, capabilities: ELASTICSEARCH_CAPABILITIES });
}

/** Healthy once the single-node cluster answers with at least yellow status (the 7.x images ship curl). */
export const ELASTICSEARCH_HEALTHCHECK: HealthCheck = {
    tests: [
        "CMD-SHELL",
        `curl --fail --silent --show-error 'http://127.0.0.1:${ELASTICSEARCH_HTTP_PORT}/_cluster/health?wait_for_status=yellow&timeout=5s' >/dev/null || exit 1`,
    ],
    interval: "10s",
    timeout: "10s",
    retries: 12,
    startPeriod: "60s",
};

/**
 * `ES_JAVA_OPTS` for the configured heap. The log4j flag disables message lookups
 * (CVE-2021-44228): Elastic's mitigation for images older than 7.16.2, such as the
 * guide's 7.8.1, and harmless on newer ones.
 */
export function javaOpts(heapMin: string, heapMax: string): string {
    return `-Xms${heapMin} -Xmx${heapMax} -Dlog4j2.formatMsgNoLookups=true`;
}

/**
 * The guide's `sb-elasticsearch` service: one single-node Elasticsearch (which skips the
 * production bootstrap checks), its data on a named volume, the heap from config.
 */
export class Elasticsearch extends pulumi.ComponentResource {
    /** The container or swarm service; other services wait for it to be healthy. */
    public readonly workload: Workload;
    /** The image reference it runs (its backup runs the same one). */
    public readonly image: pulumi.Input<string>;
    public readonly networkAlias = ELASTICSEARCH_ALIAS;
    /** The HTTP API on the stack's network, for other services. */
    public readonly internalUrl = `http://${ELASTICSEARCH_ALIAS}:${ELASTICSEARCH_HTTP_PORT}`;

    constructor(name: string, args: ElasticsearchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:services:Elasticsearch", name, {}, opts);
        const { config, target } = args;

        this.image = runImage(`${name}-image`, config.image, target, this);
        const store = args.backupStore;
        const volume = dataVolume(
            `${name}-data`,
            { volumeName: config.volumeName, service: ELASTICSEARCH_ALIAS, data: args.data, labels: args.labels },
            target,
            this,
        );

        const description: ServiceDescription = {
            name: config.containerName,
            service: ELASTICSEARCH_ALIAS,
            onNetwork: true,
            image: this.image,
            env: {
                "discovery.type": "single-node",
                ES_JAVA_OPTS: javaOpts(config.heapMin, config.heapMax),
                ...(store ? elasticsearchSnapshotEnv() : {}),
            },
            files: [],
            // With backups, the store too: the snapshot repository is a folder of it.
            volumes: [{ source: volume, target: ELASTICSEARCH_DATA_PATH }, ...(store?.volumes ?? [])],
            binds: store?.binds ?? [],
            ports: [
                { internal: ELASTICSEARCH_HTTP_PORT, published: config.publishedHttp },
                { internal: ELASTICSEARCH_TRANSPORT_PORT, published: config.publishedTransport },
            ],
            healthcheck: ELASTICSEARCH_HEALTHCHECK,
            runtime: elasticsearchRuntime(config, args.log),
            waitTimeoutSeconds: ELASTICSEARCH_WAIT_TIMEOUT_SECONDS,
            kind: "stateful",
            labels: args.labels,
        };
        this.workload = deployService(name, description, target, this);
        this.registerOutputs({ name: this.workload.name, internalUrl: this.internalUrl });
    }
}
