/**
 * The Swarm resources of the real-engine runner (engine.ts): `docker.Secret`,
 * `docker.ServiceConfig` and `docker.Service`, each mapped onto the Docker Engine API request the
 * provider makes, with the provider's documented meaning next to each field. Sources:
 * - the field descriptions of `@pulumi/docker` 5.2.0 (node_modules/@pulumi/docker/types/input.d.ts,
 *   service.d.ts, secret.d.ts, serviceConfig.d.ts);
 * - kreuzwerker/terraform-provider-docker v4.5.0, internal/provider/resource_docker_service.go (the
 *   schema: defaults, ForceNew), resource_docker_service_structures.go (`createServiceSpec` and the
 *   functions it calls), resource_docker_service_funcs.go (create, update, delete, convergence),
 *   resource_docker_secret.go, resource_docker_config.go;
 * - moby's Go client v28 (client/service_create.go, service_update.go), which the provider calls
 *   and which rewrites the image reference before the request goes out.
 *
 * A subtlety of the provider worth knowing when reading the mapping: the Terraform SDK hands a
 * nested block to the provider with every key of its schema present, unset ones at their zero
 * value or schema default. So a block the program sets sends its unset fields too (a restart
 * policy with only `condition` sends a 0 s delay, not Swarm's 5 s default), and a Computed field the
 * program leaves out is sent as its zero value (no `stopGracePeriod` sends 0 s, not Swarm's 10 s).
 * The mapping below sends what the provider sends.
 */
import crypto from "crypto";
import Docker from "dockerode";
import type { DeclaredResource } from "../../support/program";
import { durationNanos } from "../../../components/providerFormats";
import { engineMessage, gone, labelMap, onlyFields, sleep } from "./engine";
import { canonical } from "./providerState";

type Inputs = Record<string, any>;

/** What creating a resource hands back to the runner. */
export interface Made {
    id: string;
    state: Inputs;
    destroy: () => Promise<void>;
}

/**
 * Pulumi's auto-naming, as pulumi-docker sets it up (provider/resources.go `SetAutonaming(255, "-")`):
 * a `name` the program leaves out becomes the logical name, a dash and 7 random hex digits.
 */
export function autoName(logicalName: string): string {
    return `${logicalName}-${crypto.randomBytes(4).toString("hex").slice(0, 7)}`;
}

/** A Go duration as `time.Duration.String()` writes it ("3m0s", "30s", "1h0m0s"). */
function goDurationString(nanos: number): string {
    if (nanos === 0) return "0s";
    const h = Math.floor(nanos / 3600e9);
    const m = Math.floor((nanos % 3600e9) / 60e9);
    const s = (nanos % 60e9) / 1e9;
    return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${Number(s.toFixed(9))}s`;
}

/**
 * A duration the provider parses with `time.ParseDuration` and whose error it drops: an unset
 * (empty) value is 0.
 */
function lenientDuration(text: string | undefined): number {
    return text === undefined || text === "" ? 0 : durationNanos(text);
}

/** `data` as the provider decodes it (`base64.StdEncoding`), validated first as its schema does (without echoing the value). */
function decodedData(data: unknown, where: string): string {
    if (typeof data !== "string" || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(data)) {
        throw new Error(`${where}: "data" is not base64 (standard encoding, padded), which the provider's validation refuses`);
    }
    // The Engine API takes the bytes as standard base64 in JSON (Go's []byte).
    return data;
}

// ---------------------------------------------------------------------------------------------
// Secret and ServiceConfig

/**
 * Secret (resource_docker_secret.go) and ServiceConfig (resource_docker_config.go), mapped alike:
 * `name` "User-defined name of the secret/config", `data` "Base64-url-safe-encoded secret data"
 * (decoded with standard base64 though), `labels` "User-defined key/value metadata". Every field is
 * ForceNew: Swarm secrets and configs cannot change, so a change replaces them. Create is
 * SecretCreate or ConfigCreate; the id is the object's; the read sets `name` only (the API never
 * returns a secret's data). Delete is SecretRemove or ConfigRemove, which Swarm refuses while a
 * service still uses it. A config's `dataRaw` (plain text) is not mapped.
 */
export async function createSwarmObject(client: Docker, r: DeclaredResource, kind: "secret" | "config"): Promise<Made> {
    const where = `${r.type} ${r.name}`;
    onlyFields(r.inputs, ["name", "data", "labels"], where);
    const name: string = r.inputs.name ?? autoName(r.name);
    const spec = { Name: name, Labels: r.inputs.labels ? labelMap(r.inputs.labels, where) : undefined, Data: decodedData(r.inputs.data, where) };
    const made = await (kind === "secret" ? client.createSecret(spec) : client.createConfig(spec)).catch((err: unknown) => {
        throw new Error(`${where}: ${kind} ${name}: ${engineMessage(err)}`);
    });
    const id: string = made.id;
    const remove = () => (kind === "secret" ? client.getSecret(id).remove() : client.getConfig(id).remove());
    return { id, state: { ...r.inputs, name }, destroy: () => gone(remove()) };
}

// ---------------------------------------------------------------------------------------------
// Service: the spec

/** Docker labels (`[{label, value}]`) as the provider sends them: an empty map when unset. */
const labelsOf = (labels: unknown, where: string) => labelMap((labels as { label: string; value: string }[] | undefined) ?? [], where);

