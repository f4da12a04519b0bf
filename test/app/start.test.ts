import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import type { PoolOptions } from "mysql2/promise";
import { startApp } from "../../app/dashboard/lib/app";
import { ConfigError } from "../../app/dashboard/lib/config";
import { closedPort, get } from "./helpers";

const START_JS = path.join(__dirname, "../../app/dashboard/start.js");
const FILE_PASSWORD = "pw-in-the-file-7f3a";
const ENV_PASSWORD = "pw-in-the-env-91c2";

function recordingLog() {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, log: { info: at("INFO"), warn: at("WARN"), error: at("ERROR") } };
}

describe("startApp", () => {
  const env = {
    PORT: "0",
    MYSQL_USER: "BAS_DEV_RW",
    MYSQL_DATABASE: "bas_dev",
    MYSQL_PASSWORD_FILE: "/run/secrets/mysql_password",
    MYSQL_PASSWORD: ENV_PASSWORD,
    ELASTICSEARCH_URL: "http://elasticsearch:9200",
  };
  const files = { readFileSync: () => `${FILE_PASSWORD}\n` };

  function fakes() {
    const pools: Array<{ options: PoolOptions; ended: boolean }> = [];
    const createPool = (options: PoolOptions) => {
      const pool = { options, ended: false };
      pools.push(pool);
      return {
        query: async (): Promise<[unknown, unknown]> => [[{ version: "fake" }], []],
        end: async () => {
          pool.ended = true;
        },
      };
    };
    const fetch = async (url: string) => ({
      ok: true,
      status: 200,
      json: async () => ({ cluster_name: "c", status: "green", url }),
      text: async () => "",
    });
    return { pools, createPool, fetch };
  }

  it("serves with the stores it was given, and logs its settings without the password", async () => {
    const { lines, log } = recordingLog();
    const { pools, createPool, fetch } = fakes();
    const app = await startApp({ env, fs: files, log, createPool, fetch, host: "127.0.0.1" });
    try {
      const health = await get(`http://127.0.0.1:${app.port}/health`);
      expect(health.status).toBe(200);
      expect(pools[0].options.password).toBe(FILE_PASSWORD);
      expect(lines).toContain(`INFO listening on port ${app.port}`);
      expect(lines).toContain("INFO MySQL: BAS_DEV_RW@mysql:3306/bas_dev, password read from /run/secrets/mysql_password");
      expect(lines).toContain(
        "WARN MYSQL_PASSWORD is set in the environment and is ignored: the password is read only from MYSQL_PASSWORD_FILE",
      );
      expect(lines.join("\n")).not.toContain(FILE_PASSWORD);
      expect(lines.join("\n")).not.toContain(ENV_PASSWORD);
    } finally {
      await app.stop();
    }
  });

  it("warns at start-up that MySQL will be down when its settings are incomplete", async () => {
    const { lines, log } = recordingLog();
    const app = await startApp({ env: { PORT: "0" }, fs: files, log, ...fakes(), host: "127.0.0.1" });
    try {
      expect(lines).toContain("WARN MySQL will be reported as down: MYSQL_USER and MYSQL_DATABASE are not set");
      expect((await get(`http://127.0.0.1:${app.port}/health/live`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it("stops listening and ends the MySQL pool on stop, once however often it is called", async () => {
    const { pools, createPool, fetch } = fakes();
    const app = await startApp({ env, fs: files, log: recordingLog().log, createPool, fetch, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${app.port}/health`;
    expect((await get(url)).status).toBe(200);
    const first = app.stop();
    expect(app.stop()).toBe(first);
    await first;
    expect(pools).toHaveLength(1);
    expect(pools[0].ended).toBe(true);
    expect(app.server.listening).toBe(false);
    await expect(get(url)).rejects.toThrow();
  });

  it("refuses to start on an invalid setting", async () => {
    await expect(startApp({ env: { ...env, PORT: "web" }, fs: files, log: recordingLog().log })).rejects.toThrow(ConfigError);
  });
});

describe("start.js as a process", () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let output: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-start-"));
    fs.writeFileSync(path.join(dir, "mysql_password"), `${FILE_PASSWORD}\n`, { mode: 0o400 });
    output = "";
    child = undefined;
  });

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function run(env: Record<string, string>): ChildProcess {
    const proc = spawn(process.execPath, [START_JS], {
      cwd: path.dirname(START_JS),
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child = proc;
    return proc;
  }

  function exited(proc: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
  }

  async function waitFor(pattern: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    const until = Date.now() + ms;
    for (;;) {
      const match = output.match(pattern);
      if (match) return match;
      if (Date.now() > until) throw new Error(`no ${pattern} in the output within ${ms} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it("serves while both stores are unreachable, then exits 0 on SIGTERM without ever printing a password", async () => {
    const proc = run({
      PORT: "0",
      STORE_TIMEOUT_MS: "1000",
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: String(await closedPort()),
      MYSQL_USER: "BAS_DEV_RW",
      MYSQL_DATABASE: "bas_dev",
      MYSQL_PASSWORD_FILE: path.join(dir, "mysql_password"),
      MYSQL_PASSWORD: ENV_PASSWORD,
      ELASTICSEARCH_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    const [, port] = await waitFor(/listening on port (\d+)/);
    const health = await get(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(503);
    expect(health.json().mysql.message).toMatch(/^MySQL is unavailable: .*ECONNREFUSED/);
    expect(health.json().elasticsearch.message).toMatch(/^Elasticsearch is unavailable: fetch failed: .*ECONNREFUSED/);
    expect((await get(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);

    const exit = exited(proc);
    proc.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(output).toContain("SIGTERM received");
    expect(output).toContain("INFO stopped");
    expect(output).not.toContain(FILE_PASSWORD);
    expect(output).not.toContain(ENV_PASSWORD);
  });

  it("exits 1 with the reason when a setting is invalid", async () => {
    const proc = run({ PORT: "not-a-port" });
    expect(await exited(proc)).toBe(1);
    expect(output).toContain('ERROR cannot start: PORT must be an integer from 0 to 65535, got "not-a-port"');
  });
});
