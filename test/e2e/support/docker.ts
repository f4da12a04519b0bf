/** Thin helpers over the docker CLI for the e2e tests. */
import { execFile, spawnSync } from "child_process";

/** Everything the tests create carries this label, so leftovers of an interrupted run can be found. */
export const LABEL = "sb-e2e";

export interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

export interface DockerOptions {
  timeoutMs?: number;
  /** The folder relative paths in `args` are resolved against. */
  cwd?: string;
}

/** Runs `docker ...args`; never throws on a non-zero exit (the caller decides). */
export function dockerRun(args: string[], options: DockerOptions = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "docker",
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 300_000, cwd: options.cwd },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ stdout: stdout.toString(), stderr: stderr.toString(), code });
      },
    );
  });
}

/** Runs `docker ...args` and returns its trimmed stdout; throws with stderr on failure. */
export async function docker(args: string[], options: DockerOptions = {}): Promise<string> {
  const run = await dockerRun(args, options);
  if (run.code !== 0) {
    throw new Error(`docker ${args.join(" ")} failed (${run.code}):\n${run.stderr || run.stdout}`);
  }
  return run.stdout.trim();
}

/** Whether a Docker engine answers; checked once when the test file loads. */
export function engineAnswers(): { ok: boolean; reason: string } {
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
  if (info.error) return { ok: false, reason: `the docker CLI cannot run (${info.error.message})` };
  if (info.status !== 0) return { ok: false, reason: (info.stderr || "docker info failed").trim().split("\n")[0] };
  return { ok: true, reason: `Docker engine ${info.stdout.trim()}` };
}

export async function imageId(tag: string): Promise<string | null> {
  const run = await dockerRun(["image", "inspect", "--format", "{{.Id}}", tag]);
  return run.code === 0 ? run.stdout.trim() : null;
}

export async function inspect<T = any>(kind: "container" | "image", name: string): Promise<T> {
  return JSON.parse(await docker([kind, "inspect", name]))[0] as T;
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function waitUntil<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : JSON.stringify(err);
    }
    if (Date.now() > until) {
      throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (last error: ${last})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
