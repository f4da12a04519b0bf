import * as docker from "@pulumi/docker";
import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, UnknownValueError, validateResourceOfType } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { isPinnedImageRef } from "../components/configReader";
import { ENVIRONMENT_LABEL } from "../components/containerSettings";
import { SECRETS_DIR } from "../components/serviceDescription";

/**
 * The guardrails every stack of this project is held to at `pulumi preview` and `pulumi up`.
 * They read what the engine is about to be asked for, so they also catch a hand-edited
 * stack or a future component that forgets a rule the current ones keep. Each rule checks a
 * service in whichever form the stack's target gives it: a container (`docker.Container`) on one
 * engine, or a swarm service (`docker.Service`) on a Docker Swarm.
 */

type Labels = { label: string; value: string }[] | undefined;
type Container = Unwrap<docker.ContainerArgs>;
type Service = Unwrap<docker.ServiceArgs>;

/** True when a resource carries the label the stack puts on production resources. */
export function isProduction(labels: Labels): boolean {
    return (labels ?? []).some((l) => l.label === ENVIRONMENT_LABEL && l.value === "production");
}

/** How a message names a resource: by its Docker name, or by its Pulumi name when Pulumi picks the Docker one. */
function named(kind: "Container" | "Service", name: string | undefined, args: ResourceValidationArgs): string {
    return `${kind} "${name ?? args.name}"`;
}

/**
 * A value a preview may not know yet, such as the digest of an image built and pushed during the
 * update, or undefined when it does not. The policy engine throws on reading an unknown value
 * (and reports the whole rule as not run); a rule that can only judge the value skips it
 * instead, and judges it at `pulumi up`, which knows it.
 */
function known<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (e) {
        if (e instanceof UnknownValueError) return undefined;
        throw e;
    }
}

const PINNED = 'a tag or digest other than "latest" (e.g. "mysql:5.7.44")';

export const noPrivilegedContainers: ResourceValidationPolicy = {
    name: "no-privileged-containers",
    // Swarm services are not checked: neither Swarm nor the provider can run a service privileged.
    description: "No container runs privileged: that would give it the whole Docker host. (A swarm service cannot be privileged.)",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(docker.Container, (container, args, report) => {
        if (container.privileged) report(`${named("Container", container.name, args)} is privileged; drop "privileged" and grant only what it needs.`);
    }),
};

export const pinnedImages: ResourceValidationPolicy = {
    name: "pinned-images",
    // Containers are not checked here: they run the id of one of these images, which a
    // preview does not know yet. Swarm services are: each node pulls the reference itself.
    description: 'Every image, and every image a swarm service runs, is pinned by a tag other than "latest" or by a digest, so an up installs what the preview showed.',
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.RemoteImage, (image, _args, report) => {
            if (!isPinnedImageRef(image.name)) report(`Image "${image.name}" is not pinned; use ${PINNED}.`);
        }),
        validateResourceOfType(docker.Image, (image, _args, report) => {
            if (!isPinnedImageRef(image.imageName)) report(`Built image "${image.imageName}" is not tagged; use ${PINNED}.`);
        }),
        // A built image's digest is unknown at preview: judged at the update.
        validateResourceOfType(docker.Service, (service, args, report) => {
            const image = known(() => service.taskSpec.containerSpec.image);
            if (image !== undefined && !isPinnedImageRef(image)) report(`${named("Service", service.name, args)} runs image "${image}", which is not pinned; use ${PINNED}.`);
        }),
    ],
};

export const restartPolicy: ResourceValidationPolicy = {
    name: "restart-policy",
    description:
        'Every container has a restart policy, and every swarm service the restart condition "any" or "on-failure", so it comes back after a crash or a reboot of the host.',
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            if (!container.restart || container.restart === "no") {
                report(`${named("Container", container.name, args)} has no restart policy; set "restart" to "unless-stopped", "always" or "on-failure".`);
            }
        }),
        validateResourceOfType(docker.Service, (service, args, report) => {
            const condition = service.taskSpec.restartPolicy?.condition;
            if (condition !== "any" && condition !== "on-failure") {
                report(`${named("Service", service.name, args)} has no restart policy; set taskSpec.restartPolicy.condition to "any" or "on-failure".`);
            }
        }),
    ],
};