/**
 * `createServiceSpec`: the ServiceSpec of a ServiceCreate or ServiceUpdate request. Each block
 * below names the provider function it follows.
 */
export function serviceSpec(i: Inputs, name: string, where: string): Record<string, any> {
    // `auth` is not part of the spec: it travels as the request's X-Registry-Auth (`serviceAuth`).
    onlyFields(i, ["name", "labels", "mode", "taskSpec", "endpointSpec", "updateConfig", "rollbackConfig", "convergeConfig", "auth"], where);
    return {
        // `name`: "Name of the service" (ForceNew).
        Name: name,
        // `labels`: "User-defined key/value metadata" (updatable in place).
        ...(i.labels ? { Labels: labelsOf(i.labels, where) } : {}),
        TaskTemplate: taskSpec(i.taskSpec, `${where}.taskSpec`),
        Mode: serviceMode(i.mode, `${where}.mode`),
        // `updateConfig`: "Specification for the update strategy of the service"; `rollbackConfig`:
        // "Specification for the rollback strategy of the service" (nil, Swarm's defaults, when unset).
        ...(i.updateConfig ? { UpdateConfig: updateOrRollbackConfig(i.updateConfig, `${where}.updateConfig`) } : {}),
        ...(i.rollbackConfig ? { RollbackConfig: updateOrRollbackConfig(i.rollbackConfig, `${where}.rollbackConfig`) } : {}),
        EndpointSpec: endpointSpec(i.endpointSpec, `${where}.endpointSpec`),
    };
}

/** `createServiceTaskSpec`: "User modifiable task configuration". */
function taskSpec(ts: Inputs | undefined, where: string): Record<string, any> {
    if (!ts) throw new Error(`${where}: required`);
    onlyFields(ts, ["containerSpec", "resources", "restartPolicy", "placement", "forceUpdate", "networksAdvanceds", "logDriver"], where);
    return {
        ContainerSpec: containerSpec(ts.containerSpec, `${where}.containerSpec`),
        Resources: resources(ts.resources, `${where}.resources`),
        RestartPolicy: restartPolicy(ts.restartPolicy, `${where}.restartPolicy`),
        Placement: placement(ts.placement, `${where}.placement`),
        // `forceUpdate`: "A counter that triggers an update even if no relevant parameters have
        // been changed" (sent as 0 when unset).
        ForceUpdate: ts.forceUpdate ?? 0,
        // `networksAdvanceds`: "The networks the container is attached to": `name` / `id` "The
        // name/id of the network" (the provider sends either as the Target, unresolved: the engine
        // accepts a name or an id), `aliases` "The network aliases of the container in the
        // specific network". All ForceNew: a change replaces the service.
        Networks: (ts.networksAdvanceds ?? []).map((n: Inputs) => {
            onlyFields(n, ["name", "id", "aliases"], `${where}.networksAdvanceds[]`);
            const target = n.id || n.name;
            if (!target) throw new Error(`${where}.networksAdvanceds[]: network 'name' or 'id' must be specified`);
            return { Target: target, Aliases: n.aliases ?? [], DriverOpts: {} };
        }),
        // `logDriver`: "Specifies the log driver to use for tasks created from this spec": `name`
        // "The logging driver to use", `options` "The options for the logging driver".
        ...(ts.logDriver ? { LogDriver: logDriver(ts.logDriver, `${where}.logDriver`) } : {}),
    };
}

function logDriver(l: Inputs, where: string) {
    onlyFields(l, ["name", "options"], where);
    return { Name: l.name, Options: l.options ?? {} };
}

/**
 * Docker's client rewrites the image before the request goes out (client/service_create.go
 * `imageWithTagString`): a reference with neither tag nor digest gets `:latest`.
 */
export function taggedImage(image: string): string {
    const lastPart = image.slice(image.lastIndexOf("/") + 1);
    return lastPart.includes(":") || lastPart.includes("@") ? image : `${image}:latest`;
}

