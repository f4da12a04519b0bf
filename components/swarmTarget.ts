import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import type { RegistryConfig, RestartPolicy, SwarmConfig } from "./config";
import { serviceLabels } from "./containerSettings";
import { ServiceRuntime } from "./runtimeSettings";
import { nanoCpus, serviceDuration } from "./providerFormats";
import { HealthCheck, SECRETS_DIR, ServiceDescription, ServiceFile } from "./serviceDescription";

/** A Docker Swarm: every service a swarm service on the stack's attachable overlay network. */
export interface SwarmTarget {
    readonly kind: "swarm";
    readonly network: docker.Network;
    readonly restartPolicy: RestartPolicy;
    readonly swarm: SwarmConfig;
    /**
     * The key the names of secrets and configs are derived with (see `contentName`): a secret of
     * the stack's state, so that a name reveals nothing of a value.
     */
    readonly namesKey: pulumi.Output<string>;
    /** The stack's Docker provider (a swarm manager), for the registry look-ups of `runImage`. */
    readonly provider: docker.Provider;
}

/**
 * The image references (outputs of the stack's own resources) that the stack's registry serves:
 * a built image's pushed digest, a pulled image looked up there (`markRegistryImage`, called by
 * target.ts where the reference is still a plain string). A service running one gets the
 * registry's login (`registryAuth`), decided when the program is run, not once the reference is
 * known: an unknown `auth` in a preview would plan a replacement (it is ForceNew).
 */
const registryImages = new WeakSet<object>();

/** Marks an image reference the stack's registry serves (see `registryImages`); returns it. */
export function markRegistryImage<T extends pulumi.Input<string>>(image: T): T {
    if (typeof image === "object" && image !== null) registryImages.add(image);
    return image;
}

/** Whether the stack's registry at `server` serves `image` (a plain reference starting with it, or a marked output). */
export function onRegistry(image: pulumi.Input<string>, server: string): boolean {
    if (typeof image === "string") return server !== "" && image.startsWith(`${server}/`);
    return typeof image === "object" && image !== null && registryImages.has(image);
}

/**
 * The login a service's nodes pull its image with (the provider's `auth`, sent to the manager as
 * X-Registry-Auth, which hands it to whichever node runs a task): the stack's registry user,
 * when it has one and serves the image; none otherwise (a public image pulls anonymously, and
 * another registry must never see this password). The password stays a Pulumi secret, so the
 * whole `auth` block is stored encrypted.
 */
export function registryAuth(image: pulumi.Input<string>, registry: RegistryConfig): docker.types.input.ServiceAuth | undefined {
    if (!registry.username || !registry.password || !onRegistry(image, registry.server)) return undefined;
    return { serverAddress: registry.server, username: registry.username, password: registry.password };
}

const MIB = 1024 * 1024;
/** Swarm refuses secret and config names longer than this. */
const MAX_OBJECT_NAME = 64;

/**
 * How a stateful service is updated: its one task stopped before the new one starts (two
 * servers on one data directory would corrupt it), and the update paused, not rolled back, when
 * the new task fails, so that nobody's data directory flips between versions unattended.
 */
export const STATEFUL_UPDATE: docker.types.input.ServiceUpdateConfig = { parallelism: 1, order: "stop-first", failureAction: "pause", monitor: "30s" };

/**
 * How a stateless service is updated: one task at a time, the new one started and healthy before
 * the old one stops, watched for `monitor` after each step, and the whole update rolled back when
 * a new task fails.
 */
export const STATELESS_UPDATE: docker.types.input.ServiceUpdateConfig = {
    parallelism: 1,
    delay: "5s",
    order: "start-first",
    failureAction: "rollback",
    monitor: "15s",
    maxFailureRatio: "0",
};
export const STATELESS_ROLLBACK: docker.types.input.ServiceRollbackConfig = { parallelism: 1, order: "start-first", failureAction: "pause", monitor: "15s" };

/**
 * A service as a Swarm service. Its secret files become Swarm secrets and its plain files Swarm
 * configs, each named after a hash of its content: Swarm cannot change either in place, so a new
 * value is a new object, the service rolls onto it, and the old one is deleted after. A stateful
 * service runs one task on the node labelled as the data node (its volume is there); a
 * stateless one runs `replicas`. Convergence (every task running, which Swarm reports only once
 * a task's health check passes) holds the bring-up as `wait` does for a container.
 */
