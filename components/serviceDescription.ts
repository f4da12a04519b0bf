import type * as pulumi from "@pulumi/pulumi";
import type { Published } from "./config";
import type { ServiceRuntime } from "./runtimeSettings";

/**
 * One service of the stack (MySQL, Elasticsearch, the app, Jupyter, a backup job), described
 * once and independently of where it runs. Each component builds its description from config;
 * a target renders it: `components/containerTarget.ts` as a container on one Docker engine,
 * `components/swarmTarget.ts` as a Docker Swarm service. What differs between the targets lives
 * in the renderers, never in the components.
 */
export interface ServiceDescription {
    /** The container's name on one engine, the service's name on a swarm (`sb-mysql`). */
    readonly name: string;
    /** The service name (`mysql`): its label, and the alias other services reach it by on the stack's network. */
    readonly service: string;
    /** Whether it joins the stack's network under `service` (a notebooks backup needs no network). */
    readonly onNetwork: boolean;
    /** The image reference the target runs (a pinned reference, a built image's digest). */
    readonly image: pulumi.Input<string>;
    /** Replaces the image's entrypoint. */
    readonly entrypoint?: string[];
    /** Replaces the image's command (its `CMD`). */
    readonly command?: string[];
    /** The user the main process starts as; the image's own when undefined. */
    readonly user?: string;
    /** Docker's init as PID 1, for a process that does not reap zombies or forward signals. */
    readonly init?: boolean;
    /** Plain settings only: secrets travel as files (`files`), never as environment values. */
    readonly env: Readonly<Record<string, string>>;
    readonly files: readonly ServiceFile[];
    /** Named volumes: data that outlives the service. */
    readonly volumes: readonly VolumeMount[];
    /** Folders of the Docker host, bound as they are. */
    readonly binds: readonly BindMount[];
    readonly ports: readonly PortMapping[];
    /** Undefined: the image's own health check (every image of the stack ships one or is given one). */
    readonly healthcheck?: HealthCheck;
    readonly runtime: ServiceRuntime;
    /** How long a bring-up waits for it to report healthy. */
    readonly waitTimeoutSeconds: number;
    /**
     * `stateful`: it owns data on its node (one instance, placed where its volume is, the old one
     * stopped before a new one starts); `stateless`: any number of interchangeable instances.
     */
    readonly kind: ServiceKind;
    /** Instances of a stateless service where the target can run more than one. */
    readonly replicas?: number;
    readonly labels: Readonly<Record<string, string>>;
}

export type ServiceKind = "stateful" | "stateless";

/**
 * A file the service reads: a secret (a password, a token), mounted where only `uid` can read it
 * and kept encrypted in Pulumi's state, or a plain file such as a script.
 */
export interface ServiceFile {
    /** A short name, unique within the service (`mysql-password`): names the file's swarm secret or config. */
    readonly key: string;
    /** The absolute path in the container. Secrets live under `SECRETS_DIR`. */
    readonly path: string;
    readonly content: pulumi.Input<string>;
    readonly secret: boolean;
    readonly uid: string;
    readonly gid: string;
    /** File mode, e.g. 0o400. */
    readonly mode: number;
}

/** Where every secret file is mounted: the folder Swarm mounts its secrets in. */
export const SECRETS_DIR = "/run/secrets";

export interface VolumeMount {
    /** The volume's name. */
    readonly source: pulumi.Input<string>;
    readonly target: string;
    readonly readOnly?: boolean;
}

export interface BindMount {
    /** An absolute folder of the Docker host. */
    readonly source: string;
    readonly target: string;
    readonly readOnly: boolean;
}

/** A container port, published on the host, or only reachable on the stack's network when `published` is undefined. */
export interface PortMapping {
    readonly internal: number;
    readonly published?: Published;
}

/** A health check as both targets take it (Docker's HEALTHCHECK). */
export interface HealthCheck {
    readonly tests: string[];
    readonly interval: string;
    readonly timeout: string;
    readonly retries: number;
    readonly startPeriod: string;
}

/** A secret file readable by `uid` alone (mode 0400). */
export function secretFile(key: string, file: string, content: pulumi.Input<string>, uid: string): ServiceFile {
    if (!file.startsWith(`${SECRETS_DIR}/`)) throw new Error(`secret file ${file} is not under ${SECRETS_DIR}`);
    return { key, path: file, content, secret: true, uid, gid: uid, mode: 0o400 };
}
