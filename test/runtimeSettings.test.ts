import { durationNanos } from "../components/providerFormats";
import { ServiceRuntime, containerRuntimeArgs } from "../components/runtimeSettings";
import { TYPES, committedStacks, declareStack } from "./support/program";
import type { DeclaredResource } from "./support/program";

const runtime: ServiceRuntime = {
    memoryMb: 512,
    cpus: "1.5",
    log: { driver: "local", maxSize: "20m", maxFiles: 5 },
    stop: { graceSeconds: 90, signal: "SIGTERM" },
    security: { noNewPrivileges: true, capabilities: ["SETUID", "CHOWN"] },
};

describe("containerRuntimeArgs", () => {
    it("renders limits, log rotation, privileges and the stop onto the container's fields", () => {
        expect(containerRuntimeArgs(runtime)).toEqual({
            memory: 512,
            memorySwap: 512,
            cpus: "1.5",
            logDriver: "local",
            logOpts: { "max-file": "5", "max-size": "20m" },
            securityOpts: ["no-new-privileges:true"],
            capabilities: { drops: ["ALL"], adds: ["CHOWN", "SETUID"] },
            destroyGraceSeconds: 90,
            stopTimeout: 90,
            stopSignal: "SIGTERM",
        });
    });

    it("keeps Docker's default capabilities and allows new privileges only when asked to", () => {
        const args = containerRuntimeArgs({ ...runtime, security: { noNewPrivileges: false, capabilities: "docker-default" } });
        expect(args.securityOpts).toEqual([]);
        expect(args.capabilities).toBeUndefined();
    });

    it("drops every capability when a service needs none", () => {
        expect(containerRuntimeArgs({ ...runtime, security: { noNewPrivileges: true, capabilities: [] } }).capabilities).toEqual({ drops: ["ALL"], adds: [] });
    });
});