export const healthCheck: ResourceValidationPolicy = {
    name: "health-check",
    description:
        "Every container has a health check: its own, or the image's with `wait` (which fails when the image has none). " +
        "Every swarm service has its own, or the image's with `convergeConfig`: the provider then waits until every task runs, which Swarm " +
        "reports only once the task's health check passes. Convergence cannot tell a task without a health check from a healthy one, " +
        'so a service may not turn its image\'s off with "NONE".',
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            const tests = container.healthcheck?.tests ?? [];
            const declared = tests.length > 0 && tests[0] !== "NONE";
            if (!declared && container.wait !== true) {
                report(`${named("Container", container.name, args)} has no health check; declare "healthcheck", or set "wait" to rely on the image's own.`);
            }
        }),
        validateResourceOfType(docker.Service, (service, args, report) => {
            const tests = service.taskSpec.containerSpec.healthcheck?.tests ?? [];
            if (tests[0] === "NONE") {
                report(`${named("Service", service.name, args)} turns its image's health check off ("NONE"); declare one in taskSpec.containerSpec.healthcheck.`);
            } else if (tests.length === 0 && !service.convergeConfig) {
                report(`${named("Service", service.name, args)} has no health check; declare taskSpec.containerSpec.healthcheck, or set "convergeConfig" to rely on the image's own.`);
            }
        }),
    ],
};

/** Names of variables that hold secrets. A `*_FILE` variable names a file instead and is fine. */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|PASSPHRASE|CREDENTIAL)/i;
const isSecretName = (name: string) => SECRET_NAME.test(name) && !name.endsWith("_FILE");

export const noSecretsInEnv: ResourceValidationPolicy = {
    name: "no-secrets-in-env",
    description:
        "No environment variable that looks like a password, secret or token carries a value: `docker inspect` shows the environment to anyone with Docker access. " +
        "Hand secrets over as uploaded files, or swarm secrets (`*_FILE`).",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            for (const name of (container.envs ?? []).map((env) => env.split("=", 1)[0]).filter(isSecretName)) {
                report(`${named("Container", container.name, args)} sets ${name} in its environment; upload the value as a file and pass ${name}_FILE instead.`);
            }
        }),
        // Names only: a value may be unknown at preview.
        validateResourceOfType(docker.Service, (service, args, report) => {
            for (const name of Object.keys(service.taskSpec.containerSpec.env ?? {}).filter(isSecretName)) {
                report(`${named("Service", service.name, args)} sets ${name} in its environment; mount the value as a swarm secret and pass ${name}_FILE instead.`);
            }
        }),
    ],
};

/** Widest mode a secret file may have: readable by its owner and group, by nobody else, writable by none. */
const SECRET_FILE_MODE = 0o440;
/** The mode Docker gives a mounted swarm secret when none is set: readable by every user of the container. */
const DOCKER_SECRET_MODE = 0o444;
const octal = (mode: number) => `0${mode.toString(8).padStart(3, "0")}`;
const tooWide = (mode: number) => (mode & ~SECRET_FILE_MODE) !== 0;

export const secretFilesPrivate: ResourceValidationPolicy = {
    name: "secret-files-private",
    description:
        `Every secret file is readable by its owner, or its owner and group, alone (mode ${octal(0o400)} or ${octal(SECRET_FILE_MODE)}): a swarm secret a service mounts ` +
        `(Docker's default, ${octal(DOCKER_SECRET_MODE)}, lets every user of the container read it), and a file a container gets under ${SECRETS_DIR}.`,
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            for (const upload of (container.uploads ?? []).filter((u) => u.file.startsWith(`${SECRETS_DIR}/`))) {
                const mode = upload.permissions === undefined ? undefined : parseInt(upload.permissions, 8);
                if (mode === undefined || Number.isNaN(mode) || tooWide(mode)) {
                    report(
                        `${named("Container", container.name, args)} gets secret file ${upload.file} with permissions ${upload.permissions ?? "unset"}; ` +
                            `set its "permissions" to "${octal(0o400)}" (or "${octal(SECRET_FILE_MODE)}" to share it with its group).`,
                    );
                }
            }
        }),
        // The secret's id and name are unknown at preview until it is created: read the file's side only.
        validateResourceOfType(docker.Service, (service, args, report) => {
            for (const secret of service.taskSpec.containerSpec.secrets ?? []) {
                const mode = secret.fileMode ?? DOCKER_SECRET_MODE;
                if (tooWide(mode)) {
                    const how = secret.fileMode === undefined ? `Docker's default mode ${octal(mode)}` : `mode ${octal(mode)}`;
                    report(
                        `${named("Service", service.name, args)} mounts secret file "${secret.fileName}" with ${how}; ` +
                            `set its fileMode to 0o400 (${0o400}), or 0o440 (${0o440}) to share it with its group.`,
                    );
                }
            }
        }),
    ],
};

