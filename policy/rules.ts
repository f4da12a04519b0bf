import * as docker from "@pulumi/docker";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { isPinnedImageRef } from "../components/configReader";
import { ENVIRONMENT_LABEL } from "../components/containerSettings";

/**
 * The guardrails every stack of this project is held to at `pulumi preview` and `pulumi up`.
 * They read what the engine is about to be asked for, so they also catch a hand-edited
 * stack or a future component that forgets a rule the current ones keep.
 */

type Labels = { label: string; value: string }[] | undefined;

/** True when a resource carries the label the stack puts on production resources. */
export function isProduction(labels: Labels): boolean {
    return (labels ?? []).some((l) => l.label === ENVIRONMENT_LABEL && l.value === "production");
}

const PINNED = 'a tag or digest other than "latest" (e.g. "mysql:5.7.44")';

export const noPrivilegedContainers: ResourceValidationPolicy = {
    name: "no-privileged-containers",
    description: "No container runs privileged: that would give it the whole Docker host.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (container.privileged) report(`Container "${container.name}" is privileged; drop "privileged" and grant only what it needs.`);
    }),
};

export const pinnedImages: ResourceValidationPolicy = {
    name: "pinned-images",
    // Containers are not checked here: they run the id of one of these images, which a
    // preview does not know yet.
    description: 'Every image is pinned by a tag other than "latest" or by a digest, so an up installs what the preview showed.',
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.RemoteImage, (image, _args, report) => {
            if (!isPinnedImageRef(image.name)) report(`Image "${image.name}" is not pinned; use ${PINNED}.`);
        }),
        validateResourceOfType(docker.Image, (image, _args, report) => {
            if (!isPinnedImageRef(image.imageName)) report(`Built image "${image.imageName}" is not tagged; use ${PINNED}.`);
        }),
    ],
};

export const restartPolicy: ResourceValidationPolicy = {
    name: "restart-policy",
    description: "Every container has a restart policy, so it comes back after a crash or a reboot of the host.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (!container.restart || container.restart === "no") {
            report(`Container "${container.name}" has no restart policy; set "restart" to "unless-stopped", "always" or "on-failure".`);
        }
    }),
};

export const healthCheck: ResourceValidationPolicy = {
    name: "health-check",
    description: "Every container has a health check: its own, or the image's with `wait` (which fails when the image has none).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        const tests = container.healthcheck?.tests ?? [];
        const declared = tests.length > 0 && tests[0] !== "NONE";
        if (!declared && container.wait !== true) {
            report(`Container "${container.name}" has no health check; declare "healthcheck", or set "wait" to rely on the image's own.`);
        }
    }),
};

/** Names of variables that hold secrets. A `*_FILE` variable names a file instead and is fine. */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|PASSPHRASE|CREDENTIAL)/i;

export const noSecretsInEnv: ResourceValidationPolicy = {
    name: "no-secrets-in-env",
    description: "No environment variable that looks like a password, secret or token carries a value: `docker inspect` shows the environment to anyone with Docker access. Hand secrets over as uploaded files (`*_FILE`).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        for (const env of container.envs ?? []) {
            const name = env.split("=", 1)[0];
            if (SECRET_NAME.test(name) && !name.endsWith("_FILE")) {
                report(`Container "${container.name}" sets ${name} in its environment; upload the value as a file and pass ${name}_FILE instead.`);
            }
        }
    }),
};

export const fixedNamesReplacedDeleteFirst: ResourceValidationPolicy = {
    name: "fixed-names-replaced-delete-first",
    description: "A container with a fixed name is replaced by deleting the old one first; Docker refuses two containers with one name (pulumi/pulumi-docker#1356).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, args, report) => {
        if (container.name && args.opts.deleteBeforeReplace !== true) {
            report(`Container "${container.name}" has a fixed name but no "deleteBeforeReplace"; a replacement would clash with it.`);
        }
    }),
};

/** Container ports of data stores: MySQL, MySQL X, Elasticsearch HTTP and transport, PostgreSQL, Redis, MongoDB. */
export const DATA_PORTS = [3306, 33060, 9200, 9300, 5432, 6379, 27017];
const LOOPBACK = ["127.0.0.1", "::1"];

export const productionDataPortsOnLoopback: ResourceValidationPolicy = {
    name: "production-data-ports-on-loopback",
    description: "In production, database ports are published on the loopback address only (or not at all), never on every interface of the host.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, _args, report) => {
        if (!isProduction(container.labels)) return;
        for (const port of container.ports ?? []) {
            if (DATA_PORTS.includes(port.internal) && !LOOPBACK.includes(port.ip ?? "0.0.0.0")) {
                report(
                    `Container "${container.name}" publishes data port ${port.internal} on ${port.ip ?? "every address"}:${port.external}; ` +
                        'in production publish it on "127.0.0.1" or not at all.',
                );
            }
        }
    }),
};

