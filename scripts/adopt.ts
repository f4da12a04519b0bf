/**
 * Takes over a deployment made by hand with the guide (`docker run` for Jupyter,
 * `docker-compose up` for MySQL, Elasticsearch and the app), without losing a byte of its data:
 *
 * - the guide's data volumes are found by what Docker knows of them, not by guessing names:
 *   Compose names a volume after its project (`<folder>_mysql_volume`) and labels it
 *   `com.docker.compose.volume=mysql_volume`; `jupyter_volume`, made with `docker volume create`,
 *   has its plain name. The stack's volume config is pointed at them, so `up` adopts them;
 * - the MySQL user and database the hand-made server was made with (its container's MYSQL_USER
 *   and MYSQL_DATABASE) become the stack's mysqlUser and mysqlDatabase where they differ;
 * - the passwords MySQL's data was initialised with (from the compose file, or typed, never
 *   echoed) go into the stack's secret config, after they are checked against the running server;
 *   whatever their length: they are the data's, and the user's to keep;
 * - the hand-made containers (found by the stack's container names, without the stack's label)
 *   are stopped with time for a clean shutdown and removed, with the Compose network they leave
 *   empty, so that the stack's own containers take their place on `up`.
 *
 * `planAdoption` only looks; `adoptedConfigProblems` checks the config the plan gives the stack
 * through the program's own validation, before anything is changed; `removeHandMade` changes the
 * engine. Run again once the stack is up, the plan is empty: the containers are the stack's own
 * and the config already matches.
 */
import type Docker from "dockerode";
import { parse } from "yaml";
import { parseStackConfig } from "../components/config";
import type { StackConfig } from "../components/config";
import { ConfigError } from "../components/configReader";

export const STACK_LABEL = "org.smartbuilding.stack";
const COMPOSE_PROJECT = "com.docker.compose.project";
const COMPOSE_VOLUME = "com.docker.compose.volume";
const COMPOSE_NETWORK = "com.docker.compose.network";
/** How long a hand-made container gets to stop before Docker kills it: MySQL flushes InnoDB on SIGTERM. */
export const STOP_GRACE_SECONDS = 60;

/** The MySQL passwords the hand-made deployment was initialised with. */
export interface GuidePasswords {
    readonly root: string;
    readonly user: string;
}

/** A config value to set on the stack. */
export interface ConfigChange {
    readonly key: string;
    readonly value: string;
    readonly secret: boolean;
    /** Why, in words (never the value of a secret). */
    readonly reason: string;
}

export interface AdoptionPlan {
    readonly config: ConfigChange[];
    /** Hand-made containers that the stack's own will replace. */
    readonly containers: { name: string; id: string; image: string }[];
    /** Compose networks that only those containers use. */
    readonly networks: string[];
    /** What was found and left as it is. */
    readonly notes: string[];
}

/** Raised when the engine holds something adoption cannot decide alone; the message says what to do. */
export class AdoptionRefused extends Error {}

/** The guide's data volumes: the config key the stack names each by, and the guide's name for it. */
function guideVolumes(config: StackConfig): { key: string; guideName: string; configured: string }[] {
    return [
        { key: "mysqlVolumeName", guideName: "mysql_volume", configured: config.mysql.volumeName },
        { key: "elasticsearchVolumeName", guideName: "esdata1", configured: config.elasticsearch.volumeName },
        ...(config.jupyter ? [{ key: "jupyterVolumeName", guideName: "jupyter_volume", configured: config.jupyter.volumeName }] : []),
    ];
}

/** The stack's containers by name, with the guide's service each stands for. */
function guideContainers(config: StackConfig): string[] {
    return [config.mysql.containerName, config.elasticsearch.containerName, config.app.containerName, ...(config.jupyter ? [config.jupyter.containerName] : [])];
}

/** `MYSQL_ROOT_PASSWORD` and `MYSQL_PASSWORD` of the compose file's MySQL service (the one whose image is mysql or mariadb, or that sets them). */
export function passwordsFromCompose(text: string): GuidePasswords {
    const file = parse(text) as { services?: Record<string, { image?: string; environment?: Record<string, unknown> | string[] }> };
    for (const service of Object.values(file.services ?? {})) {
        const env = service.environment ?? {};
        const vars: Record<string, string> = Array.isArray(env)
            ? Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]))
            : Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
        if (vars.MYSQL_ROOT_PASSWORD !== undefined) {
            if (!vars.MYSQL_PASSWORD) throw new AdoptionRefused("the compose file's MySQL service sets MYSQL_ROOT_PASSWORD but no MYSQL_PASSWORD");
            return { root: vars.MYSQL_ROOT_PASSWORD, user: vars.MYSQL_PASSWORD };
        }
    }
    throw new AdoptionRefused("the compose file has no service with MYSQL_ROOT_PASSWORD");
}