/** `createContainerSpec`: "The spec for each container". */
function containerSpec(cs: Inputs | undefined, where: string): Record<string, any> {
    if (!cs) throw new Error(`${where}: required`);
    onlyFields(
        cs,
        ["image", "args", "commands", "env", "user", "init", "healthcheck", "mounts", "secrets", "configs", "stopGracePeriod", "stopSignal", "capAdds", "capDrops", "labels"],
        where,
    );
    return {
        // `image`: "The image name to use for the containers of the service, like `nginx:1.17.6`".
        Image: taggedImage(cs.image),
        // `labels`: "User-defined key/value metadata" (ForceNew: a change replaces the service).
        Labels: labelsOf(cs.labels, where),
        // `commands`: "The command/entrypoint to be run in the image" (ContainerSpec.Command, which
        // replaces the image's ENTRYPOINT); `args`: "Arguments to the command" (Args, in place of CMD).
        Command: cs.commands ?? [],
        Args: cs.args ?? [],
        Hostname: "",
        // `env`: "A list of environment variables in the form VAR=\"value\"" (a map, sent as KEY=value).
        Env: Object.entries((cs.env ?? {}) as Record<string, string>)
            .filter(([key]) => key.length > 0)
            .map(([key, value]) => `${key}=${value}`),
        Dir: "",
        // `user`: "The user inside the container".
        User: cs.user ?? "",
        Groups: [],
        ReadOnly: false,
        Mounts: (cs.mounts ?? []).map((m: Inputs) => mount(m, `${where}.mounts[]`)),
        // `stopSignal`: "Signal to stop the container".
        StopSignal: cs.stopSignal ?? "",
        // `stopGracePeriod`: "Amount of time to wait for the container to terminate before forcefully
        // removing it (ms|s|m|h)". Optional and Computed: unset, the provider sends 0 s.
        StopGracePeriod: lenientDuration(cs.stopGracePeriod),
        Healthcheck: healthcheck(cs.healthcheck, `${where}.healthcheck`),
        Hosts: [],
        DNSConfig: {},
        // `secrets`: "References to zero or more secrets that will be exposed to the service":
        // `secretId` "ID of the specific secret that we're referencing", `secretName` "Name of the
        // secret that this references, but this is just provided for lookup/display purposes",
        // `fileName` "Represents the final filename in the filesystem", `fileUid` / `fileGid`
        // "Represents the file UID/GID" (default "0"), `fileMode` "Represents represents the
        // FileMode of the file" (default 0o444).
        Secrets: (cs.secrets ?? []).map((s: Inputs) => {
            onlyFields(s, ["secretId", "secretName", "fileName", "fileUid", "fileGid", "fileMode"], `${where}.secrets[]`);
            return { SecretID: s.secretId, SecretName: s.secretName ?? "", File: fileTarget(s) };
        }),
        // `configs`: "References to zero or more configs that will be exposed to the service", the same fields.
        Configs: (cs.configs ?? []).map((c: Inputs) => {
            onlyFields(c, ["configId", "configName", "fileName", "fileUid", "fileGid", "fileMode"], `${where}.configs[]`);
            return { ConfigID: c.configId, ConfigName: c.configName ?? "", File: fileTarget(c) };
        }),
        Isolation: "default",
        Sysctls: {},
        // `capAdds` / `capDrops`: "List of Linux capabilities to add/drop to the container".
        ...(cs.capAdds ? { CapabilityAdd: cs.capAdds } : {}),
        ...(cs.capDrops ? { CapabilityDrop: cs.capDrops } : {}),
        // `init`: "Use an init inside each service container to forward signals and reap
        // processes" (Optional, Computed: sent as false when unset, since the engine's API ≥ 1.37).
        Init: cs.init ?? false,
    };
}

function fileTarget(f: Inputs) {
    return { Name: f.fileName, UID: f.fileUid ?? "0", GID: f.fileGid ?? "0", Mode: f.fileMode ?? 0o444 };
}

/**
 * `mounts`: "Specification for mounts to be added to containers created as part of the service":
 * `type` "The mount type" (bind, volume, tmpfs), `source` "Mount source (e.g. a volume name, a host
 * path)", `target` "Container path", `readOnly` "Whether the mount should be read-only",
 * `volumeOptions` "Optional configuration for the volume type": `labels` (ForceNew), `noCopy`
 * "Populate volume with data from the target", `driverName` "Name of the driver to use to create
 * the volume" (the provider always sends a DriverConfig once volumeOptions is set).
 */
function mount(m: Inputs, where: string) {
    onlyFields(m, ["type", "source", "target", "readOnly", "volumeOptions"], where);
    const out: Record<string, any> = { Type: m.type, Target: m.target, Source: m.source ?? "", ReadOnly: m.readOnly ?? false };
    if (m.volumeOptions) {
        const v = m.volumeOptions;
        onlyFields(v, ["labels", "noCopy", "driverName"], `${where}.volumeOptions`);
        out.VolumeOptions = { NoCopy: v.noCopy ?? false, Labels: labelsOf(v.labels, `${where}.volumeOptions`), DriverConfig: { Name: v.driverName ?? "", Options: {} } };
    }
    return out;
}

/**
 * `healthcheck`: "A test to perform to check that the container is healthy": `tests` "The test to
 * perform as list", `interval` / `timeout` / `startPeriod` (default "0s": the image's), `retries`
 * "Consecutive failures needed to report unhealthy" (default 0). Unset: an empty HealthConfig,
 * which keeps the image's HEALTHCHECK.
 */
function healthcheck(h: Inputs | undefined, where: string) {
    if (!h) return {};
    onlyFields(h, ["tests", "interval", "timeout", "startPeriod", "retries"], where);
    return {
        Test: h.tests ?? [],
        Interval: lenientDuration(h.interval ?? "0s"),
        Timeout: lenientDuration(h.timeout ?? "0s"),
        StartPeriod: lenientDuration(h.startPeriod ?? "0s"),
        Retries: h.retries ?? 0,
    };
}

/**
 * `resources`: "Resource requirements which apply to each individual container created as part
 * of the service": `limits` "Describes the resources which can be advertised by a node and
 * requested by a task": `memoryBytes` "The amount of memory in bytes the container allocates",
 * `nanoCpus` "CPU shares in units of 1/1e9 (or 10^-9) of the CPU. Should be at least `1000000`".
 */
function resources(r: Inputs | undefined, where: string) {
    if (!r) return {};
    onlyFields(r, ["limits"], where);
    if (!r.limits) return {};
    onlyFields(r.limits, ["memoryBytes", "nanoCpus"], `${where}.limits`);
    return { Limits: { NanoCPUs: r.limits.nanoCpus ?? 0, MemoryBytes: r.limits.memoryBytes ?? 0 } };
}

