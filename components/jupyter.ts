import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DataConfig, JupyterConfig } from "./config";
import { pulledImage } from "./containerSettings";
import { LogRotation, SecuritySettings, ServiceRuntime, serviceRuntime } from "./runtimeSettings";
import { ServiceDescription, secretFile } from "./serviceDescription";
import { Target, Workload, builtImage, dataVolume, deployService, runImage } from "./target";

export interface JupyterWorkspaceArgs {
    readonly target: Target;
    readonly config: JupyterConfig;
    readonly log: LogRotation;
    readonly labels: Readonly<Record<string, string>>;
    readonly data: DataConfig;
    readonly publicHost: string;
}

export const JUPYTER_SERVICE = "jupyter";
/** The notebook user of the Jupyter Docker Stacks images (`NB_UID`). */
export const NOTEBOOK_UID = "1000";
export const JUPYTER_TOKEN_FILE = "/run/secrets/jupyter_token";
/** The derived image's Dockerfile; its build context is the extras folder, or this folder when there is none. */
export const JUPYTER_BUILD_DIR = "jupyter";
/** A first start on a new volume chowns it and starts JupyterLab; give it room. */
export const JUPYTER_WAIT_TIMEOUT_SECONDS = 300;

/**
 * What the image needs, found on the engine with everything else dropped: as root its start-up
 * script chowns the notebooks folder (CHOWN), then runs the server as the notebook user through
 * `sudo` (SETUID, SETGID, and AUDIT_WRITE: "sudo: unable to send audit message: Operation not
 * permitted"); sudo, root, passes `docker stop`'s SIGTERM on to the server, another user's
 * process (KILL: without it "sudo: kill(15, SIGTERM): Operation not permitted" and the server
 * is killed at the end of the grace period); the image's health check runs as root and reads
 * the server's runtime file in the notebook user's 0700 folder (DAC_OVERRIDE: without it the
 * container never turns healthy).
 */
export const JUPYTER_CAPABILITIES = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"];

/** The Jupyter container's limits, logs, privileges and stop. */
export function jupyterRuntime(config: JupyterConfig, log: LogRotation): ServiceRuntime {
    // tini (PID 1) passes SIGTERM to the server, which shuts its kernels down and exits.
    // The root filesystem stays writable: the start-up script writes /etc/sudoers.d as root on
    // every start, and the provider copies the token file into "/" before the start.
    // `jupyterGrantSudo` asks for root inside the container: sudo refuses to run under
    // no-new-privileges ("prevents sudo from running as root"), and a root user is only
    // useful with Docker's default capabilities, so both restrictions are off for it alone.
    const security: SecuritySettings = config.grantSudo
        ? { noNewPrivileges: false, capabilities: "docker-default" }
        : { noNewPrivileges: true, capabilities: JUPYTER_CAPABILITIES };
    return serviceRuntime(config.limits, log, security);
}

/** True when the config asks for anything beyond the pinned base image. */
export function hasExtras(config: JupyterConfig): boolean {
    return config.pipPackages.length > 0 || config.extraFilesDir !== "";
}

/**
 * How the derived image is built: from the pinned base, with the extra packages, and with
 * the extra files when there are any (the folder is then the build context; without it the
 * Dockerfile's "files" stage is left out).
 */
export function derivedImageBuild(config: JupyterConfig): docker.types.input.DockerBuild {
    return {
        context: config.extraFilesDir || `./${JUPYTER_BUILD_DIR}`,
        dockerfile: `./${JUPYTER_BUILD_DIR}/Dockerfile`,
        target: config.extraFilesDir ? "files" : "packages",
        platform: config.buildPlatform,
        args: {
            BASE_IMAGE: config.baseImage,
            PIP_REQUIREMENTS: config.pipPackages.join(" "),
            EXTRA_FILES_PATH: config.extraFilesPath,
        },
    };
}