async function inspectContainer(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
        return await docker.getContainer(name).inspect();
    } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
    }
}

/**
 * Checks `password` for `user` against the MySQL server in `container`, over TCP as the app
 * connects. The password travels in the exec's environment (MYSQL_PWD), never on a command
 * line, and the exec leaves no trace in the container's configuration.
 */
async function passwordWorks(docker: Docker, container: string, user: string, password: string): Promise<boolean> {
    const exec = await docker.getContainer(container).exec({
        Cmd: ["mysql", "--host=127.0.0.1", "--protocol=tcp", `--user=${user}`, "--execute=SELECT 1"],
        Env: [`MYSQL_PWD=${password}`],
        AttachStdout: true,
        AttachStderr: true,
    });
    const stream = await exec.start({});
    for await (const chunk of stream) void chunk;
    return (await exec.inspect()).ExitCode === 0;
}

/** Where the MySQL passwords of the hand-made data come from. */
export interface PasswordSource {
    /** The passwords the stack's config holds now, if any (e.g. generated by an earlier `up`). */
    readonly configured?: GuidePasswords;
    /** Asks the user (or reads the compose file); called only when the configured ones do not do. */
    readonly ask: () => Promise<GuidePasswords>;
}

/**
 * What adopting the engine's hand-made deployment into the stack whose validated config is
 * `config` takes. The passwords are asked for only when there is MySQL data made by hand to
 * adopt and the stack's configured passwords are not known to log in to it.
 */
export async function planAdoption(docker: Docker, config: StackConfig, passwords: PasswordSource): Promise<AdoptionPlan> {
    const changes: ConfigChange[] = [];
    const notes: string[] = [];
    const volumes = await docker.listVolumes();

    for (const v of guideVolumes(config)) {
        const composed = (volumes.Volumes ?? []).filter((vol) => vol.Labels?.[COMPOSE_VOLUME] === v.guideName);
        if (composed.length > 1) {
            const names = composed.map((c) => `${c.Name} (Compose project "${c.Labels?.[COMPOSE_PROJECT] ?? "?"}")`).join(", ");
            throw new AdoptionRefused(
                `more than one Compose project has a ${v.guideName} volume: ${names}. Adoption cannot tell which holds your data; ` +
                    `set ${v.key} yourself (npm run stack -- config set ${v.key} <name>) and run adopt again.`,
            );
        }
        if (composed.length === 1 && composed[0].Name !== v.configured) {
            changes.push({ key: v.key, value: composed[0].Name, secret: false, reason: `Compose made the guide's ${v.guideName} as ${composed[0].Name}` });
        } else if (composed.length === 1 || (volumes.Volumes ?? []).some((vol) => vol.Name === v.configured)) {
            notes.push(`${v.configured}: the stack's ${v.key} already names it; up adopts it as it is`);
        }
    }

    const containers: AdoptionPlan["containers"] = [];
    const networks = new Set<string>();
    let mysqlEnv: Record<string, string> = {};
    for (const name of guideContainers(config)) {
        const found = await inspectContainer(docker, name);
        if (!found) continue;
        if (found.Config.Labels?.[STACK_LABEL] === config.stack) {
            notes.push(`${name}: already the stack's own container`);
            continue;
        }
        containers.push({ name, id: found.Id, image: found.Config.Image });
        if (name === config.mysql.containerName) mysqlEnv = environmentOf(found.Config.Env);
        for (const [network, settings] of Object.entries(found.NetworkSettings.Networks ?? {})) {
            void settings;
            if (network !== "bridge" && network !== "host" && network !== "none") networks.add(network);
        }
    }

    const mysqlByHand = containers.find((c) => c.name === config.mysql.containerName);
    // The user and database the hand-made server was made with: MySQL creates them only when it
    // initialises its data directory, so the stack must use the data's own.
    const names = [
        { key: "mysqlUser", variable: "MYSQL_USER", configured: config.mysql.user, what: "user" },
        { key: "mysqlDatabase", variable: "MYSQL_DATABASE", configured: config.mysql.database, what: "database" },
    ];
    for (const n of names) {
        const made = mysqlEnv[n.variable];
        if (mysqlByHand && made && made !== n.configured) {
            changes.push({ key: n.key, value: made, secret: false, reason: `the hand-made ${mysqlByHand.name} made its ${n.what} with ${n.variable}=${made}` });
        }
    }
    const user = changes.find((c) => c.key === "mysqlUser")?.value ?? config.mysql.user;

    // Passwords are needed where MySQL data made by hand is adopted: its volume comes from
    // Compose, or a hand-made MySQL container runs on it.
    const mysqlDataAdopted = changes.some((c) => c.key === "mysqlVolumeName") || mysqlByHand !== undefined;
    if (mysqlDataAdopted) {
        const running = mysqlByHand !== undefined && (await inspectContainer(docker, mysqlByHand.id))?.State.Running === true;
        const logIn = async (p: GuidePasswords) =>
            (await passwordWorks(docker, mysqlByHand!.id, "root", p.root)) && (await passwordWorks(docker, mysqlByHand!.id, user, p.user));
        if (running && passwords.configured && (await logIn(passwords.configured))) {
            notes.push(`the stack's configured passwords log in to ${mysqlByHand.name}`);
        } else {
            const given = await passwords.ask();
            if (running) {
                if (!(await logIn(given))) {
                    throw new AdoptionRefused(`the passwords given do not log in to ${mysqlByHand.name} as root and ${user}; nothing was changed`);
                }
                notes.push(`both passwords log in to ${mysqlByHand.name}`);
            } else {
                notes.push("no hand-made MySQL is running to check the passwords against: they are taken as given");
            }
            changes.push({ key: "mysqlRootPassword", value: given.root, secret: true, reason: "the root password the MySQL data was initialised with" });
            changes.push({ key: "mysqlPassword", value: given.user, secret: true, reason: `${user}'s password the MySQL data was initialised with` });
        }
    }

    // A Compose network goes when no container outside the ones removed here uses it.
    const removedIds = new Set(containers.map((c) => c.id));
    const emptied: string[] = [];
    for (const name of networks) {
        const network = (await docker.getNetwork(name).inspect()) as { Labels?: Record<string, string>; Containers?: Record<string, unknown> };
        if (!network.Labels?.[COMPOSE_NETWORK]) continue;
        if (Object.keys(network.Containers ?? {}).every((id) => removedIds.has(id))) emptied.push(name);
    }
    return { config: changes, containers, networks: emptied.sort(), notes };
}

