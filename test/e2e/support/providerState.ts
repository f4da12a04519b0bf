/**
 * The Docker provider's state of a resource, read back from the engine as the provider reads it,
 * and the diff of the next run's inputs against that state.
 *
 * After a create or an update the provider (kreuzwerker/terraform-provider-docker, bridged by
 * `@pulumi/docker` 5.2) reads the resource back and stores what it read; the next plan compares
 * the program's inputs, with the schema's defaults filled in, against that stored state (Terraform's
 * plan, which the bridge runs for `pulumi preview` and `up`), not against the inputs of the last
 * run. A field the engine hands back in another form is a change on every run. Each read rule
 * below names the upstream function it follows (internal/provider/ in that repository).
 */
import { decimalCpus, goDurationString, shortDuration } from "../../../components/providerFormats";
import { TYPES } from "../../support/program";

type Inputs = Record<string, any>;

const MIB = 1024 * 1024;

/** A copy of `value` with `path` (dot-separated) set; `undefined` removes it. */
function withField(value: Inputs, path: string, field: unknown): Inputs {
    const [head, ...rest] = path.split(".");
    const copy = { ...value };
    if (rest.length === 0) {
        if (field === undefined) delete copy[head];
        else copy[head] = field;
    } else {
        copy[head] = withField(copy[head] ?? {}, rest.join("."), field);
    }
    return copy;
}

