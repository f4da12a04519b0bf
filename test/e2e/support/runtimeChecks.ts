/**
 * Checks of a running stack's limits, log rotation, privileges and stops, read back from the
 * engine (`docker inspect`, the log files, the stop records of the runner), against what the
 * program declared for each container.
 */
import { execFileSync } from "child_process";
import fs from "fs";
import path from "path";
import { TYPES } from "../../support/program";
import type { DeclaredStack } from "./declaredStack";
import type { StopRecord } from "./engine";

/** Linux capability numbers (linux/capability.h) of those the stack may add. */
const CAP_NUMBERS: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, NET_BIND_SERVICE: 10, SYS_CHROOT: 18, AUDIT_WRITE: 29 };

/** Every declared container, inspected: each limit, the log options, the capabilities, no-new-privileges and the root filesystem as declared. */
export async function expectRuntimeApplied(stack: DeclaredStack): Promise<void> {
    const declared = stack.run.resources.filter((r) => r.type === TYPES.container);
    expect(declared.length).toBeGreaterThan(0);
    for (const c of declared) {
        const i = c.inputs;
        const info = await stack.docker.getContainer(i.name).inspect();
        const h = info.HostConfig as any;
        expect({ name: i.name, memory: h.Memory, nanoCpus: h.NanoCpus, swap: h.MemorySwap }).toEqual({
            name: i.name,
            memory: i.memory * 1024 * 1024,
            nanoCpus: Math.round(Number(i.cpus) * 1e9),
            // No swap: memory and swap together are the memory limit.
            swap: i.memory * 1024 * 1024,
        });
        expect({ name: i.name, log: h.LogConfig }).toEqual({ name: i.name, log: { Type: i.logDriver, Config: i.logOpts } });
        expect({ name: i.name, securityOpt: h.SecurityOpt ?? [], capDrop: h.CapDrop, capAdd: h.CapAdd, readOnly: h.ReadonlyRootfs }).toEqual({
            name: i.name,
            securityOpt: ["no-new-privileges:true"],
            capDrop: ["ALL"],
            capAdd: i.capabilities.adds,
            readOnly: i.readOnly ?? false,
        });
        expect({ name: i.name, stopSignal: (info.Config as any).StopSignal, stopTimeout: (info.Config as any).StopTimeout }).toEqual({
            name: i.name,
            stopSignal: i.stopSignal,
            stopTimeout: i.stopTimeout,
        });
        // The bounding set of the container's first process: what it or any child could ever hold.
        const bounding = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync(`/proc/${info.State.Pid}/status`, "utf8"))![1]}`);
        const added = (i.capabilities.adds as string[]).reduce((mask, cap) => mask | (1n << BigInt(CAP_NUMBERS[cap])), 0n);
        expect({ name: i.name, bounding: bounding.toString(16) }).toEqual({ name: i.name, bounding: added.toString(16) });
    }
}

/**
 * Writes `bytes` of log lines to a container's output (its PID 1's stdout, as the container's
 * own process writes its log), and returns the log files the engine keeps for it.
 */
export function floodLog(containerName: string, bytes: number): string[] {
    execFileSync("docker", ["exec", containerName, "sh", "-c", `head -c ${bytes} /dev/zero | tr '\\0' 'x' | fold -w 1000 > /proc/1/fd/1`], { stdio: "pipe" });
    const id = execFileSync("docker", ["inspect", "-f", "{{.Id}}", containerName], { encoding: "utf8" }).trim();
    const dir = path.join("/var/lib/docker/containers", id);
    const local = path.join(dir, "local-logs");
    const list = () =>
        fs.existsSync(local)
            ? fs.readdirSync(local).map((f) => path.join(local, f))
            : fs.readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`)).map((f) => path.join(dir, f));
    // The driver rotates, and compresses what it rotated, after the writes: a rotated file and its
    // compressed copy stand side by side for a moment. Read the folder once it holds still.
    let files = list().sort();
    for (let i = 0; i < 20; i++) {
        execFileSync("sleep", ["1"]);
        const again = list().sort();
        if (again.join("\n") === files.join("\n")) break;
        files = again;
    }
    return files;
}

/** A clean stop: within its grace period, exit code 0, and the server's own last words in its log. */
export function expectCleanStop(stop: StopRecord | undefined, name: string, lastWords: RegExp): void {
    expect(stop).toBeDefined();
    expect({ name: stop!.name, exitCode: stop!.exitCode, cleanLine: lastWords.test(stop!.logTail) }).toEqual({ name, exitCode: 0, cleanLine: true });
    expect(stop!.seconds).toBeLessThan(stop!.timeoutSeconds);
}