/** What each committed stack's containers and swarm services must run with. */
const expected: Record<string, Record<string, { memory: number; cpus: string; grace: number; adds: string[] }>> = {
    dev: {
        "sb-mysql": { memory: 512, cpus: "1", grace: 60, adds: ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"] },
        "sb-elasticsearch": { memory: 1024, cpus: "1", grace: 60, adds: ["KILL", "SETGID", "SETUID", "SYS_CHROOT"] },
        "sb-app": { memory: 256, cpus: "0.5", grace: 10, adds: [] },
        jupyter: { memory: 4096, cpus: "2", grace: 30, adds: ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"] },
    },
    prod: {
        "prod-sb-mysql": { memory: 1024, cpus: "2", grace: 120, adds: ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"] },
        "prod-sb-elasticsearch": { memory: 2048, cpus: "2", grace: 120, adds: ["KILL", "SETGID", "SETUID", "SYS_CHROOT"] },
        "prod-sb-app": { memory: 256, cpus: "1", grace: 10, adds: [] },
        // The backups: root in their store's image, with only what each needs (components/backup.ts).
        "prod-sb-mysql-backup": { memory: 256, cpus: "0.5", grace: 30, adds: [] },
        "prod-sb-elasticsearch-backup": { memory: 256, cpus: "0.5", grace: 30, adds: ["CHOWN"] },
    },
    swarm: {
        "swarm-sb-mysql": { memory: 1024, cpus: "2", grace: 120, adds: ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"] },
        "swarm-sb-elasticsearch": { memory: 2048, cpus: "2", grace: 120, adds: ["KILL", "SETGID", "SETUID", "SYS_CHROOT"] },
        "swarm-sb-app": { memory: 256, cpus: "1", grace: 10, adds: [] },
        "swarm-jupyter": { memory: 4096, cpus: "2", grace: 30, adds: ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"] },
        "swarm-sb-mysql-backup": { memory: 256, cpus: "0.5", grace: 30, adds: [] },
        "swarm-sb-elasticsearch-backup": { memory: 256, cpus: "0.5", grace: 30, adds: ["CHOWN"] },
        "swarm-jupyter-backup": { memory: 256, cpus: "0.5", grace: 30, adds: ["DAC_OVERRIDE"] },
    },
};
const logs: Record<string, { driver: string; maxSize: string; maxFiles: string }> = {
    dev: { driver: "json-file", maxSize: "10m", maxFiles: "3" },
    prod: { driver: "local", maxSize: "20m", maxFiles: "5" },
    swarm: { driver: "local", maxSize: "20m", maxFiles: "5" },
};

/** A container's or a swarm service's runtime, read back from what the program declares, in one shape. */
function runtimeOf(r: DeclaredResource) {
    if (r.type === TYPES.container) {
        const i = r.inputs;
        return {
            name: i.name as string,
            memory: i.memory,
            // The limit as the config states it; the form the provider reads back is checked below.
            cpus: String(Number(i.cpus)),
            grace: i.destroyGraceSeconds,
            adds: i.capabilities.adds,
            drops: i.capabilities.drops,
            log: { driver: i.logDriver, opts: i.logOpts },
            // The container's own stop timeout (docker stop, a host shutdown) is the same grace.
            stop: { seconds: i.stopTimeout, signal: i.stopSignal },
            noNewPrivileges: (i.securityOpts as string[]).includes("no-new-privileges:true"),
        };
    }
    const spec = r.inputs.taskSpec;
    const c = spec.containerSpec;
    const grace = durationNanos(c.stopGracePeriod) / 1e9;
    return {
        name: r.inputs.name as string,
        memory: spec.resources.limits.memoryBytes / 1024 ** 2,
        cpus: String(spec.resources.limits.nanoCpus / 1e9),
        grace,
        adds: c.capAdds,
        drops: c.capDrops,
        log: { driver: spec.logDriver.name, opts: spec.logDriver.options },
        stop: { seconds: grace, signal: c.stopSignal },
        // Swarm services cannot set it (components/swarmTarget.ts).
        noNewPrivileges: true,
    };
}

describe.each(committedStacks())("every container and service of the committed %s stack", (stack) => {
    it("has a memory limit, a CPU limit, log rotation, no-new-privileges, only the capabilities its image needs, and a grace period", async () => {
        const declared = await declareStack(stack);
        const workloads = [...declared.ofType(TYPES.container), ...declared.ofType(TYPES.service)].map(runtimeOf);
        expect(Object.fromEntries(workloads.map((w) => [w.name, { memory: w.memory, cpus: w.cpus, grace: w.grace, adds: w.adds }]))).toEqual(expected[stack]);
        for (const w of workloads) {
            expect({ name: w.name, log: w.log }).toEqual({
                name: w.name,
                log: { driver: logs[stack].driver, opts: { "max-size": logs[stack].maxSize, "max-file": logs[stack].maxFiles } },
            });
            expect({ name: w.name, noNewPrivileges: w.noNewPrivileges, drops: w.drops }).toEqual({ name: w.name, noNewPrivileges: true, drops: ["ALL"] });
            expect({ name: w.name, stop: w.stop }).toEqual({ name: w.name, stop: { seconds: w.grace, signal: "SIGTERM" } });
        }
    });
});
describe("the settings a stack's config changes", () => {
    it("start MySQL with the buffer pool its memory limit was checked against", async () => {
        expect((await declareStack("dev")).container("mysql-container").inputs.command).toEqual(["mysqld", "--innodb-buffer-pool-size=128M"]);
        expect((await declareStack("prod")).container("mysql-container").inputs.command).toEqual(["mysqld", "--innodb-buffer-pool-size=512M"]);
    });

    it("turn no-new-privileges off and keep Docker's default capabilities for Jupyter alone with jupyterGrantSudo", async () => {
        const declared = await declareStack("dev", { jupyterGrantSudo: true });
        const jupyter = declared.container("jupyter-container").inputs;
        expect(jupyter.securityOpts).toEqual([]);
        expect(jupyter.capabilities).toBeUndefined();
        for (const name of ["mysql-container", "elasticsearch-container", "app-container"]) {
            expect(declared.container(name).inputs.securityOpts).toEqual(["no-new-privileges:true"]);
        }
    });

    it("take the log driver, sizes and grace periods from config", async () => {
        const declared = await declareStack("dev", { logDriver: "local", logMaxSize: "1m", logMaxFiles: 2, mysqlStopGraceSeconds: 300 });
        const mysql = declared.container("mysql-container").inputs;
        expect([mysql.logDriver, mysql.logOpts, mysql.destroyGraceSeconds, mysql.stopTimeout]).toEqual(["local", { "max-size": "1m", "max-file": "2" }, 300, 300]);
    });
});
