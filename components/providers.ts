import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import type { DockerHostConfig, RegistryConfig } from "./config";

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

/**
 * With a swarm's registry that has a user (`registry`), the Docker provider logs in to it for its
 * own look-ups there: `docker.getRegistryImage` pins a pulled image the registry serves to its
 * digest (target.ts, `runImage`). The password stays a Pulumi secret, stored encrypted with the
 * provider's settings. Pushes and the services' pulls carry the login themselves (`builtImage`,
 * `registryAuth` in swarmTarget.ts).
 */
export function stackProviders(name: string, host: DockerHostConfig, registry?: RegistryConfig): StackProviders {
    const login = registry?.username && registry.password ? registry : undefined;
    return {
        docker: new docker.Provider(`${name}-docker`, {
            host: host.host,
            sshOpts: host.sshOpts.length > 0 ? host.sshOpts : undefined,
            ...(login ? { registryAuth: [{ address: login.server, username: login.username, password: login.password }] } : {}),
        }),
        random: new random.Provider(`${name}-random`),
    };
}