export function renderSwarmService(name: string, d: ServiceDescription, target: SwarmTarget, parent: pulumi.Resource, dependsOn: pulumi.Resource[]): docker.Service {
    const { swarm } = target;
    const labels = serviceLabels(d.labels, d.service);
    const stateful = d.kind === "stateful";

    const secrets = d.files.filter((f) => f.secret).map((f) => {
        const secret = new docker.Secret(
            `${name}-${f.key}`,
            { name: contentName(d.name, f, target.namesKey, labels), data: base64(pulumi.secret(f.content)), labels },
            { parent },
        );
        return { secretId: secret.id, secretName: secret.name, fileName: f.path.slice(SECRETS_DIR.length + 1), ...fileOwner(f) };
    });
    const configs = d.files.filter((f) => !f.secret).map((f) => {
        const config = new docker.ServiceConfig(`${name}-${f.key}`, { name: contentName(d.name, f, target.namesKey, []), data: base64(f.content) }, { parent });
        return { configId: config.id, configName: config.name, fileName: f.path, ...fileOwner(f) };
    });

    const ports = d.ports
        .filter((p) => p.published)
        .map((p) => ({
            targetPort: p.internal,
            // Host mode binds on the task's own node: two tasks of one service could not share a
            // port there, nor an old and a new task during a start-first update, so the engine
            // gives each of them a port of its own (find it with `docker service ps`).
            ...(swarm.publishMode === "host" && !stateful ? {} : { publishedPort: p.published!.port }),
            publishMode: swarm.publishMode,
            protocol: "tcp",
        }));

    const auth = registryAuth(d.image, swarm.registry);
    return new docker.Service(
        name,
        {
            name: d.name,
            labels,
            // Every node that runs a task pulls the image itself: from the stack's registry, with its login.
            ...(auth ? { auth } : {}),
            mode: { replicated: { replicas: stateful ? 1 : (d.replicas ?? 1) } },
            taskSpec: {
                containerSpec: {
                    image: d.image,
                    ...(d.entrypoint ? { commands: d.entrypoint } : {}),
                    ...(d.command ? { args: d.command } : {}),
                    ...(d.user ? { user: d.user } : {}),
                    ...(d.init ? { init: true } : {}),
                    env: { ...d.env },
                    ...(d.healthcheck ? { healthcheck: serviceHealthcheck(d.healthcheck) } : {}),
                    mounts: [
                        // Swarm creates a named volume on the node a task runs on, with these labels, the first time.
                        ...d.volumes.map((v) => ({ type: "volume", source: v.source, target: v.target, readOnly: v.readOnly ?? false, volumeOptions: { labels } })),
                        ...d.binds.map((b) => ({ type: "bind", source: b.source, target: b.target, readOnly: b.readOnly })),
                    ],
                    secrets,
                    configs,
                    labels,
                    ...serviceRuntimeArgs(d.runtime),
                },
                resources: { limits: { memoryBytes: d.runtime.memoryMb * MIB, nanoCpus: nanoCpus(d.runtime.cpus) } },
                logDriver: { name: d.runtime.log.driver, options: { "max-file": String(d.runtime.log.maxFiles), "max-size": d.runtime.log.maxSize } },
                // By id: the provider reads a service's networks back as ids, and a name would
                // replace the service on every up (its schema says so).
                networksAdvanceds: d.onNetwork ? [{ id: target.network.id, aliases: [d.service] }] : [],
                ...(stateful ? { placement: { constraints: [`node.labels.${swarm.dataNodeLabel}==true`] } } : {}),
                // Attempts and window stated as the provider reads them back (0 and "0s": unbounded, as Docker has them).
                restartPolicy: { condition: target.restartPolicy === "on-failure" ? "on-failure" : "any", delay: "5s", maxAttempts: 0, window: "0s" },
            },
            endpointSpec: { mode: swarm.endpointMode, ports },
            updateConfig: stateful ? STATEFUL_UPDATE : STATELESS_UPDATE,
            ...(stateful ? {} : { rollbackConfig: STATELESS_ROLLBACK }),
            convergeConfig: { delay: "2s", timeout: `${d.waitTimeoutSeconds}s` },
        } satisfies docker.ServiceArgs,
        // A service's name is fixed: a replacement must wait for the old one to go.
        { parent, dependsOn, deleteBeforeReplace: true },
    );
}

/**
 * The container spec fields a `ServiceRuntime` sets on a service. The grace period is Swarm's
 * `stop_grace_period`: the provider's default is 0 s, which would kill MySQL mid-write on every
 * update. Swarm services have no no-new-privileges setting (Docker's API gained one in 1.46,
 * the provider has none), so that restriction holds for containers only.
 */
export function serviceRuntimeArgs(runtime: ServiceRuntime): Pick<docker.types.input.ServiceTaskSpecContainerSpec, "stopGracePeriod" | "stopSignal" | "capAdds" | "capDrops"> {
    const caps = runtime.security.capabilities;
    return {
        stopGracePeriod: serviceDuration(`${runtime.stop.graceSeconds}s`),
        stopSignal: runtime.stop.signal,
        ...(caps === "docker-default" ? {} : { capDrops: ["ALL"], capAdds: [...caps].sort() }),
    };
}

/** A health check with its durations as the provider reads a service's back (`shortDur`: "60s" is "1m"). */
export function serviceHealthcheck(h: HealthCheck): docker.types.input.ServiceTaskSpecContainerSpecHealthcheck {
    return {
        tests: h.tests,
        interval: serviceDuration(h.interval),
        timeout: serviceDuration(h.timeout),
        startPeriod: serviceDuration(h.startPeriod),
        retries: h.retries,
    };
}

function fileOwner(f: ServiceFile) {
    return { fileUid: f.uid, fileGid: f.gid, fileMode: f.mode };
}

/**
 * `<service>-<key>-<12 hex digits>`: an HMAC-SHA-256 of the content and labels under the stack's
 * `namesKey`, so that whatever replaces a secret or config (a new value, new labels) comes with a
 * new name, and the new one can be created while services still use the old one. The name is public (in `docker secret ls`, and shown by
 * `pulumi preview` so that a diff names what rolls), which a plain hash of the content could not
 * be: a password set by hand could be guessed from its hash offline.
 */
export function contentName(service: string, f: ServiceFile, namesKey: pulumi.Output<string>, labels: { label: string; value: string }[]): pulumi.Output<string> {
    const prefix = `${service}-${f.key}-`;
    if (prefix.length + 12 > MAX_OBJECT_NAME) throw new Error(`${prefix}<hash> is longer than the ${MAX_OBJECT_NAME} characters Swarm allows`);
    const name = pulumi
        .all([namesKey, f.content])
        .apply(([key, content]) => `${prefix}${crypto.createHmac("sha256", key).update(JSON.stringify({ content, labels })).digest("hex").slice(0, 12)}`);
    return pulumi.unsecret(name);
}

function base64(content: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(content).apply((c) => Buffer.from(c, "utf8").toString("base64"));
}
