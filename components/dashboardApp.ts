import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { AppConfig } from "./config";
import {
    ServiceSettings,
    bindMount,
    envList,
    fixedContainerOptions,
    onNetwork,
    publishedPort,
    secretFile,
    serviceLabels,
} from "./containerSettings";
import { ServiceRuntime, containerRuntimeArgs, serviceRuntime } from "./runtimeSettings";

/** How the app reaches MySQL on the stack's network. */
export interface MySqlConnection {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly database: string;
    readonly password: pulumi.Input<string>;
}

export interface DashboardAppArgs extends ServiceSettings {
    readonly config: AppConfig;
    readonly mysql: MySqlConnection;
    readonly elasticsearchUrl: string;
    /** Containers that must be healthy before the app is created (they are created with `wait`). */
    readonly waitFor: pulumi.Resource[];
    readonly publicHost: string;
    /** The folder a relative content folder is resolved against (the project). */
    readonly projectDir: string;
}

export const APP_ALIAS = "app";
export const APP_PORT = 3000;
/** The guide's Dockerfile works in this folder; the dashboard content lives (or is bound) here. */
export const APP_WORKDIR = "/home/elmkarim/dashboard";
/**
 * The build context, relative to the project so that it reads the same on every machine
 * (an absolute path would show as a change on every preview from another checkout).
 */
export const APP_BUILD_CONTEXT = "app";
export const APP_PASSWORD_FILE = "/run/secrets/mysql_password";
/** The app image runs as the `node` user of the official Node images. */
export const APP_UID = "1000";

/** The app container's limits, logs, privileges and stop. */
export function appRuntime(config: AppConfig, log: ServiceRuntime["log"]): ServiceRuntime {
    // Docker's init (PID 1) passes SIGTERM to node, which stops serving and exits.
    // The image runs as `node` from the start and changes no user or file owner: it needs no
    // capability at all (tried on the engine: healthy with every one dropped). The root
    // filesystem stays writable only because the provider copies the password file into "/"
    // before the start, which Docker refuses for a read-only root.
    return serviceRuntime(config.limits, log, { noNewPrivileges: true, capabilities: [] });
}

/**
 * The guide's `sb-app`: the dashboard image built by the stack from `app/` (the
 * declarative `docker build . -t smartbuildingapp`), run on the stack's network once
 * MySQL and Elasticsearch are healthy. In development the host's dashboard folder is
 * bound over the image's copy, as the guide's compose file binds `./`.
 */
export class DashboardApp extends pulumi.ComponentResource {
    public readonly image: docker.Image;
    public readonly container: docker.Container;
    public readonly containerName: pulumi.Output<string>;
    public readonly url: string;

    constructor(name: string, args: DashboardAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:services:DashboardApp", name, {}, opts);
        const { config, mysql } = args;

        // Built locally and never pushed. The container points at `repoDigest` (the local
        // image id), so a rebuild replaces it, where the tag would not (pulumi/pulumi-docker#726).
        this.image = new docker.Image(
            `${name}-image`,
            {
                imageName: config.imageName,
                skipPush: true,
                build: {
                    context: `./${APP_BUILD_CONTEXT}`,
                    dockerfile: `./${APP_BUILD_CONTEXT}/Dockerfile`,
                    platform: config.buildPlatform,
                    args: { NODE_IMAGE: config.nodeImage },
                },
            },
            { parent: this },
        );

        // Docker binds host folders by absolute path. Read-only: the app only serves the
        // content, and a compromised app cannot rewrite the host's files.
        const contentBind = config.contentDir ? [bindMount(path.resolve(args.projectDir, config.contentDir), APP_WORKDIR, true)] : [];

        this.container = new docker.Container(
            `${name}-container`,
            {
                name: config.containerName,
                image: this.image.repoDigest,
                envs: envList({
                    ELASTICSEARCH_URL: args.elasticsearchUrl,
                    MYSQL_DATABASE: mysql.database,
                    MYSQL_HOST: mysql.host,
                    MYSQL_PASSWORD_FILE: APP_PASSWORD_FILE,
                    MYSQL_PORT: String(mysql.port),
                    MYSQL_USER: mysql.user,
                    PORT: String(APP_PORT),
                }),
                uploads: [secretFile(APP_PASSWORD_FILE, mysql.password, APP_UID)],
                mounts: contentBind,
                ports: publishedPort(APP_PORT, config.published),
                networksAdvanced: onNetwork(args.network, APP_ALIAS),
                // No `healthcheck` here: app/Dockerfile declares one (a request to /health/live),
                // so the image cannot run without it. `wait` makes Pulumi wait for it.
                wait: true,
                waitTimeout: 120,
                // Node does not reap zombies or forward signals as PID 1; Docker's init does.
                init: true,
                restart: args.restartPolicy,
                labels: serviceLabels(args.labels, APP_ALIAS),
                ...containerRuntimeArgs(appRuntime(config, args.log)),
            } satisfies docker.ContainerArgs,
            fixedContainerOptions(this, args.waitFor),
        );

        this.containerName = this.container.name;
        this.url = `http://${args.publicHost}:${config.published.port}`;
        this.registerOutputs({ containerName: this.containerName, url: this.url, imageId: this.image.repoDigest });
    }
}