/**
 * `restartPolicy`: "Specification for the restart policy which applies to containers created as
 * part of this service": `condition` "Condition for restart" (none, on-failure, any), `delay`
 * "Delay between restart attempts", `maxAttempts` "Maximum attempts to restart a given container
 * before giving up (default value is `0`, which is ignored)", `window` "The time window used to
 * evaluate the restart policy". Set, its unset fields go as 0 (`createRestartPolicy`).
 */
function restartPolicy(p: Inputs | undefined, where: string) {
    if (!p) return {};
    onlyFields(p, ["condition", "delay", "maxAttempts", "window"], where);
    return { Condition: p.condition ?? "", Delay: lenientDuration(p.delay), MaxAttempts: p.maxAttempts ?? 0, Window: lenientDuration(p.window) };
}

/**
 * `placement`: "The placement preferences": `constraints` "An array of constraints. e.g.:
 * `node.role==manager`", `prefs` "Preferences provide a way to make the scheduler aware of
 * factors such as topology ... e.g.: `spread=node.role.manager`" (each sent as a Spread
 * preference, `stringSetToPlacementPrefs`), `maxReplicas` "Maximum number of replicas for per
 * node (default value is `0`, which is unlimited)" (`createPlacement`).
 */
function placement(p: Inputs | undefined, where: string) {
    if (!p) return {};
    onlyFields(p, ["constraints", "prefs", "maxReplicas"], where);
    const spread = (descriptor: string) => {
        const [kind, value] = descriptor.split(/=(.*)/s);
        if (kind !== "spread" || !value) throw new Error(`${where}.prefs: "${descriptor}" is not a spread preference (spread=<node attribute>)`);
        return { Spread: { SpreadDescriptor: value } };
    };
    return { Constraints: p.constraints ?? [], Preferences: (p.prefs ?? []).map(spread), Platforms: [], MaxReplicas: p.maxReplicas ?? 0 };
}

/**
 * `mode`: "Scheduling mode for the service": `replicated` with `replicas` "The amount of replicas
 * of the service" (default 1), or `global` "The global service mode" (no converge_config with it).
 * Unset: Swarm's default, one replica.
 */
function serviceMode(m: Inputs | undefined, where: string) {
    if (!m) return {};
    onlyFields(m, ["replicated", "global"], where);
    if (m.replicated) onlyFields(m.replicated, ["replicas"], `${where}.replicated`);
    return {
        ...(m.replicated ? { Replicated: { Replicas: m.replicated.replicas ?? 1 } } : {}),
        ...(m.global === true ? { Global: {} } : {}),
    };
}

/**
 * `updateConfig` / `rollbackConfig`: `parallelism` "Maximum number of tasks to be updated in one
 * iteration" (default 1), `delay` "Delay between task updates" (default 0s), `failureAction`
 * "Action on update failure: `pause`, `continue` or `rollback`" (default pause), `monitor`
 * "Duration after each task update to monitor for failure" (default 5s), `maxFailureRatio`
 * "Failure rate to tolerate during an update" (default "0.0"), `order` "Update order: either
 * 'stop-first' or 'start-first'" (default stop-first).
 */
function updateOrRollbackConfig(c: Inputs, where: string) {
    onlyFields(c, ["parallelism", "delay", "failureAction", "monitor", "maxFailureRatio", "order"], where);
    return {
        Parallelism: c.parallelism ?? 1,
        Delay: lenientDuration(c.delay ?? "0s"),
        FailureAction: c.failureAction ?? "pause",
        Monitor: lenientDuration(c.monitor ?? "5s"),
        MaxFailureRatio: Number.parseFloat(c.maxFailureRatio ?? "0.0") || 0,
        Order: c.order ?? "stop-first",
    };
}

/**
 * `endpointSpec`: "Properties that can be configured to access and load balance a service":
 * `mode` "The mode of resolution to use for internal load balancing between tasks" (vip, dnsrr),
 * `ports` "List of exposed ports that this service is accessible on from the outside": `targetPort`
 * "The port inside the container", `publishedPort` "The port on the swarm hosts" (unset or 0: the
 * engine picks one), `publishMode` "Represents the mode in which the port is to be published:
 * 'ingress' or 'host'" (default ingress), `protocol` (default tcp), `name` "A random name for the port".
 */
function endpointSpec(e: Inputs | undefined, where: string) {
    if (!e) return {};
    onlyFields(e, ["mode", "ports"], where);
    return {
        ...(e.mode ? { Mode: e.mode } : {}),
        Ports: (e.ports ?? []).map((p: Inputs) => {
            onlyFields(p, ["targetPort", "publishedPort", "publishMode", "protocol", "name"], `${where}.ports[]`);
            return { Name: p.name ?? "", Protocol: p.protocol ?? "tcp", TargetPort: p.targetPort, PublishedPort: p.publishedPort ?? 0, PublishMode: p.publishMode ?? "ingress" };
        }),
    };
}

/**
 * The inputs whose change replaces a service rather than updating it: those the schema marks
 * ForceNew (`name`, `auth`, everything in `taskSpec.networksAdvanceds`, the container spec's
 * `labels`, `hosts`, `sysctl`, the mounts' `volumeOptions.labels`). Every other change is a
 * ServiceUpdate. (`mode` is ForceNew as a block, which the SDK applies to adding or removing the
 * block, not to `replicas`.)
 */
