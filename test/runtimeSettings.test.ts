import { ServiceRuntime, containerRuntimeArgs } from "../components/runtimeSettings";
import { TYPES, committedStacks, declareStack } from "./support/program";

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

/** What each committed stack's containers must run with. */
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
};
const logs: Record<string, { driver: string; maxSize: string; maxFiles: string }> = {
    dev: { driver: "json-file", maxSize: "10m", maxFiles: "3" },
    prod: { driver: "local", maxSize: "20m", maxFiles: "5" },
};

describe.each(committedStacks())("every container of the committed %s stack", (stack) => {
    it("has a memory limit, a CPU limit, log rotation, no-new-privileges, only the capabilities its image needs, and a grace period", async () => {
        const containers = (await declareStack(stack)).ofType(TYPES.container);
        const found = Object.fromEntries(
            containers.map((c) => [
                c.inputs.name,
                {
                    memory: c.inputs.memory,
                    cpus: c.inputs.cpus,
                    grace: c.inputs.destroyGraceSeconds,
                    adds: c.inputs.capabilities.adds,
                },
            ]),
        );
        expect(found).toEqual(expected[stack]);
        for (const c of containers) {
            const name = c.inputs.name as string;
            expect({ name, driver: c.inputs.logDriver, opts: c.inputs.logOpts }).toEqual({
                name,
                driver: logs[stack].driver,
                opts: { "max-size": logs[stack].maxSize, "max-file": logs[stack].maxFiles },
            });
            expect({ name, securityOpts: c.inputs.securityOpts, drops: c.inputs.capabilities.drops }).toEqual({
                name,
                securityOpts: ["no-new-privileges:true"],
                drops: ["ALL"],
            });
            expect({ name, stopTimeout: c.inputs.stopTimeout, stopSignal: c.inputs.stopSignal }).toEqual({
                name,
                stopTimeout: c.inputs.destroyGraceSeconds,
                stopSignal: "SIGTERM",
            });
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
