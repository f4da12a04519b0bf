import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DataConfig, RestartPolicy, StackConfig } from "./config";
import type { StackProviders } from "./providers";
import { EngineTarget, renderContainer } from "./containerTarget";
import { labelList, pulledImage, serviceLabels } from "./containerSettings";
import type { ServiceDescription } from "./serviceDescription";
import { SwarmTarget, markRegistryImage, renderSwarmService } from "./swarmTarget";

/**
 * Where the stack's services run, chosen by `target` in config. Every component describes its
 * service once (`ServiceDescription`) and hands it to `deployService`; the functions here are
 * the only places that ask which target it is.
 */
export type Target = EngineTarget | SwarmTarget;

/** What a deployed service is on its target: a container, or a swarm service. */
export type Workload = docker.Container | docker.Service;

/**
 * The stack's network, which the services find each other on by name: a bridge network on one
 * engine (the guide's sb-network), an attachable overlay network spanning the swarm's nodes
 * (attachable, so that a one-off container such as a database client can join it).
 */
export function stackTarget(config: StackConfig, labels: Readonly<Record<string, string>>, providers: StackProviders): Target {
    const swarm = config.swarm;
    const network = new docker.Network(
        "network",
        {
            name: config.networkName,
            driver: swarm ? "overlay" : "bridge",
            ...(swarm ? { attachable: true } : {}),
            labels: labelList(labels),
        },
        { provider: providers.docker, deleteBeforeReplace: true },
    );
    const restartPolicy: RestartPolicy = config.restartPolicy;
    if (!swarm) return { kind: "engine", network, restartPolicy };
    const namesKey = new random.RandomPassword("swarm-names-key", { length: 32, special: false }, { provider: providers.random }).result;
    return { kind: "swarm", network, restartPolicy, swarm, namesKey, provider: providers.docker };
}

/**
 * Renders a described service on the target, as `<name>-container` or `<name>-service`; it is
 * created once `dependsOn` is up (healthy).
 */
export function deployService(name: string, d: ServiceDescription, target: Target, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): Workload {
    return target.kind === "swarm"
        ? renderSwarmService(`${name}-service`, d, target, parent, dependsOn)
        : renderContainer(`${name}-container`, d, target, parent, dependsOn);
}

/**
 * The image reference a service runs for a pulled image. On one engine: the image pulled once
 * and kept, by id. On a swarm each node pulls the reference itself (a local image id means
 * nothing on another node): the reference pinned to the digest its registry gives it now
 * (`docker.getRegistryImage`), unless it names one already. The provider pins a service's image
 * to that digest when it creates it (QueryRegistry) and reads it back so; a tag alone would be an
 * update, and a restart of every task, on every `up`.
 */
export function runImage(name: string, ref: string, target: Target, parent: pulumi.Resource): pulumi.Input<string> {
    if (target.kind !== "swarm") return pulledImage(name, ref, parent).imageId;
    if (ref.includes("@")) return ref;
    const pinned = docker.getRegistryImageOutput({ name: ref }, { parent, provider: target.provider }).sha256Digest.apply((digest) => `${ref}@${digest}`);
    // A pulled image the stack's own registry serves needs its login on every node (swarmTarget.ts, `registryAuth`).
    return ref.startsWith(`${target.swarm.registry.server}/`) ? markRegistryImage(pinned) : pinned;
}

export interface BuiltImageArgs {
    /** The image's name and tag (`smartbuildingapp:dev`); on a swarm it is pushed under the registry's address. */
    readonly imageName: string;
    readonly build: docker.types.input.DockerBuild;
}

/**
 * An image the stack builds. On one engine it stays local (`skipPush`). On a swarm it is pushed
 * to the configured registry, whose password stays a Pulumi secret, and services run it by the
 * digest the push returns, so every node runs exactly this build. Either way `repoDigest` is
 * what a service runs: a rebuild changes it and rolls the service (pulumi/pulumi-docker#726).
 */
export function builtImage(name: string, args: BuiltImageArgs, target: Target, opts: pulumi.CustomResourceOptions): docker.Image {
    if (target.kind === "engine") return new docker.Image(name, { imageName: args.imageName, skipPush: true, build: args.build }, opts);
    const { registry } = target.swarm;
    const image = new docker.Image(
        name,
        {
            imageName: `${registry.server}/${args.imageName}`,
            build: args.build,
            registry: {
                server: registry.server,
                ...(registry.username ? { username: registry.username } : {}),
                ...(registry.password ? { password: registry.password } : {}),
            },
        },
        opts,
    );
    // Every node pulls it from the registry, with its login (swarmTarget.ts, `registryAuth`).
    markRegistryImage(image.repoDigest);
    return image;
}

export interface DataVolumeArgs {
    /** The Docker volume name (e.g. `mysql_volume`). */
    readonly volumeName: string;
    /** The service whose data it holds. */
    readonly service: string;
    readonly data: DataConfig;
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * A named volume that holds a service's data; resolves to the name a service mounts.
 *
 * On one engine it is a resource of the stack: unlike the guide's `docker-compose down -v`,
 * `pulumi destroy` keeps it (`retainOnDelete`) unless the stack says otherwise, and a protected
 * stack refuses any plan that would delete it. A kept volume is adopted again by the next
 * `pulumi up`: Docker answers a create for an existing name with that volume.
 *
 * On a swarm the volume must be on the data node, where the service's task runs, and the
 * provider only talks to a manager: the service's mount creates it there, labelled, on the
 * first start, and no Pulumi operation ever deletes it (Swarm leaves volumes behind).
 */
export function dataVolume(name: string, args: DataVolumeArgs, target: Target, parent: pulumi.Resource): pulumi.Input<string> {
    if (target.kind === "swarm") return args.volumeName;
    return new docker.Volume(
        name,
        { name: args.volumeName, labels: serviceLabels(args.labels, args.service) },
        // A volume that existed before (made by Compose, or kept by a destroy) keeps the labels it was
        // made with, which the provider reads back; labels replace a volume, so they are not diffed.
        { parent, retainOnDelete: args.data.retainOnDelete, protect: args.data.protect, ignoreChanges: ["labels"] },
    ).name;
}