export function serviceNeedsReplacement(before: Inputs, after: Inputs): boolean {
    const cs = (i: Inputs) => i.taskSpec?.containerSpec ?? {};
    const same = (a: unknown, b: unknown) => canonical(a ?? null) === canonical(b ?? null);
    const volumeLabels = (i: Inputs) => (cs(i).mounts ?? []).map((m: Inputs) => m.volumeOptions?.labels ?? null);
    return (
        !same(before.name, after.name) ||
        !same(before.auth, after.auth) ||
        !same(before.taskSpec?.networksAdvanceds, after.taskSpec?.networksAdvanceds) ||
        !same(cs(before).labels, cs(after).labels) ||
        !same(volumeLabels(before), volumeLabels(after))
    );
}

// ---------------------------------------------------------------------------------------------
// Service: create, update, delete

/**
 * `auth`: "Configuration for the authentication for pulling the images of the service":
 * `serverAddress` "The address of the server for the authentication", `username`, `password`
 * (all ForceNew). The provider (`retrieveAndMarshalAuth`, resource_docker_service_funcs.go)
 * sends it on create and update as the X-Registry-Auth header, base64url of the JSON of an
 * AuthConfig, which the engine keeps with the service (never in its spec as inspected) and hands
 * to the node of each task for its pull: username, password and server address when both username
 * and password are set (`authToServiceAuth`), an empty one otherwise. Without `auth` the provider
 * looks the image's registry up in its own `registryAuth` (`fromRegistryAuth`), which the runner
 * passes in as `providerAuths`.
 */
export function serviceAuth(i: Inputs, where: string, providerAuths: RegistryAuth[] = []): Docker.AuthConfig {
    const a = i.auth as Inputs | undefined;
    if (a) {
        onlyFields(a, ["serverAddress", "username", "password"], `${where}.auth`);
        return (a.username && a.password ? { username: a.username, password: a.password, serveraddress: a.serverAddress } : {});
    }
    return (authFor(String(i.taskSpec?.containerSpec?.image ?? ""), providerAuths) ?? {});
}

/** A provider's `registryAuth` entry: `address` "Address of the registry", `username`, `password`. */
export interface RegistryAuth {
    address: string;
    username?: string;
    password?: string;
}

/**
 * The provider's login for the registry an image reference names (`fromRegistryAuth`: the part
 * before the first "/", matched against each `registryAuth` address without its scheme), as the
 * engine takes it; undefined when none matches.
 */
