import { decimalCpus, nanoCpus } from "./providerFormats";
import type * as docker from "@pulumi/docker";

/** A service's limits, as its config sets them. */
export interface ServiceLimits {
    /** Hard memory limit in MB. */
    readonly memoryMb: number;
    /** CPUs it may use, like "0.5" or "2". */
    readonly cpus: string;
    /** Seconds between the stop signal and SIGKILL. */
    readonly stopGraceSeconds: number;
}

/**
 * How one service's container runs for months unattended: its limits, its log rotation, its
 * privileges and how it is stopped. A plain description, built from config by each component
 * and rendered onto a `docker.Container` by `containerRuntimeArgs`; a later Swarm target would
 * render the same description onto a `docker.Service` (resources.limits, logDriver,
 * capabilityAdd/Drop, stopGracePeriod, stopSignal) instead of reading config again.
 */
export interface ServiceRuntime {
    /** Hard memory limit in MB (MiB, as Docker and the provider count them). */
    readonly memoryMb: number;
    /** CPUs the container may use, like "0.5" or "2" (`docker run --cpus`). */
    readonly cpus: string;
    readonly log: LogRotation;
    readonly stop: StopSettings;
    readonly security: SecuritySettings;
}

export const LOG_DRIVERS = ["json-file", "local"] as const;
export type LogDriver = (typeof LOG_DRIVERS)[number];

/** Log rotation: both drivers take `max-size` and `max-file`, so the disk a container's logs use is bounded. */
export interface LogRotation {
    readonly driver: LogDriver;
    /** Size of one log file before it is rotated, like "10m". */
    readonly maxSize: string;
    /** Log files kept, the current one included. */
    readonly maxFiles: number;
}

export interface StopSettings {
    /** Seconds between the stop signal and SIGKILL, on `docker stop`, a destroy and a replacement. */
    readonly graceSeconds: number;
    /** The signal the image's main process shuts down cleanly on. */
    readonly signal: string;
}

export interface SecuritySettings {
    /** `no-new-privileges`: no setuid binary (sudo, su) can raise a process's privileges. */
    readonly noNewPrivileges: boolean;
    /**
     * Capabilities kept after dropping them all, or "docker-default" to keep Docker's default set
     * (only where the user asked for root inside the container, as `jupyterGrantSudo` does).
     */
    readonly capabilities: readonly string[] | "docker-default";
}

/**
 * A service's runtime from its configured limits and the privileges its image needs. Every
 * image of the stack stops cleanly on SIGTERM, each component says how next to its call.
 */
export function serviceRuntime(limits: ServiceLimits, log: LogRotation, security: SecuritySettings): ServiceRuntime {
    return { memoryMb: limits.memoryMb, cpus: limits.cpus, log, stop: { graceSeconds: limits.stopGraceSeconds, signal: "SIGTERM" }, security };
}

/** The fields of `docker.ContainerArgs` a `ServiceRuntime` sets. */
export type ContainerRuntimeArgs = Pick<
    docker.ContainerArgs,
    "memory" | "memorySwap" | "cpus" | "logDriver" | "logOpts" | "securityOpts" | "capabilities" | "destroyGraceSeconds" | "stopTimeout" | "stopSignal"
>;

/**
 * A `ServiceRuntime` as container arguments. The grace period is given twice, on purpose:
 * the provider stops a container it deletes (destroy, replacement) with `destroyGraceSeconds`
 * as the timeout, and with 0 (SIGKILL at once) when it is unset; `stopTimeout` is the
 * container's own, used by a plain `docker stop` and by the engine at a host shutdown.
 */
export function containerRuntimeArgs(runtime: ServiceRuntime): ContainerRuntimeArgs {
    const { security } = runtime;
    return {
        memory: runtime.memoryMb,
        // Memory and swap together no more than the memory limit: no swap, so a container past its
        // limit is stopped there rather than swapping (Docker's default, unset, is as much swap
        // again, which the provider reads back as a change on every up).
        memorySwap: runtime.memoryMb,
        // Written as the provider reads it back ("1" reads "1.0"); `cpus` replaces the container.
        cpus: decimalCpus(nanoCpus(runtime.cpus)),
        logDriver: runtime.log.driver,
        logOpts: { "max-file": String(runtime.log.maxFiles), "max-size": runtime.log.maxSize },
        securityOpts: security.noNewPrivileges ? ["no-new-privileges:true"] : [],
        capabilities: security.capabilities === "docker-default" ? undefined : { drops: ["ALL"], adds: [...security.capabilities].sort() },
        destroyGraceSeconds: runtime.stop.graceSeconds,
        stopTimeout: runtime.stop.graceSeconds,
        stopSignal: runtime.stop.signal,
    };
}
