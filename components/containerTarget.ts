import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RestartPolicy } from "./config";
import { bindMount, envList, fixedContainerOptions, onNetwork, publishedPort, serviceLabels } from "./containerSettings";
import { containerRuntimeArgs } from "./runtimeSettings";
import { containerDuration } from "./providerFormats";
import type { HealthCheck, ServiceDescription, ServiceFile } from "./serviceDescription";

/** One Docker engine: every service a container on the stack's bridge network. */
export interface EngineTarget {
    readonly kind: "engine";
    readonly network: docker.Network;
    readonly restartPolicy: RestartPolicy;
}

/**
 * A service as a container on one engine. Files are uploaded into the container before it
 * starts (a secret stays a Pulumi secret, so the state holds it encrypted); `wait` holds the
 * bring-up until the health check passes; a stateless service runs one container, since one
 * engine cannot run two under one name and host port.
 */
export function renderContainer(name: string, d: ServiceDescription, target: EngineTarget, parent: pulumi.Resource, dependsOn: pulumi.Resource[]): docker.Container {
    return new docker.Container(
        name,
        {
            name: d.name,
            image: d.image,
            ...(d.entrypoint ? { entrypoints: d.entrypoint } : {}),
            ...(d.command ? { command: d.command } : {}),
            ...(d.user ? { user: d.user } : {}),
            ...(d.init ? { init: true } : {}),
            envs: envList(d.env),
            uploads: d.files.map(upload),
            volumes: d.volumes.map((v) => ({ volumeName: v.source, containerPath: v.target, ...(v.readOnly ? { readOnly: true } : {}) })),
            mounts: d.binds.map((b) => bindMount(b.source, b.target, b.readOnly)),
            ports: d.ports.flatMap((p) => publishedPort(p.internal, p.published)),
            ...(d.onNetwork ? { networksAdvanced: onNetwork(target.network, d.service) } : {}),
            ...(d.healthcheck ? { healthcheck: containerHealthcheck(d.healthcheck) } : {}),
            wait: true,
            waitTimeout: d.waitTimeoutSeconds,
            restart: target.restartPolicy,
            labels: serviceLabels(d.labels, d.service),
            ...containerRuntimeArgs(d.runtime),
        } satisfies docker.ContainerArgs,
        fixedContainerOptions(parent, dependsOn),
    );
}

/** A file as the provider uploads it: content, owner, group and mode (an octal string). */
function upload(f: ServiceFile): docker.types.input.ContainerUpload {
    return {
        file: f.path,
        content: f.secret ? pulumi.secret(f.content) : f.content,
        owner: f.uid,
        group: f.gid,
        permissions: `0${f.mode.toString(8)}`,
    };
}

/**
 * A health check with its durations as the provider reads a container's back (Go's
 * `Duration.String()`: "60s" is "1m0s"): `healthcheck` replaces the container when it changes.
 */
export function containerHealthcheck(h: HealthCheck): docker.types.input.ContainerHealthcheck {
    return {
        tests: h.tests,
        interval: containerDuration(h.interval),
        timeout: containerDuration(h.timeout),
        startPeriod: containerDuration(h.startPeriod),
        retries: h.retries,
    };
}