export function authFor(image: string, auths: RegistryAuth[]): { username: string; password: string; serveraddress: string } | undefined {
    const slash = image.indexOf("/");
    if (slash < 0) return undefined;
    const server = image.slice(0, slash);
    const found = auths.find((a) => a.address.replace(/^https?:\/\//, "").replace(/\/.*$/, "") === server && a.username);
    return found ? { username: found.username!, password: found.password ?? "", serveraddress: server } : undefined;
}

/**
 * QueryRegistry (the provider sets it on create only): Docker's client asks the registry for the
 * image's digest (GET /distribution/{image}/json) and pins the spec to `image:tag@digest`, and to
 * the image's platforms; an image no registry knows (a local one) stays as it is, with a warning.
 */
async function pinImageToDigest(client: Docker, spec: Record<string, any>, log: (line: string) => void, authconfig: Docker.AuthConfig): Promise<void> {
    const image: string = spec.TaskTemplate.ContainerSpec.Image;
    try {
        const found = (await (client.getImage(image) as any).distribution({ authconfig })) as { Descriptor: { digest: string }; Platforms?: { architecture: string; os: string }[] };
        if (!image.includes("@")) spec.TaskTemplate.ContainerSpec.Image = `${image}@${found.Descriptor.digest}`;
        if (found.Platforms && found.Platforms.length > 0) {
            spec.TaskTemplate.Placement = {
                ...(spec.TaskTemplate.Placement ?? {}),
                Platforms: found.Platforms.map((p) => ({ Architecture: p.architecture.toLowerCase() === "arm" ? "" : p.architecture, OS: p.os })),
            };
        }
    } catch {
        log(`image ${image} could not be accessed on a registry to record its digest; each node will access ${image} independently`);
    }
}

/**
 * The provider's `retry.StateChangeConf.WaitForStateContext` (terraform-plugin-sdk helper/retry):
 * after `delay`, `refresh` at once, then after 5 s (`MinTimeout`), then every 10 s, until a
 * target state, a state neither pending nor target (an error), or the timeout (counted from the
 * start, delay included). Resolves to the target state reached.
 */
async function waitForState(conf: { delayMs: number; timeoutMs: number; minTimeoutMs: number; pending: string[]; target: string[]; refresh: () => Promise<string> }): Promise<string> {
    const deadline = Date.now() + conf.timeoutMs;
    const timeout = () => new TimeoutError(`timeout while waiting for state to become '${conf.target.join(", ")}' (last state: '${last}', timeout: ${goDurationString(conf.timeoutMs * 1e6)})`);
    let last = "";
    if (Date.now() + conf.delayMs > deadline) {
        await sleep(deadline - Date.now());
        throw timeout();
    }
    await sleep(conf.delayMs);
    let wait = 0;
    for (;;) {
        if (wait > 0) {
            if (Date.now() + wait > deadline) {
                await sleep(Math.max(0, deadline - Date.now()));
                throw timeout();
            }
            await sleep(wait);
        } else {
            wait = 100;
        }
        last = await conf.refresh();
        if (conf.target.includes(last)) return last;
        if (!conf.pending.includes(last)) throw new Error(`unexpected state '${last}', wanted target '${conf.target.join(", ")}'`);
        wait *= 2;
        wait = wait < conf.minTimeoutMs ? conf.minTimeoutMs : Math.min(wait, 10_000);
    }
}

class TimeoutError extends Error {}

/** Swarm's task states in the order they happen (the provider's `numberedStates`). */
const TASK_STATES: Record<string, number> = {
    new: 1, allocated: 2, pending: 3, assigned: 4, accepted: 5, preparing: 6, ready: 7, starting: 8, running: 9,
    complete: 10, shutdown: 11, failed: 12, rejected: 13,
};

/**
 * The provider's `replicatedConsoleLogUpdater.update`: whether every replica slot of the service
 * has a running task. It looks at the tasks whose desired state is running, keeps one task per
 * slot (the lowest desired state, then the lowest observed state), skips tasks on nodes that are
 * down, and counts the slots whose task is running. It never looks at how far a rolling update has
 * got: a slot whose old task still runs counts as converged. A service without a replica count (a
 * global one) is an error ("no replica count").
 */
async function allReplicasRunning(client: Docker, serviceId: string): Promise<{ done: boolean; running: number; replicas: number }> {
    const service = await client.getService(serviceId).inspect();
    const replicas: number | undefined = service.Spec?.Mode?.Replicated?.Replicas;
    const tasks = await client.listTasks({ filters: { service: [serviceId], "desired-state": ["running"] } });
    const nodes = await client.listNodes();
    const activeNodes = new Set(nodes.filter((n) => n.Status?.State !== "down").map((n) => n.ID as string));
    if (replicas === undefined) throw new Error("no replica count");
    const bySlot = new Map<number, any>();
    for (const task of tasks) {
        const desired = TASK_STATES[task.DesiredState] ?? 0;
        const observed = TASK_STATES[task.Status?.State] ?? 0;
        if (desired === 0 || observed === 0) continue;
        const existing = bySlot.get(task.Slot);
        if (existing) {
            const existingDesired = TASK_STATES[existing.DesiredState];
            if (existingDesired < desired) continue;
            if (existingDesired === desired && TASK_STATES[existing.Status.State] <= observed) continue;
        }
        if (task.NodeID && !activeNodes.has(task.NodeID)) continue;
        bySlot.set(task.Slot, task);
    }
    let running = 0;
    for (const task of bySlot.values()) {
        if (!(TASK_STATES[task.DesiredState] > TASK_STATES.running) && task.Status.State === "running") running++;
    }
    return { done: running === replicas, running, replicas };
}

/** What a service's tasks last said, for an error that says why it did not converge. */
async function taskReport(client: Docker, serviceId: string): Promise<string> {
    const tasks = ((await client.listTasks({ filters: { service: [serviceId] } }).catch(() => [])) as any[])
        .sort((a, b) => String(b.UpdatedAt).localeCompare(String(a.UpdatedAt)))
        .slice(0, 6);
    if (tasks.length === 0) return "no tasks";
    return tasks
        .map((t) => `slot ${t.Slot ?? "-"}: ${t.Status?.State} (desired ${t.DesiredState})${t.Status?.Message ? `, "${t.Status.Message}"` : ""}${t.Status?.Err ? `, error "${t.Status.Err}"` : ""}`)
        .join("; ");
}

/** The converge_config of a service: `delay` (default 7s), `timeout` (default 3m), or none. */
function convergeConfig(i: Inputs, where: string): { delayMs: number; timeoutMs: number; timeoutText: string } | undefined {
    const c = i.convergeConfig;
    if (!c) return undefined;
    onlyFields(c, ["delay", "timeout"], `${where}.convergeConfig`);
    // The schema's ConflictsWith: a global service has no replica count to converge to.
    if (i.mode?.global === true) throw new Error(`${where}: "convergeConfig" conflicts with mode.global`);
    const timeoutNanos = lenientDuration(c.timeout ?? "3m");
    return { delayMs: lenientDuration(c.delay ?? "7s") / 1e6, timeoutMs: timeoutNanos / 1e6, timeoutText: goDurationString(timeoutNanos) };
}

/** The provider's `DidNotConvergeError`, with what the tasks said. */
async function didNotConverge(client: Docker, serviceId: string, name: string, timeoutText: string): Promise<Error> {
    const progress = await allReplicasRunning(client, serviceId).catch(() => undefined);
    return new Error(
        `Service with ID (${serviceId}) did not converge after ${timeoutText}: service ${name}, ` +
            `${progress ? `${progress.running}/${progress.replicas} replicas running` : "replicas unknown"}; last tasks: ${await taskReport(client, serviceId)}`,
    );
}

/**
 * The provider's read after a create or an update (`resourceDockerServiceReadRefreshFunc`): waits
 * until the engine reports the service's endpoint mode, then sets `name` and `endpointSpec` from
 * what the engine reports (the ports it published included). The read's initial 2 s delay is not
 * reproduced.
 */
async function readService(client: Docker, serviceId: string, inputs: Inputs): Promise<Inputs> {
    const started = Date.now();
    for (;;) {
        const service = await client.getService(serviceId).inspect();
        const fromEndpoint = service.Endpoint?.Spec?.Mode ? service.Endpoint : undefined;
        const fromSpec = service.Spec?.EndpointSpec?.Mode ? service.Spec.EndpointSpec : undefined;
        if (fromEndpoint || fromSpec) {
            const mode: string = fromEndpoint ? fromEndpoint.Spec.Mode : fromSpec.Mode;
            const ports: any[] = (fromEndpoint ? fromEndpoint.Ports : fromSpec.Ports) ?? [];
            return {
                ...inputs,
                name: service.Spec.Name,
                endpointSpec: {
                    mode,
                    ports: ports.map((p) => ({ name: p.Name ?? "", protocol: p.Protocol, targetPort: p.TargetPort, publishedPort: p.PublishedPort ?? 0, publishMode: p.PublishMode })),
                },
            };
        }
        if (Date.now() - started > 30_000) throw new Error(`service ${service.Spec?.Name}: the engine did not expose its endpoint spec within 30 s`);
        await sleep(5_000);
    }
}

/** What creating or updating a service took, for the runner's log. */
export interface ServiceTiming {
    /** From the request to the last convergence check that found every replica running (s), when converge_config is set. */
    convergedSeconds?: number;
}

/**
 * Service create (`resourceDockerServiceCreate`): ServiceCreate with the spec (the image pinned
 * to its registry digest when a registry knows it), then, with `convergeConfig`, the wait for
 * every replica slot to have a running task (a task with a health check runs only once healthy):
 * `delay` first, then checks at 0, 5, 15, 25 s ... until `timeout`. A service that does not
 * converge is deleted, and the create fails. Then the read.
 */
export async function createService(client: Docker, r: DeclaredResource, log: (line: string) => void, providerAuths: RegistryAuth[] = [], previousName?: string): Promise<Made & ServiceTiming> {
    const where = `${r.type} ${r.name}`;
    const name: string = r.inputs.name ?? previousName ?? autoName(r.name);
    const spec = serviceSpec(r.inputs, name, where);
    const converge = convergeConfig(r.inputs, where);
    const auth = serviceAuth(r.inputs, where, providerAuths);
    await pinImageToDigest(client, spec, log, auth);
    const started = Date.now();
    const service = await client.createService(auth, spec as Docker.ServiceSpec).catch((err: unknown) => {
        throw new Error(`${where}: service ${name}: ${engineMessage(err)}`);
    });
    const id: string = service.id;
    const destroy = () => deleteService(client, id, name, r.inputs);
    let convergedSeconds: number | undefined;
    if (converge) {
        try {
            await waitForState({
                delayMs: converge.delayMs,
                timeoutMs: converge.timeoutMs,
                minTimeoutMs: 5_000,
                pending: ["new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "creating", "paused"],
                target: ["running", "complete"],
                refresh: async () => ((await allReplicasRunning(client, id)).done ? "running" : "creating"),
            });
            convergedSeconds = (Date.now() - started) / 1000;
            log(`service ${name} converged ${convergedSeconds.toFixed(1)} s after its create`);
        } catch (err) {
            // "the service will be deleted in case it cannot be converged"
            const reason = err instanceof TimeoutError ? await didNotConverge(client, id, name, converge.timeoutText) : new Error(`service ${name}: ${(err as Error).message}; last tasks: ${await taskReport(client, id)}`);
            await destroy();
            throw new Error(`${where}: ${reason.message}`);
        }
    }
    return { id, state: await readService(client, id, r.inputs), destroy, convergedSeconds };
}

/**
 * Service update (`resourceDockerServiceUpdate`): ServiceInspect for the current version, then
 * ServiceUpdate with the new spec (no registry query: the image goes as declared, `:latest` added
 * when it has no tag), then, with `convergeConfig`, a wait whose delay is a fixed 7 s (not the
 * config's `delay`) and which ends when the engine's UpdateStatus says completed, or, before that,
 * as soon as every replica slot has a running task (possibly still an old one); a paused update, a
 * rollback paused, or a rollback completed fails it. A service that does not converge is not
 * deleted here. Then the read.
 */
export async function updateService(
    client: Docker,
    id: string,
    name: string,
    r: DeclaredResource,
    log: (line: string) => void,
    providerAuths: RegistryAuth[] = [],
): Promise<{ state: Inputs; destroy: () => Promise<void> } & ServiceTiming> {
    const where = `${r.type} ${r.name}`;
    const spec = serviceSpec(r.inputs, name, where);
    const converge = convergeConfig(r.inputs, where);
    const current = await client.getService(id).inspect();
    const started = Date.now();
    // dockerode sends `_query` as the query string, `_body` as the request body, and the auth as X-Registry-Auth.
    await (client.getService(id) as any)
        .update(serviceAuth(r.inputs, where, providerAuths), { _query: { version: current.Version.Index }, _body: spec })
        .catch((err: unknown) => {
            throw new Error(`${where}: service ${name}: ${engineMessage(err)}`);
        });
    let convergedSeconds: number | undefined;
    if (converge) {
        try {
            await waitForState({
                delayMs: 7_000,
                timeoutMs: converge.timeoutMs,
                minTimeoutMs: 5_000,
                pending: ["creating", "updating"],
                target: ["completed"],
                refresh: async () => {
                    const service = await client.getService(id).inspect();
                    let rollback = false;
                    switch (service.UpdateStatus?.State) {
                        case "completed":
                            return "completed";
                        case "rollback_started":
                            rollback = true;
                            break;
                        case "rollback_completed":
                            throw new Error(`service rollback completed: ${service.UpdateStatus.Message}`);
                        case "paused":
                            throw new Error(`service update paused: ${service.UpdateStatus.Message}`);
                        case "rollback_paused":
                            throw new Error(`service rollback paused: ${service.UpdateStatus.Message}`);
                    }
                    if ((await allReplicasRunning(client, id)).done) {
                        if (rollback) throw new Error(`service rollback completed: ${service.UpdateStatus?.Message}`);
                        return "completed";
                    }
                    return "updating";
                },
            });
            convergedSeconds = (Date.now() - started) / 1000;
            log(`service ${name} converged ${convergedSeconds.toFixed(1)} s after its update`);
        } catch (err) {
            const reason = err instanceof TimeoutError ? await didNotConverge(client, id, name, converge.timeoutText) : new Error(`service ${name}: ${(err as Error).message}; last tasks: ${await taskReport(client, id)}`);
            throw new Error(`${where}: ${reason.message}`);
        }
    }
    return { state: await readService(client, id, r.inputs), destroy: () => deleteService(client, id, name, r.inputs), convergedSeconds };
}

/** The containers of a service's tasks still on the engine. */
async function taskContainers(client: Docker, serviceId: string): Promise<Docker.ContainerInfo[]> {
    return client.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } });
}