/** A container's environment (`KEY=value` lines) by name. */
function environmentOf(env: readonly string[] | null | undefined): Record<string, string> {
    return Object.fromEntries((env ?? []).filter((e) => e.includes("=")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/**
 * Every reason the stack would not run on the config `plan` gives it, checked before anything is
 * changed: `values` is the stack's config as the program reads it (Pulumi.yaml's defaults applied,
 * keys without the `namespace`), `setKeys` the keys the stack sets. The adopted config goes through
 * the program's own validation (parseStackConfig, which `preview` and `up` run), every problem
 * naming its key; and each data volume adoption found must be the one the adopted config names
 * (namePrefix goes in front of every name the stack gives). Empty when the stack would run on it.
 */
export function adoptedConfigProblems(
    namespace: string,
    stack: string,
    values: Readonly<Record<string, string>>,
    setKeys: readonly string[],
    plan: AdoptionPlan,
    projectDir: string,
): string[] {
    const adopted: Record<string, string> = { ...values, ...Object.fromEntries(plan.config.map((c) => [c.key, c.value])) };
    let config: StackConfig;
    try {
        config = parseStackConfig(namespace, stack, (key) => adopted[key], projectDir, [...new Set([...setKeys, ...plan.config.map((c) => c.key)])]);
    } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
    }
    const named = new Map(guideVolumes(config).map((v) => [v.key, v.configured]));
    return plan.config
        .filter((c) => named.has(c.key) && named.get(c.key) !== c.value)
        .map(
            (c) =>
                `${namespace}:${c.key}: the stack would name its volume "${named.get(c.key)}", not "${c.value}", the one that holds the data: ` +
                `${namespace}:namePrefix "${adopted.namePrefix ?? ""}" goes in front of every name the stack gives; adopt into a stack whose namePrefix is "".`,
        );
}

/** Whether the plan changes anything. */
export function isEmpty(plan: AdoptionPlan): boolean {
    return plan.config.length === 0 && plan.containers.length === 0 && plan.networks.length === 0;
}

/** The plan in words, secrets left out. */
export function describePlan(plan: AdoptionPlan): string[] {
    return [
        ...plan.config.map((c) => `set ${c.key}${c.secret ? " (secret)" : ` = ${c.value}`}: ${c.reason}`),
        ...plan.containers.map((c) => `stop (up to ${STOP_GRACE_SECONDS} s for a clean shutdown) and remove the hand-made container ${c.name} (${c.image}); its data stays on its volume`),
        ...plan.networks.map((n) => `remove the Compose network ${n}, left empty`),
        ...plan.notes.map((n) => `(found) ${n}`),
    ];
}

/** Stops the hand-made containers with time for a clean shutdown, removes them and the networks they leave empty. Volumes are never touched. */
export async function removeHandMade(docker: Docker, plan: AdoptionPlan): Promise<void> {
    await Promise.all(
        plan.containers.map(async (c) => {
            const container = docker.getContainer(c.id);
            await container.stop({ t: STOP_GRACE_SECONDS }).catch((err: { statusCode?: number }) => {
                if (err.statusCode !== 304) throw err;
            });
            await container.remove({ v: false });
        }),
    );
    for (const network of plan.networks) await docker.getNetwork(network).remove();
}