/**
 * Environment of the notebook container. The token travels as a file (Jupyter Server
 * reads `JUPYTER_TOKEN_FILE`), so it is in neither the environment nor the command line.
 *
 * The guide's `Permission denied` (section 6) comes from Docker creating the mount point
 * root-owned when it does not exist in the image, as `/home/jovyan/work/notebooks` does
 * not. The image's documented fix is used instead of `chmod 777`: the container starts as
 * root, its start-up script chowns the mount (`CHOWN_EXTRA`, recursively with
 * `CHOWN_EXTRA_OPTS=-R` so files already there are writable too) to the notebook user,
 * then drops to that user before starting the server.
 */
export function jupyterEnv(config: JupyterConfig): Record<string, string> {
    return {
        CHOWN_EXTRA: config.mountPath,
        CHOWN_EXTRA_OPTS: "-R",
        JUPYTER_PORT: String(config.containerPort),
        JUPYTER_TOKEN_FILE,
        ...(config.grantSudo ? { GRANT_SUDO: "yes" } : {}),
    };
}

/**
 * The guide's sections 3 to 7.1 as one resource: the data-science notebook server on a
 * pinned image, published on the host, its notebooks on a named volume (or a host folder)
 * that the notebook user can write, a generated login token, and, when config asks for
 * packages or files, a derived image built from the pinned base: the reproducible form of
 * `docker exec pip install` + `docker cp` + `docker commit`.
 */
export class JupyterWorkspace extends pulumi.ComponentResource {
    /** The container or swarm service. */
    public readonly workload: Workload;
    /** The image reference it runs (its backup runs the same one). */
    public readonly image: pulumi.Input<string>;
    /** The derived image, when there are extras. */
    public readonly derivedImage?: docker.Image;
    /** The container's or service's name. */
    public readonly name: pulumi.Output<string>;
    /** The notebooks volume, or undefined when a host folder is bound instead. */
    public readonly volumeName?: pulumi.Input<string>;
    /** The login URL with its token: a secret. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: JupyterWorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:workspace:JupyterWorkspace", name, {}, opts);
        const { config, target } = args;

        if (hasExtras(config)) {
            // The base is pulled (and kept) first, so the build starts from the pinned image.
            const base = pulledImage(`${name}-base-image`, config.baseImage, this);
            this.derivedImage = builtImage(
                `${name}-image`,
                { imageName: config.derivedImageName, build: derivedImageBuild(config) },
                target,
                { parent: this, dependsOn: [base] },
            );
            this.image = this.derivedImage.repoDigest;
        } else {
            this.image = runImage(`${name}-base-image`, config.baseImage, target, this);
        }

        if (!config.hostFolder) {
            this.volumeName = dataVolume(
                `${name}-notebooks`,
                { volumeName: config.volumeName, service: JUPYTER_SERVICE, data: args.data, labels: args.labels },
                target,
                this,
            );
        }

        // From config, where `npm run up` keeps it across destroy; generated only when unset.
        const token = config.token ?? new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent: this }).result;

        const description: ServiceDescription = {
            name: config.containerName,
            service: JUPYTER_SERVICE,
            onNetwork: false,
            image: this.image,
            // Root only for the start-up script (the chown above and GRANT_SUDO); the
            // server itself runs as the notebook user.
            user: "root",
            env: jupyterEnv(config),
            files: [secretFile("jupyter-token", JUPYTER_TOKEN_FILE, token, NOTEBOOK_UID)],
            volumes: this.volumeName ? [{ source: this.volumeName, target: config.mountPath }] : [],
            binds: config.hostFolder ? [{ source: config.hostFolder, target: config.mountPath, readOnly: false }] : [],
            ports: [{ internal: config.containerPort, published: config.published }],
            // No health check here: the image ships one that follows the server's port and
            // base URL; the target waits for it to report healthy.
            runtime: jupyterRuntime(config, args.log),
            waitTimeoutSeconds: JUPYTER_WAIT_TIMEOUT_SECONDS,
            // Its notebooks live on its node.
            kind: "stateful",
            labels: args.labels,
        };
        this.workload = deployService(name, description, target, this);

        this.name = this.workload.name;
        this.url = pulumi.secret(pulumi.interpolate`http://${args.publicHost}:${config.published.port}/lab?token=${token}`);
        this.registerOutputs({ name: this.name, volumeName: this.volumeName, url: this.url });
    }
}