/** Labels as the provider keeps them: a set of `{label, value}`, here in label order. */
function labelSet(labels: Record<string, string> | { label: string; value: string }[] | undefined): { label: string; value: string }[] {
    const list = Array.isArray(labels) ? labels : Object.entries(labels ?? {}).map(([label, value]) => ({ label, value }));
    return [...list].sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * A container's state after the provider's read (`resourceDockerContainerRead`,
 * resource_docker_container_funcs.go), for the fields whose read-back form can differ from what
 * was sent; the other inputs are kept as sent.
 * - `cpus`: `nanoInt64ToDecimalString(HostConfig.NanoCPUs)` (helpers.go) when above 0: "1" reads "1.0";
 * - `memory`: `HostConfig.Memory/1024/1024`;
 * - `memorySwap`: `HostConfig.MemorySwap/1024/1024` when above 0, else as the engine has it: Docker
 *   sets twice the memory limit when none is sent, so an undeclared `memorySwap` reads back;
 * - `healthcheck`: each duration as Go's `Duration.String()` ("60s" reads "1m0s"), `startInterval`
 *   included, and `retries`.
 */
export function containerState(sent: Inputs, info: any): Inputs {
    const h = info.HostConfig ?? {};
    let state: Inputs = { ...sent, memory: Math.floor((h.Memory ?? 0) / MIB) };
    state = withField(state, "cpus", h.NanoCpus > 0 ? decimalCpus(h.NanoCpus) : sent.cpus);
    const swap: number = h.MemorySwap ?? 0;
    state = withField(state, "memorySwap", swap > 0 ? Math.floor(swap / MIB) : swap === 0 ? undefined : swap);
    const hc = info.Config?.Healthcheck;
    if (hc) {
        state.healthcheck = {
            tests: hc.Test,
            interval: goDurationString(hc.Interval ?? 0),
            timeout: goDurationString(hc.Timeout ?? 0),
            startPeriod: goDurationString(hc.StartPeriod ?? 0),
            startInterval: goDurationString(hc.StartInterval ?? 0),
            retries: hc.Retries ?? 0,
        };
    }
    return state;
}

/** An update or rollback config as `flattenServiceUpdateOrRollbackConfig` (resource_docker_service_structures.go) reads it. */
function updateOrRollback(c: any): Inputs | undefined {
    if (!c) return undefined;
    return {
        parallelism: c.Parallelism ?? 0,
        delay: shortDuration(c.Delay ?? 0),
        failureAction: c.FailureAction ?? "",
        monitor: shortDuration(c.Monitor ?? 0),
        maxFailureRatio: (c.MaxFailureRatio ?? 0).toFixed(1),
        order: c.Order ?? "",
    };
}

/**
 * A service's state after the provider's read (`resourceDockerServiceRead`,
 * resource_docker_service_funcs.go, and the flatten functions of resource_docker_service_structures.go):
 * - `taskSpec.containerSpec.image` as the spec holds it: pinned to `image:tag@digest` when the
 *   registry resolved it at create (`QueryRegistry`);
 * - `stopGracePeriod` and the health check's durations through `shortDur` ("120s" reads "2m");
 *   `flattenContainerSpec`, `flattenServiceHealthcheck`;
 * - `taskSpec.networksAdvanceds` as `{id: Target}` (`flattenTaskNetworksAdvanced`), never a name;
 * - `taskSpec.restartPolicy` with `delay` and `window` through `shortDur` (`flattenTaskRestartPolicy`):
 *   the provider sends a window of 0 when none is set, which reads back "0s";
 * - `updateConfig` and `rollbackConfig` with `shortDur` durations and the ratio as "%.1f".
 */
export function serviceState(sent: Inputs, service: any): Inputs {
    const spec = service.Spec ?? {};
    const tt = spec.TaskTemplate ?? {};
    const cs = tt.ContainerSpec ?? {};
    let state: Inputs = { ...sent };
    state = withField(state, "taskSpec.containerSpec.image", cs.Image);
    state = withField(state, "taskSpec.containerSpec.stopGracePeriod", cs.StopGracePeriod !== undefined ? shortDuration(cs.StopGracePeriod) : undefined);
    const hc = cs.Healthcheck;
    state = withField(
        state,
        "taskSpec.containerSpec.healthcheck",
        hc
            ? {
                  ...(hc.Test?.length ? { tests: hc.Test } : {}),
                  interval: shortDuration(hc.Interval ?? 0),
                  timeout: shortDuration(hc.Timeout ?? 0),
                  startPeriod: shortDuration(hc.StartPeriod ?? 0),
                  retries: hc.Retries ?? 0,
              }
            : undefined,
    );
    state = withField(
        state,
        "taskSpec.networksAdvanceds",
        (tt.Networks ?? []).map((n: any) => ({ id: n.Target, ...(n.Aliases?.length ? { aliases: [...n.Aliases].sort() } : {}) })),
    );
    const rp = tt.RestartPolicy;
    state = withField(
        state,
        "taskSpec.restartPolicy",
        rp
            ? {
                  ...(rp.Condition ? { condition: rp.Condition } : {}),
                  ...(rp.Delay !== undefined ? { delay: shortDuration(rp.Delay) } : {}),
                  ...(rp.MaxAttempts !== undefined ? { maxAttempts: rp.MaxAttempts } : {}),
                  ...(rp.Window !== undefined ? { window: shortDuration(rp.Window) } : {}),
              }
            : undefined,
    );
    state = withField(state, "updateConfig", updateOrRollback(spec.UpdateConfig));
    state = withField(state, "rollbackConfig", updateOrRollback(spec.RollbackConfig));
    return state;
}

/** A volume's state after `resourceDockerVolumeRead` (resource_docker_volume.go): its labels as the engine has them. */
export function volumeState(sent: Inputs, volume: any): Inputs {
    return { ...sent, labels: labelSet(volume.Labels ?? {}) };
}

/** The schema's defaults of a service's update and rollback configs (resource_docker_service.go). */
const UPDATE_DEFAULTS = { parallelism: 1, delay: "0s", failureAction: "pause", monitor: "5s", maxFailureRatio: "0.0", order: "stop-first" };

/**
 * The inputs as the plan compares them with the state: the schema's defaults filled in where the
 * program leaves a field out, sets in a stable order, and fields with a DiffSuppressFunc in the
 * form that suppresses an equivalent value (a service's `maxFailureRatio`: `suppressEquivalentFloatRatio`).
 */
export function planned(type: string, inputs: Inputs): Inputs {
    switch (type) {
        case TYPES.container: {
            if (!inputs.healthcheck) return inputs;
            const h = inputs.healthcheck;
            // resource_docker_container.go: each health-check duration defaults to "0s", `retries` to 0.
            return { ...inputs, healthcheck: { interval: "0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0, ...h } };
        }
        case TYPES.service: {
            let out = inputs;
            for (const block of ["updateConfig", "rollbackConfig"]) {
                const c = inputs[block];
                if (!c) continue;
                const merged = { ...UPDATE_DEFAULTS, ...c };
                out = { ...out, [block]: { ...merged, maxFailureRatio: Number(merged.maxFailureRatio).toFixed(1) } };
            }
            const networks = inputs.taskSpec?.networksAdvanceds;
            if (networks) {
                out = withField(
                    out,
                    "taskSpec.networksAdvanceds",
                    networks.map((n: Inputs) => ({ ...n, ...(n.aliases ? { aliases: [...n.aliases].sort() } : {}) })),
                );
            }
            return out;
        }
        case TYPES.volume:
            return { ...inputs, labels: labelSet(inputs.labels) };
        default:
            return inputs;
    }
}

/**
 * Fields the schema marks Optional and Computed that the provider reads back: left out of the
 * inputs, the plan keeps the state's value (no diff). A container's `healthcheck` is one
 * (resource_docker_container.go): a container without its own reads back its image's.
 */
const OPTIONAL_COMPUTED: Record<string, string[]> = {
    [TYPES.container]: ["healthcheck"],
    // resource_docker_service.go: a service without one keeps its image's.
    [TYPES.service]: ["taskSpec.containerSpec.healthcheck"],
};

/** The value at a dot path. */
const at = (value: Inputs, path: string): unknown => path.split(".").reduce<any>((v, k) => (v === undefined || v === null ? undefined : v[k]), value);

/** The planned inputs with each Optional and Computed field they leave out taken from the state. */
export function withComputed(type: string, plannedInputs: Inputs, state: Inputs): Inputs {
    let out = plannedInputs;
    for (const field of OPTIONAL_COMPUTED[type] ?? []) if (at(out, field) === undefined && at(state, field) !== undefined) out = withField(out, field, at(state, field));
    return out;
}

/** The state of a created or updated resource, as the provider's read leaves it (`undefined`: the inputs as sent). */
export function readBack(type: string, sent: Inputs, inspected: unknown): Inputs | undefined {
    switch (type) {
        case TYPES.container:
            return containerState(sent, inspected);
        case TYPES.service:
            return serviceState(sent, inspected);
        case TYPES.volume:
            return volumeState(sent, inspected);
        default:
            return undefined;
    }
}

/** A JSON text of `value` with sorted keys and without undefined members: equal for deep-equal inputs. */
export function canonical(value: unknown): string {
    const sorted = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : sorted(x)));
        if (v && typeof v === "object" && !Buffer.isBuffer(v)) {
            return Object.fromEntries(
                Object.keys(v)
                    .filter((k) => (v as Inputs)[k] !== undefined)
                    .sort()
                    .map((k) => [k, sorted((v as Inputs)[k])]),
            );
        }
        return v;
    };
    return JSON.stringify(sorted(value)) ?? "null";
}

/** The dot paths at which two values differ (leaves of objects; arrays compared whole). */
export function differingPaths(before: unknown, after: unknown, prefix = ""): string[] {
    const isObject = (v: unknown): v is Inputs => typeof v === "object" && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
    if (isObject(before) && isObject(after)) {
        return [...new Set([...Object.keys(before), ...Object.keys(after)])]
            .sort()
            .flatMap((k) => differingPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
    }
    return canonical(before ?? null) === canonical(after ?? null) ? [] : [prefix || "(value)"];
}
