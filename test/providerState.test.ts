/**
 * The runner's read rules (test/e2e/support/providerState.ts): the provider's state of a resource
 * from what the engine's inspect returns, and what the next plan finds changed against it.
 */
import { canonical, containerState, differingPaths, planned, serviceState, volumeState, withComputed } from "./e2e/support/providerState";
import { TYPES } from "./support/program";

const MIB = 1024 * 1024;
const container = { name: "sb-mysql", cpus: "1", memory: 512, healthcheck: { tests: ["CMD", "true"], interval: "10s", timeout: "5s", startPeriod: "60s", retries: 3 } };
const inspected = {
    HostConfig: { NanoCpus: 1e9, Memory: 512 * MIB, MemorySwap: 1024 * MIB },
    Config: { Healthcheck: { Test: ["CMD", "true"], Interval: 10e9, Timeout: 5e9, StartPeriod: 60e9, Retries: 3 } },
};

/** The fields a plan finds changed between the state and the inputs. */
const changes = (type: string, inputs: Record<string, any>, state: Record<string, any>) => differingPaths(state, withComputed(type, planned(type, inputs), state));

describe("a container read back as resourceDockerContainerRead does", () => {
    it("holds cpus as a decimal, durations as Go writes them and the swap Docker derived", () => {
        const state = containerState(container, inspected);
        expect(state).toMatchObject({ cpus: "1.0", memory: 512, memorySwap: 1024 });
        expect(state.healthcheck).toEqual({ tests: ["CMD", "true"], interval: "10s", timeout: "5s", startPeriod: "1m0s", startInterval: "0s", retries: 3 });
    });

    it("shows the old declaration changed on every run, and the provider's forms unchanged", () => {
        const state = containerState(container, inspected);
        expect(changes(TYPES.container, container, state)).toEqual(["cpus", "healthcheck.startPeriod", "memorySwap"]);
        const written = { ...container, cpus: "1.0", memorySwap: 512, healthcheck: { ...container.healthcheck, startPeriod: "1m0s" } };
        const again = containerState(written, { ...inspected, HostConfig: { ...inspected.HostConfig, MemorySwap: 512 * MIB } });
        expect(changes(TYPES.container, written, again)).toEqual([]);
    });

    it("keeps a health check read from the image when the container declares none (Optional and Computed)", () => {
        const bare: Record<string, unknown> = { ...container };
        delete bare.healthcheck;
        const state = containerState({ ...bare, cpus: "1.0", memorySwap: 512 }, { ...inspected, HostConfig: { ...inspected.HostConfig, MemorySwap: 512 * MIB } });
        expect(state.healthcheck).toBeDefined();
        expect(changes(TYPES.container, { ...bare, cpus: "1.0", memorySwap: 512 }, state)).toEqual([]);
    });
});

describe("a service read back as resourceDockerServiceRead does", () => {
    const service = {
        name: "swarm-sb-mysql",
        taskSpec: {
            containerSpec: { image: "mysql:5.7.44", stopGracePeriod: "120s", healthcheck: { tests: ["CMD", "true"], interval: "10s", timeout: "5s", startPeriod: "60s", retries: 3 } },
            networksAdvanceds: [{ name: "swarm-sb-network", aliases: ["mysql"] }],
            restartPolicy: { condition: "any", delay: "5s" },
        },
        updateConfig: { parallelism: 1, order: "stop-first", failureAction: "pause", monitor: "30s" },
    };
    const spec = {
        Spec: {
            TaskTemplate: {
                ContainerSpec: { Image: `mysql:5.7.44@sha256:${"a".repeat(64)}`, StopGracePeriod: 120e9, Healthcheck: { Test: ["CMD", "true"], Interval: 10e9, Timeout: 5e9, StartPeriod: 60e9, Retries: 3 } },
                Networks: [{ Target: "n1d", Aliases: ["mysql"] }],
                RestartPolicy: { Condition: "any", Delay: 5e9, MaxAttempts: 0, Window: 0 },
            },
            UpdateConfig: { Parallelism: 1, Delay: 0, FailureAction: "pause", Monitor: 30e9, MaxFailureRatio: 0, Order: "stop-first" },
        },
    };

    it("holds shortDur durations, networks by id, the window sent as 0 and the image pinned by the registry", () => {
        const state = serviceState(service, spec);
        expect(state.taskSpec.containerSpec).toMatchObject({ image: `mysql:5.7.44@sha256:${"a".repeat(64)}`, stopGracePeriod: "2m" });
        expect(state.taskSpec.containerSpec.healthcheck).toMatchObject({ startPeriod: "1m" });
        expect(state.taskSpec.networksAdvanceds).toEqual([{ id: "n1d", aliases: ["mysql"] }]);
        expect(state.taskSpec.restartPolicy).toEqual({ condition: "any", delay: "5s", maxAttempts: 0, window: "0s" });
        expect(state.updateConfig).toEqual({ parallelism: 1, delay: "0s", failureAction: "pause", monitor: "30s", maxFailureRatio: "0.0", order: "stop-first" });
    });

    it("names every field the old declaration changes on every run; the update config's defaults and ratio are no change", () => {
        expect(changes(TYPES.service, service, serviceState(service, spec))).toEqual([
            "taskSpec.containerSpec.healthcheck.startPeriod",
            "taskSpec.containerSpec.image",
            "taskSpec.containerSpec.stopGracePeriod",
            "taskSpec.networksAdvanceds",
            "taskSpec.restartPolicy.maxAttempts",
            "taskSpec.restartPolicy.window",
        ]);
    });
});

describe("a volume read back as resourceDockerVolumeRead does", () => {
    it("holds the labels the engine has, such as Compose's on an adopted volume", () => {
        const declared = { name: "mysql_volume", labels: [{ label: "org.smartbuilding.stack", value: "dev" }] };
        const state = volumeState(declared, { Labels: { "com.docker.compose.project": "guide", "com.docker.compose.volume": "mysql_volume" } });
        expect(changes(TYPES.volume, declared, state)).toEqual(["labels"]);
        expect(canonical(planned(TYPES.volume, { labels: [{ label: "b", value: "1" }, { label: "a", value: "2" }] }))).toBe(canonical(volumeState({}, { Labels: { a: "2", b: "1" } })));
    });
});
