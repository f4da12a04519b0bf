/**
 * The checks of a running stack, whoever brought it up: the real-engine runner of the declared
 * program (declared.e2e.test.ts) or the real Pulumi CLI through the Automation API
 * (pulumi-up.e2e.test.ts). They start from what a user has: the stack's outputs (secrets
 * included, as `stack output --show-secrets` gives them) and the Docker engine, where the
 * stack's containers carry its `org.smartbuilding.stack` label.
 */
import fs from "fs";
import net from "net";
import Docker from "dockerode";
import mysql from "mysql2/promise";
import { demux } from "./engine";

export const STACK_LABEL = "org.smartbuilding.stack";

/** A stack as a user sees it once it is up. */
export interface LiveStack {
    /** The stack's name, as in its containers' `org.smartbuilding.stack` label. */
    readonly stack: string;
    /** The stack's outputs, secrets shown. */
    readonly outputs: Readonly<Record<string, any>>;
    readonly docker: Docker;
}

/** `localhost` in an output URL, read as the IPv4 loopback the stack publishes on. */
export function ipv4(url: string): string {
    return url.replace("//localhost:", "//127.0.0.1:");
}

export async function stackContainers(live: LiveStack): Promise<Docker.ContainerInspectInfo[]> {
    const list = await live.docker.listContainers({ all: true, filters: { label: [`${STACK_LABEL}=${live.stack}`] } });
    return Promise.all(list.map((c) => live.docker.getContainer(c.Id).inspect()));
}

/** The names of the stack's volumes (those carrying its `org.smartbuilding.stack` label), sorted. */
export async function stackVolumes(live: LiveStack): Promise<string[]> {
    const { Volumes } = await live.docker.listVolumes({ filters: { label: [`${STACK_LABEL}=${live.stack}`] } });
    return (Volumes ?? []).map((v) => v.Name).sort();
}

