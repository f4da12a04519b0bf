import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { AppConfig } from "./config";
import { LogRotation, ServiceRuntime, serviceRuntime } from "./runtimeSettings";
import { ServiceDescription, secretFile } from "./serviceDescription";
import { Target, Workload, builtImage, deployService } from "./target";

/** How the app reaches MySQL on the stack's network. */
export interface MySqlConnection {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly database: string;
    readonly password: pulumi.Input<string>;
}

export interface DashboardAppArgs {
    readonly target: Target;
    readonly config: AppConfig;
    readonly log: LogRotation;
    readonly labels: Readonly<Record<string, string>>;
    readonly mysql: MySqlConnection;
    readonly elasticsearchUrl: string;
    /** Services that must be healthy before the app is created (they are created with `wait`, or converged). */
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
export function appRuntime(config: AppConfig, log: LogRotation): ServiceRuntime {
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
 * bound over the image's copy, as the guide's compose file binds `./`. On a swarm the image
 * is pushed to the registry and `replicas` instances run it, rolled one at a time.
 */
export class DashboardApp extends pulumi.ComponentResource {
    public readonly image: docker.Image;
    /** The container or swarm service. */
    public readonly workload: Workload;
    public readonly url: string;

    constructor(name: string, args: DashboardAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("smart-building:services:DashboardApp", name, {}, opts);
        const { config, mysql, target } = args;

        // The service runs `repoDigest` (the local image id, or the pushed digest on a swarm),
        // so a rebuild replaces or rolls it, where the tag would not (pulumi/pulumi-docker#726).
        this.image = builtImage(
            `${name}-image`,
            {
                imageName: config.imageName,
                build: {
                    context: `./${APP_BUILD_CONTEXT}`,
                    dockerfile: `./${APP_BUILD_CONTEXT}/Dockerfile`,
                    platform: config.buildPlatform,
                    args: { NODE_IMAGE: config.nodeImage },
                },
            },
            target,
            { parent: this },
        );

        const description: ServiceDescription = {
            name: config.containerName,
            service: APP_ALIAS,
            onNetwork: true,
            image: this.image.repoDigest,
            // Node does not reap zombies or forward signals as PID 1; Docker's init does.
            init: true,
            env: {
                ELASTICSEARCH_URL: args.elasticsearchUrl,
                MYSQL_DATABASE: mysql.database,
                MYSQL_HOST: mysql.host,
                MYSQL_PASSWORD_FILE: APP_PASSWORD_FILE,
                MYSQL_PORT: String(mysql.port),
                MYSQL_USER: mysql.user,
                PORT: String(APP_PORT),
            },
            files: [secretFile("mysql-password", APP_PASSWORD_FILE, mysql.password, APP_UID)],
            volumes: [],
            // Docker binds host folders by absolute path. Read-only: the app only serves the
            // content, and a compromised app cannot rewrite the host's files.
            binds: config.contentDir ? [{ source: path.resolve(args.projectDir, config.contentDir), target: APP_WORKDIR, readOnly: true }] : [],
            ports: [{ internal: APP_PORT, published: config.published }],
            // No health check here: app/Dockerfile declares one (liveness only: a request to
            // /health/live), so the image cannot run without it, and a restart of MySQL does not
            // make every app instance unhealthy in the middle of its own update.
            runtime: appRuntime(config, args.log),
            waitTimeoutSeconds: 120,
            kind: "stateless",
            replicas: config.replicas,
            labels: args.labels,
        };
        this.workload = deployService(name, description, target, this, args.waitFor);

        this.url = `http://${args.publicHost}:${config.published.port}`;
        this.registerOutputs({ name: this.workload.name, url: this.url, imageId: this.image.repoDigest });
    }
}
