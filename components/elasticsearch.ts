import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DataConfig, ElasticsearchConfig } from "./config";
import { ServiceSettings, envList, fixedContainerOptions, onNetwork, publishedPort, pulledImage, serviceLabels } from "./containerSettings";
import type { BackupStore } from "./backup";
import { elasticsearchSnapshotEnv } from "./backup";
import { dataVolume } from "./dataVolume";
import { ServiceRuntime, containerRuntimeArgs, serviceRuntime } from "./runtimeSettings";

export interface ElasticsearchArgs extends ServiceSettings {
    readonly config: ElasticsearchConfig;
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
export function elasticsearchRuntime(config: ElasticsearchConfig, log: ServiceRuntime["log"]): ServiceRuntime {
    // The node closes its shards and exits 0 on SIGTERM (tini, PID 1, passes it on).
    // The root filesystem stays writable: the node creates config/elasticsearch.keystore on
    // its first start and its temporary folder under /tmp, and a tmpfs over config/ would
    // hide the image's own settings.
    return serviceRuntime(config.limits, log, { noNewPrivileges: true, capabilities: ELASTICSEARCH_CAPABILITIES });
}

/** Healthy once the single-node cluster answers with at least yellow status (the 7.x images ship curl). */
export const ELASTICSEARCH_HEALTHCHECK: docker.types.input.ContainerHealthcheck = {
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
    public readonly container: docker.Container;
    public readonly volume: docker.Volume;
    public readonly containerName: pulumi.Output<string>;
    public readonly networkAlias = ELASTICSEARCH_ALIAS;
    /** The HTTP API on the stack's network, for other services. */
    public readonly internalUrl = `http://${ELASTICSEARCH_ALIAS}:${ELASTICSEARCH_HTTP_PORT}`;

    constructor(name: string, args: ElasticsearchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:services:Elasticsearch", name, {}, opts);
        const { config } = args;

        const image = pulledImage(`${name}-image`, config.image, this);
        const store = args.backupStore;
        this.volume = dataVolume(
            `${name}-data`,
            { volumeName: config.volumeName, service: ELASTICSEARCH_ALIAS, data: args.data, labels: args.labels },
            this,
        );

        this.container = new docker.Container(
            `${name}-container`,
            {
                name: config.containerName,
                image: image.imageId,
                envs: envList({
                    "discovery.type": "single-node",
                    ES_JAVA_OPTS: javaOpts(config.heapMin, config.heapMax),
                    ...(store ? elasticsearchSnapshotEnv() : {}),
                }),
                // With backups, the store too: the snapshot repository is a folder of it.
                volumes: [{ volumeName: this.volume.name, containerPath: ELASTICSEARCH_DATA_PATH }, ...(store?.volumes ?? [])],
                ...(store && store.mounts.length > 0 ? { mounts: store.mounts } : {}),
                ports: [
                    ...publishedPort(ELASTICSEARCH_HTTP_PORT, config.publishedHttp),
                    ...publishedPort(ELASTICSEARCH_TRANSPORT_PORT, config.publishedTransport),
                ],
                networksAdvanced: onNetwork(args.network, ELASTICSEARCH_ALIAS),
                healthcheck: ELASTICSEARCH_HEALTHCHECK,
                wait: true,
                waitTimeout: ELASTICSEARCH_WAIT_TIMEOUT_SECONDS,
                restart: args.restartPolicy,
                labels: serviceLabels(args.labels, ELASTICSEARCH_ALIAS),
                ...containerRuntimeArgs(elasticsearchRuntime(config, args.log)),
            } satisfies docker.ContainerArgs,
            fixedContainerOptions(this),
        );

        this.containerName = this.container.name;
        this.registerOutputs({ containerName: this.containerName, internalUrl: this.internalUrl });
    }
}