export const fixedNamesReplacedDeleteFirst: ResourceValidationPolicy = {
    name: "fixed-names-replaced-delete-first",
    description:
        "A container or swarm service with a fixed name is replaced by deleting the old one first; Docker refuses two containers, or two services, with one name (pulumi/pulumi-docker#1356).",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            if (container.name && args.opts.deleteBeforeReplace !== true) {
                report(`Container "${container.name}" has a fixed name but no "deleteBeforeReplace"; a replacement would clash with it.`);
            }
        }),
        validateResourceOfType(docker.Service, (service, args, report) => {
            if (service.name && args.opts.deleteBeforeReplace !== true) {
                report(`Service "${service.name}" has a fixed name but no "deleteBeforeReplace"; a replacement would clash with it.`);
            }
        }),
    ],
};

/** Container ports of data stores: MySQL, MySQL X, Elasticsearch HTTP and transport, PostgreSQL, Redis, MongoDB. */
export const DATA_PORTS = [3306, 33060, 9200, 9300, 5432, 6379, 27017];
const LOOPBACK = ["127.0.0.1", "::1"];

export const productionDataPortsOnLoopback: ResourceValidationPolicy = {
    name: "production-data-ports-on-loopback",
    description:
        "In production, database ports are published on the loopback address only (or not at all), never on every interface of the host. " +
        "A swarm cannot publish a port on loopback (the routing mesh publishes it on every address of every node), " +
        "so a production swarm service publishes no database port at all (dataPublishAddress: none).",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(docker.Container, (container, args, report) => {
            if (!isProduction(container.labels)) return;
            for (const port of container.ports ?? []) {
                if (DATA_PORTS.includes(port.internal) && !LOOPBACK.includes(port.ip ?? "0.0.0.0")) {
                    report(
                        `${named("Container", container.name, args)} publishes data port ${port.internal} on ${port.ip ?? "every address"}:${port.external}; ` +
                            'in production publish it on "127.0.0.1" or not at all.',
                    );
                }
            }
        }),
        validateResourceOfType(docker.Service, (service, args, report) => {
            if (!isProduction(service.labels)) return;
            for (const port of service.endpointSpec?.ports ?? []) {
                if (!DATA_PORTS.includes(port.targetPort)) continue;
                const as = port.publishedPort === undefined ? "" : ` as ${port.publishedPort}`;
                const where = port.publishMode === "host" ? "its task's node" : "every node";
                report(
                    `${named("Service", service.name, args)} publishes data port ${port.targetPort}${as} on every address of ${where}; ` +
                        "a swarm cannot publish on loopback, so in production publish it not at all: set dataPublishAddress: none for this stack.",
                );
            }
        }),
    ],
};

/**
 * Only volumes of the stack are checked. A swarm service's volumes are none: its mount creates
 * them on the data node when its first task starts (components/target.ts), and no Pulumi
 * operation ever deletes them, so there is nothing to protect.
 */
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

/**
 * What the runtime rules read of a container or a swarm service, in one shape. It reads nothing a
 * preview may not know (a service's image is left out), so a service whose image is still being
 * built is checked at preview like any other.
 */
interface RuntimeView {
    /** How a message names it: `Container "sb-mysql"`, `Service "sb-mysql"`. */
    readonly subject: string;
    readonly labels: Labels;
    /** In the resource's own unit (MB for a container, bytes for a service); undefined or 0 for none. */
    readonly memoryLimit?: number;
    /** Undefined: Docker's default (json-file). */
    readonly logDriver?: string;
    readonly logOpts: Record<string, string>;
    readonly capDrops: string[];
    readonly capAdds: string[];
    /** A container's security options (a swarm service has none, see no-new-privileges). */
    readonly securityOpts: string[];
    /** What a message tells it to set, in its own resource's terms. */
    readonly fix: { readonly memory: string; readonly logs: string; readonly capabilities: string };
}

function containerView(container: Container, args: ResourceValidationArgs): RuntimeView {
    return {
        subject: named("Container", container.name, args),
        labels: container.labels,
        memoryLimit: container.memory,
        logDriver: container.logDriver,
        logOpts: container.logOpts ?? {},
        capDrops: container.capabilities?.drops ?? [],
        capAdds: container.capabilities?.adds ?? [],
        securityOpts: container.securityOpts ?? [],
        fix: {
            memory: 'set "memory" (MB)',
            logs: 'use logDriver "json-file" or "local" with logOpts "max-size" and "max-file"',
            capabilities: 'drop "ALL" and add back only what its image needs',
        },
    };
}