export const productionDataVolumesProtected: ResourceValidationPolicy = {
    name: "production-data-volumes-protected",
    description: "In production, data volumes are protected: no update or destroy can delete them by accident.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Volume, (volume, args, report) => {
        if (isProduction(volume.labels) && !args.opts.protect) {
            report(`Volume "${volume.name}" holds production data but is not protected; set protectData to true for this stack.`);
        }
    }),
};

/**
 * Capabilities a container may add back after dropping them all: those the stack's images need
 * at start-up and to pass a stop signal on (see each component), all in Docker's default set.
 * Anything else (NET_ADMIN, SYS_ADMIN, SYS_PTRACE, ...) needs a reviewed change here.
 */
export const ALLOWED_CAPABILITIES = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID", "SYS_CHROOT"];
/** Docker's default capability set (moby oci/caps/defaults.go), kept by a container that drops nothing. */
export const DOCKER_DEFAULT_CAPABILITIES = [
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
];

type ContainerCheck = (container: Unwrap<docker.ContainerArgs>, report: (message: string) => void) => void;

/**
 * One rule as two policies: mandatory for production containers (a violation stops the
 * preview and the update), advisory for the others (reported, nothing stopped), so a dev
 * stack hears about it without being blocked.
 */
function runtimeRule(name: string, description: string, check: ContainerCheck): ResourceValidationPolicy[] {
    const forEnvironment = (production: boolean) =>
        validateResourceOfType(docker.Container, (container, _args, report) => {
            if (isProduction(container.labels) === production) check(container, report);
        });
    return [
        { name, description: `${description} Mandatory in production.`, enforcementLevel: "mandatory", validateResource: forEnvironment(true) },
        { name: `${name}-advisory`, description: `${description} Advisory outside production.`, enforcementLevel: "advisory", validateResource: forEnvironment(false) },
    ];
}

export const [memoryLimit, memoryLimitAdvisory] = runtimeRule(
    "memory-limit",
    "Every container has a memory limit, so a leak cannot take the host and the other services down.",
    (container, report) => {
        if (!container.memory || container.memory <= 0) report(`Container "${container.name}" has no memory limit; set "memory" (MB).`);
    },
);

export const [logRotation, logRotationAdvisory] = runtimeRule(
    "log-rotation",
    'Every container logs with "json-file" or "local" and a "max-size" and "max-file", so its logs cannot fill the disk.',
    (container, report) => {
        const driver = container.logDriver ?? "json-file";
        const opts = container.logOpts ?? {};
        if (!["json-file", "local"].includes(driver) || !opts["max-size"] || !opts["max-file"]) {
            report(`Container "${container.name}" does not rotate its logs; use logDriver "json-file" or "local" with logOpts "max-size" and "max-file".`);
        }
    },
);

export const [noNewPrivileges, noNewPrivilegesAdvisory] = runtimeRule(
    "no-new-privileges",
    "Every container runs with no-new-privileges: no setuid binary can raise a process's privileges.",
    (container, report) => {
        const opts = container.securityOpts ?? [];
        if (!opts.some((o) => /^no-new-privileges(?::true|=true)?$/.test(o))) {
            report(`Container "${container.name}" allows new privileges; add "no-new-privileges:true" to "securityOpts".`);
        }
    },
);

export const [allowedCapabilities, allowedCapabilitiesAdvisory] = runtimeRule(
    "allowed-capabilities",
    `Every container drops all capabilities and adds back only allowed ones (${ALLOWED_CAPABILITIES.join(", ")}).`,
    (container, report) => {
        const caps = container.capabilities ?? {};
        const normal = (c: string) => c.toUpperCase().replace(/^CAP_/, "");
        const dropsAll = (caps.drops ?? []).map(normal).includes("ALL");
        const kept = dropsAll ? (caps.adds ?? []).map(normal) : [...DOCKER_DEFAULT_CAPABILITIES, ...(caps.adds ?? []).map(normal)];
        const beyond = [...new Set(kept.filter((c) => !ALLOWED_CAPABILITIES.includes(c)))].sort();
        if (beyond.length > 0) {
            const how = dropsAll ? "adds" : "keeps Docker's default set, with";
            report(`Container "${container.name}" ${how} ${beyond.join(", ")} beyond the allowed capabilities; drop "ALL" and add back only what its image needs.`);
        }
    },
);

export const policies: ResourceValidationPolicy[] = [
    noPrivilegedContainers,
    pinnedImages,
    restartPolicy,
    healthCheck,
    noSecretsInEnv,
    fixedNamesReplacedDeleteFirst,
    productionDataPortsOnLoopback,
    productionDataVolumesProtected,
    memoryLimit,
    memoryLimitAdvisory,
    logRotation,
    logRotationAdvisory,
    noNewPrivileges,
    noNewPrivilegesAdvisory,
    allowedCapabilities,
    allowedCapabilitiesAdvisory,
];
