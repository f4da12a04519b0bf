import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { Published } from "./config";

export const LABEL_PREFIX = "org.smartbuilding";
/** The label naming a resource's kind of environment; the policy pack holds "production" ones to stricter rules. */
export const ENVIRONMENT_LABEL = `${LABEL_PREFIX}.environment`;

/** Labels naming the stack and its kind of environment; the policy pack reads the latter. */
export function stackLabels(stack: string, environment: string): Record<string, string> {
    return {
        [ENVIRONMENT_LABEL]: environment,
        [`${LABEL_PREFIX}.stack`]: stack,
    };
}

/**
 * Docker labels as the provider takes them, sorted by name so that the list (and so the
 * preview) never changes order between runs.
 */
export function labelList(labels: Readonly<Record<string, string>>): { label: string; value: string }[] {
    return Object.keys(labels)
        .sort()
        .map((label) => ({ label, value: labels[label] }));
}

/** The labels of one service's container or volume: the stack's labels and the service's name. */
export function serviceLabels(labels: Readonly<Record<string, string>>, service: string): { label: string; value: string }[] {
    return labelList({ ...labels, [`${LABEL_PREFIX}.service`]: service });
}

/** A host folder bound into a container. A bind mount (unlike `-v`) fails when the folder is missing, instead of creating an empty one. */
export function bindMount(source: string, target: string, readOnly: boolean): docker.types.input.ContainerMount {
    return { type: "bind", source, target, readOnly };
}

/**
 * An image pulled once and kept: `keepLocally` leaves it in Docker when the stack lets go of
 * it, as `docker pull` would, instead of deleting an image other containers may use.
 * Containers run its `imageId`: a tag name would be rewritten by the provider and show as a
 * change on every update (pulumi/pulumi-docker#325, #1431).
 */
export function pulledImage(name: string, image: string, parent: pulumi.Resource): docker.RemoteImage {
    return new docker.RemoteImage(name, { name: image, keepLocally: true }, { parent });
}

/** A container port published on the host (IPv4 and TCP stated, so the provider sees no drift). */
export function publishedPort(internal: number, published: Published | undefined): docker.types.input.ContainerPort[] {
    return published ? [{ internal, external: published.port, ip: published.ip, protocol: "tcp" }] : [];
}

/** Joins a container to the stack's network under its service name. */
export function onNetwork(network: docker.Network, alias: string): docker.types.input.ContainerNetworksAdvanced[] {
    return [{ name: network.name, aliases: [alias] }];
}

/**
 * Resource options for a container with a fixed name and fixed host ports:
 * - `deleteBeforeReplace`: Docker refuses a second container with the same name or host
 *   port, so a replacement must wait for the old one to go (pulumi/pulumi-docker#1356).
 * - `replaceOnChanges: ["healthcheck"]`: Docker cannot change the health check of a
 *   running container and the provider would silently keep the old one
 *   (kreuzwerker/terraform-provider-docker#988), so a change replaces the container.
 */
export function fixedContainerOptions(parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions {
    return { parent, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"], dependsOn };
}

/** Environment variables as `KEY=value` strings, sorted by key so the list is stable. */
export function envList(vars: Readonly<Record<string, string>>): string[] {
    return Object.keys(vars)
        .sort()
        .map((key) => `${key}=${vars[key]}`);
}