function serviceView(service: Service, args: ResourceValidationArgs): RuntimeView {
    const task = service.taskSpec;
    return {
        subject: named("Service", service.name, args),
        labels: service.labels,
        memoryLimit: task.resources?.limits?.memoryBytes,
        logDriver: task.logDriver?.name,
        logOpts: task.logDriver?.options ?? {},
        capDrops: task.containerSpec.capDrops ?? [],
        capAdds: task.containerSpec.capAdds ?? [],
        securityOpts: [],
        fix: {
            memory: "set taskSpec.resources.limits.memoryBytes",
            logs: 'use taskSpec.logDriver "json-file" or "local" with options "max-size" and "max-file"',
            capabilities: 'set capDrops to ["ALL"] and add back in capAdds only what its image needs',
        },
    };
}

type RuntimeCheck = (resource: RuntimeView, report: (message: string) => void) => void;
type Kind = "container" | "service";

/**
 * One rule as two policies: mandatory for production containers and services (a violation
 * stops the preview and the update), advisory for the others (reported, nothing stopped), so a
 * dev stack hears about it without being blocked. `kinds`: what it applies to.
 */
function runtimeRule(name: string, description: string, check: RuntimeCheck, kinds: readonly Kind[] = ["container", "service"]): ResourceValidationPolicy[] {
    const forEnvironment = (production: boolean) => {
        const checked = (view: RuntimeView, report: ReportViolation) => {
            if (isProduction(view.labels) === production) check(view, report);
        };
        return [
            ...(kinds.includes("container") ? [validateResourceOfType(docker.Container, (c, args, report) => checked(containerView(c, args), report))] : []),
            ...(kinds.includes("service") ? [validateResourceOfType(docker.Service, (s, args, report) => checked(serviceView(s, args), report))] : []),
        ];
    };
    return [
        { name, description: `${description} Mandatory in production.`, enforcementLevel: "mandatory", validateResource: forEnvironment(true) },
        { name: `${name}-advisory`, description: `${description} Advisory outside production.`, enforcementLevel: "advisory", validateResource: forEnvironment(false) },
    ];
}

export const [memoryLimit, memoryLimitAdvisory] = runtimeRule(
    "memory-limit",
    "Every container and swarm service has a memory limit, so a leak cannot take the host and the other services down.",
    (w, report) => {
        if (!w.memoryLimit || w.memoryLimit <= 0) report(`${w.subject} has no memory limit; ${w.fix.memory}.`);
    },
);

export const [logRotation, logRotationAdvisory] = runtimeRule(
    "log-rotation",
    'Every container and swarm service logs with "json-file" or "local" and a "max-size" and "max-file", so its logs cannot fill the disk.',
    (w, report) => {
        const driver = w.logDriver ?? "json-file";
        if (!["json-file", "local"].includes(driver) || !w.logOpts["max-size"] || !w.logOpts["max-file"]) {
            report(`${w.subject} does not rotate its logs; ${w.fix.logs}.`);
        }
    },
);

export const [noNewPrivileges, noNewPrivilegesAdvisory] = runtimeRule(
    "no-new-privileges",
    "Every container runs with no-new-privileges: no setuid binary can raise a process's privileges. " +
        "Containers only: a swarm service cannot set it (Docker's API has it for services from version 1.46 only, and the Docker provider has no field for it).",
    (w, report) => {
        if (!w.securityOpts.some((o) => /^no-new-privileges(?::true|=true)?$/.test(o))) {
            report(`${w.subject} allows new privileges; add "no-new-privileges:true" to "securityOpts".`);
        }
    },
    ["container"],
);

export const [allowedCapabilities, allowedCapabilitiesAdvisory] = runtimeRule(
    "allowed-capabilities",
    `Every container and swarm service drops all capabilities and adds back only allowed ones (${ALLOWED_CAPABILITIES.join(", ")}).`,
    (w, report) => {
        const normal = (c: string) => c.toUpperCase().replace(/^CAP_/, "");
        const dropsAll = w.capDrops.map(normal).includes("ALL");
        const kept = dropsAll ? w.capAdds.map(normal) : [...DOCKER_DEFAULT_CAPABILITIES, ...w.capAdds.map(normal)];
        const beyond = [...new Set(kept.filter((c) => !ALLOWED_CAPABILITIES.includes(c)))].sort();
        if (beyond.length > 0) {
            const how = dropsAll ? "adds" : "keeps Docker's default set, with";
            report(`${w.subject} ${how} ${beyond.join(", ")} beyond the allowed capabilities; ${w.fix.capabilities}.`);
        }
    },
);

export const policies: ResourceValidationPolicy[] = [
    noPrivilegedContainers,
    pinnedImages,
    restartPolicy,
    healthCheck,
    noSecretsInEnv,
    secretFilesPrivate,
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
