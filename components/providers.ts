import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import type { DockerHostConfig } from "./config";

/**
 * The providers every resource of the stack goes through. The Docker host comes from
 * the stack's config, never from whatever `DOCKER_HOST` the operator's shell happens to
 * have; the stack files also disable default providers, so a resource that missed these
 * would fail the preview instead of landing on another engine.
 */
export interface StackProviders {
    readonly docker: docker.Provider;
    readonly random: random.Provider;
}

export function stackProviders(name: string, host: DockerHostConfig): StackProviders {
    return {
        docker: new docker.Provider(`${name}-docker`, {
            host: host.host,
            sshOpts: host.sshOpts.length > 0 ? host.sshOpts : undefined,
        }),
        random: new random.Provider(`${name}-random`),
    };
}