/** Every container of the stack is running, and healthy where it has a health check; returns them by name. */
export async function expectRunningAndHealthy(live: LiveStack): Promise<Map<string, Docker.ContainerInspectInfo>> {
    const containers = await stackContainers(live);
    const states = Object.fromEntries(containers.map((c) => [c.Name.replace(/^\//, ""), c.State.Health ? `${c.State.Status}/${c.State.Health.Status}` : c.State.Status]));
    for (const [name, state] of Object.entries(states)) {
        expect({ name, state }).toEqual({ name, state: state.includes("/") ? "running/healthy" : "running" });
    }
    return new Map(containers.map((c) => [c.Name.replace(/^\//, ""), c]));
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
    const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    const text = await response.text();
    let body: unknown = text;
    try {
        body = JSON.parse(text);
    } catch {
        // not JSON: keep the text
    }
    return { status: response.status, body };
}

/** The app's `/health`, through its published port: 200 with both stores up. */
export async function expectAppHealthy(live: LiveStack): Promise<void> {
    const health = await getJson(`${ipv4(live.outputs.appUrl)}/health`);
    expect(health).toMatchObject({ status: 200, body: { status: "ok", mysql: { up: true }, elasticsearch: { up: true } } });
}

/** A MySQL connection as the stack's outputs describe it, through the published port, or `undefined` when MySQL is not published. */
export async function connectMysql(live: LiveStack, as: "user" | "root"): Promise<mysql.Connection | undefined> {
    const { mysqlHost, mysqlPort, mysqlUser, mysqlDatabase, mysqlPassword, mysqlRootPassword } = live.outputs;
    if (mysqlPort === undefined) return undefined;
    return mysql.createConnection({
        host: mysqlHost === "localhost" ? "127.0.0.1" : mysqlHost,
        port: Number(mysqlPort),
        user: as === "user" ? mysqlUser : "root",
        password: as === "user" ? mysqlPassword : mysqlRootPassword,
        database: mysqlDatabase,
        connectTimeout: 10_000,
    });
}

/**
 * Writes `row` into `table` with the application user's generated password (from the outputs),
 * and checks the app lists the table; the root password from the outputs logs in too.
 */
export async function expectMysqlRoundTrip(live: LiveStack, table: string, row: string): Promise<void> {
    const user = await connectMysql(live, "user");
    if (!user) throw new Error("MySQL is not published by this stack");
    try {
        await user.query(`CREATE TABLE IF NOT EXISTS \`${table}\` (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200) NOT NULL)`);
        await user.query(`INSERT INTO \`${table}\` (note) VALUES (?)`, [row]);
    } finally {
        await user.end();
    }
    const tables = await getJson(`${ipv4(live.outputs.appUrl)}/api/mysql/tables`);
    expect(tables.status).toBe(200);
    expect((tables.body.tables as { name: string }[]).map((t) => t.name)).toContain(table);

    const root = await connectMysql(live, "root");
    try {
        const [rows] = await root!.query("SELECT CURRENT_USER() AS who");
        expect((rows as { who: string }[])[0].who).toMatch(/^root@/);
    } finally {
        await root!.end();
    }
}

/** The notes in `table`, read with the application user's password from the outputs. */
export async function readRows(live: LiveStack, table: string): Promise<string[]> {
    const user = await connectMysql(live, "user");
    try {
        const [rows] = await user!.query(`SELECT note FROM \`${table}\` ORDER BY id`);
        return (rows as { note: string }[]).map((r) => r.note);
    } finally {
        await user!.end();
    }
}

/** The Jupyter server's base URL and token, from the `jupyterUrl` output. */
export function jupyterLogin(live: LiveStack): { base: string; token: string } {
    const url = new URL(ipv4(live.outputs.jupyterUrl));
    return { base: url.origin, token: url.searchParams.get("token") ?? "" };
}

/**
 * Jupyter answers its API with the token from `jupyterUrl` and refuses without it; a notebook
 * saved through its API lands in the notebooks folder, written by the notebook user (uid 1000).
 * Returns the file's path in the container.
 */
export async function expectJupyterWorks(live: LiveStack, notebook: string): Promise<string> {
    const { base, token } = jupyterLogin(live);
    expect(token).toMatch(/^[A-Za-z0-9]{32,}$/);
    expect((await getJson(`${base}/api/status?token=${token}`)).status).toBe(200);
    expect([401, 403]).toContain((await getJson(`${base}/api/status`)).status);
    expect([401, 403]).toContain((await getJson(`${base}/api/status?token=not-the-token`)).status);

    // The server's root is the notebook user's home; the notebooks folder is work/notebooks under it.
    const saved = await fetch(`${base}/api/contents/work/notebooks/${notebook}?token=${token}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "file", format: "text", content: `written by ${live.stack}` }),
        signal: AbortSignal.timeout(15_000),
    });
    expect(saved.status).toBeLessThan(300);
    const file = `/home/jovyan/work/notebooks/${notebook}`;
    expect(await exec(live, live.outputs.jupyterContainerName, ["stat", "-c", "%u", file])).toBe("1000");
    return file;
}

/**
 * Runs a command in a container (by name or id), with `env` for that command alone; returns its
 * trimmed output, or throws with it on failure.
 */
export async function exec(live: LiveStack, container: string, cmd: string[], env: string[] = []): Promise<string> {
    const execution = await live.docker.getContainer(container).exec({ Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true });
    const stream = await execution.start({});
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
    const output = demux(Buffer.concat(chunks)).trim();
    const { ExitCode } = await execution.inspect();
    if (ExitCode !== 0) throw new Error(`${cmd.join(" ")} in ${container} exited ${ExitCode}: ${output}`);
    return output;
}

/**
 * No secret appears in any of the stack's containers' environment, labels, command line
 * (the container's own and every process running in it) or logs.
 */
export async function expectSecretsHidden(live: LiveStack, secrets: string[]): Promise<void> {
    expect(secrets.every((s) => s.length >= 12)).toBe(true);
    for (const c of await stackContainers(live)) {
        const container = live.docker.getContainer(c.Id);
        const processes = await container.top({ ps_args: "-eo pid,args" });
        const logs = demux(await container.logs({ stdout: true, stderr: true }));
        const exposed = {
            env: (c.Config.Env ?? []).join("\n"),
            labels: JSON.stringify(c.Config.Labels ?? {}),
            command: JSON.stringify([c.Path, c.Args, c.Config.Entrypoint, c.Config.Cmd]),
            processes: JSON.stringify(processes.Processes ?? []),
            logs,
        };
        for (const [where, text] of Object.entries(exposed)) {
            const leaked = secrets.filter((s) => text.includes(s));
            expect({ container: c.Name, where, leaked: leaked.length }).toEqual({ container: c.Name, where, leaked: 0 });
        }
    }
}

/** Whether a TCP connection to `host:port` is accepted within 3 s. */
export function answers(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port, timeout: 3000 });
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
        socket.once("timeout", () => {
            socket.destroy();
            resolve(false);
        });
    });
}

/**
 * The TCP ports listening on the host, with their addresses, from /proc/net/tcp{,6} (the
 * listening sockets of Docker's port proxies included). Only meaningful on the engine's host.
 */
export function listeningAddresses(port: number): string[] {
    const found: string[] = [];
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        if (!fs.existsSync(file)) continue;
        for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
            const fields = line.trim().split(/\s+/);
            if (fields.length < 4 || fields[3] !== "0A") continue; // 0A: LISTEN
            const [hexAddress, hexPort] = fields[1].split(":");
            if (parseInt(hexPort, 16) !== port) continue;
            found.push(hexAddress.length === 8 ? hexAddress.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".") : `[${hexAddress}]`);
        }
    }
    return found.sort();
}