/**
 * Service delete (`deleteService`). With a `stopGracePeriod` other than 0 s, the provider first
 * notes the containers of the tasks not yet shut down, removes the service, waits up to the grace
 * period for each container to be removed (failing if one is not), then force-removes it; with
 * none, it removes the service and returns. The runner then also waits (up to 60 s) until no
 * container of the service's tasks is left, so that the network, volumes, secrets and configs
 * they use can be deleted next (the provider's network and volume deletes retry for 30 s
 * instead).
 */
export async function deleteService(client: Docker, id: string, name: string, inputs: Inputs): Promise<void> {
    const grace: string | undefined = inputs.taskSpec?.containerSpec?.stopGracePeriod;
    const waitsForContainers = grace !== undefined && grace !== "" && grace !== "0s";
    const containers: string[] = [];
    if (waitsForContainers) {
        // A service already gone (its name unknown: 404) is deleted.
        const tasks: any[] | undefined = await client.listTasks({ filters: { service: [name] } }).catch((err: { statusCode?: number }) => {
            if (err.statusCode === 404) return undefined;
            throw err;
        });
        if (!tasks) return;
        for (const t of tasks) {
            const containerId: string = t.Status?.ContainerStatus?.ContainerID ?? "";
            if (containerId.trim() !== "" && t.Status?.State !== "shutdown") containers.push(containerId);
        }
    }
    const removed = await client
        .getService(id)
        .remove()
        .then(() => true)
        .catch((err: { statusCode?: number }) => {
            if (err.statusCode === 404) return false;
            throw new Error(`Error deleting service with ID '${id}': ${engineMessage(err)}`);
        });
    if (!removed) return;
    for (const containerId of containers) {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), durationNanos(grace!) / 1e6);
        try {
            await (client.getContainer(containerId) as any).wait({ condition: "removed", abortSignal: abort.signal });
        } catch (err) {
            // As the provider fails: its wait shares the grace period's deadline, so a container
            // Swarm has not removed by then (it stops it within the grace period and removes it a
            // second or two later on this engine, more when the engine is busy) fails the delete.
            if (abort.signal.aborted) {
                throw new Error(
                    `error on wait for container with ID '${containerId}': context deadline exceeded (service ${name}: a task container was not removed within stopGracePeriod ${grace}, the most the provider's delete waits)`,
                );
            }
            if (!/no such container/i.test(engineMessage(err))) throw new Error(`failed to wait for container with ID '${containerId}': '${engineMessage(err)}'`);
        } finally {
            clearTimeout(timer);
        }
        await client
            .getContainer(containerId)
            .remove({ v: true, force: true })
            .catch((err: unknown) => {
                if (!/no such container|is already in progress/i.test(engineMessage(err))) throw new Error(`Error deleting container with ID '${containerId}': ${engineMessage(err)}`);
            });
    }
    await containersGone(client, id, name);
}

/** Waits until the containers of a removed service's tasks are gone (up to 60 s). */
export async function containersGone(client: Docker, serviceId: string, name: string): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
        const left = await taskContainers(client, serviceId);
        if (left.length === 0) return;
        if (Date.now() > until) throw new Error(`service ${name} removed, but ${left.length} of its task containers were still there after 60 s: ${left.map((c) => `${c.Names[0]} (${c.State})`).join(", ")}`);
        await sleep(500);
    }
}

/** Removes a service an interrupted run left, and waits for its containers to go (for `removeLeftovers`). */
export async function removeLeftoverService(client: Docker, id: string): Promise<void> {
    await client
        .getService(id)
        .remove()
        .catch((err: { statusCode?: number }) => {
            // 404: gone already; 503: the engine is no swarm manager any more, and its services went with the swarm.
            if (err.statusCode !== 404 && err.statusCode !== 503) throw err;
        });
    await containersGone(client, id, id);
}
