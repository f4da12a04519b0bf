import http from "http";
import net from "net";
import type { PoolOptions } from "mysql2/promise";
import { createMysqlStore, TABLES_SQL } from "../../app/dashboard/lib/mysql";
import { createElasticsearchStore } from "../../app/dashboard/lib/elasticsearch";
import { describeError } from "../../app/dashboard/lib/server";
import { close, closedPort, listen } from "./helpers";

type Settings = Parameters<typeof createMysqlStore>[0];

const settings: Settings = {
  host: "mysql",
  port: 3306,
  user: "BAS_DEV_RW",
  database: "bas_dev",
  password: "pw-from-file",
  passwordFile: "/run/secrets/mysql_password",
  problem: null,
};

/** A stand-in for mysql2's createPool that records what it was asked. */
function fakePool(rows: unknown[]) {
  const record = {
    created: [] as PoolOptions[],
    queries: [] as Array<{ sql: string; values?: unknown[]; timeout?: number }>,
    ended: 0,
  };
  const createPool = (options: PoolOptions) => {
    record.created.push(options);
    return {
      async query(query: { sql: string; values?: unknown[]; timeout?: number }): Promise<[unknown, unknown]> {
        record.queries.push(query);
        return [rows, []];
      },
      async end() {
        record.ended += 1;
      },
    };
  };
  return { record, createPool };
}

describe("the MySQL store", () => {
  it("opens one pool on first use, with the configured server, credentials and timeout", async () => {
    const { record, createPool } = fakePool([{ version: "10.11.18-MariaDB" }]);
    const store = createMysqlStore(settings, 1500, createPool);
    expect(record.created).toHaveLength(0);
    await store.ping();
    await store.ping();
    expect(record.created).toHaveLength(1);
    expect(record.created[0]).toMatchObject({
      host: "mysql",
      port: 3306,
      user: "BAS_DEV_RW",
      password: "pw-from-file",
      database: "bas_dev",
      connectTimeout: 1500,
    });
  });

  it("describes the server it reached when pinged", async () => {
    const { createPool } = fakePool([{ version: "10.11.18-MariaDB" }]);
    const store = createMysqlStore(settings, 1500, createPool);
    await expect(store.ping()).resolves.toBe("BAS_DEV_RW@mysql:3306/bas_dev answers (server 10.11.18-MariaDB)");
  });

  it("lists tables with a read-only, parameterised query bounded by the timeout", async () => {
    const { record, createPool } = fakePool([
      { name: "buildings", type: "BASE TABLE", approximateRows: 3 },
      { name: "readings_view", type: "VIEW", approximateRows: null },
    ]);
    const store = createMysqlStore(settings, 1500, createPool);
    await expect(store.listTables()).resolves.toEqual([
      { name: "buildings", type: "BASE TABLE", approximateRows: 3 },
      { name: "readings_view", type: "VIEW", approximateRows: null },
    ]);
    expect(record.queries).toEqual([{ sql: TABLES_SQL, values: ["bas_dev"], timeout: 1500 }]);
    expect(TABLES_SQL).toMatch(/^SELECT .* FROM information_schema\.TABLES WHERE TABLE_SCHEMA = \? /);
  });

  it("fails every call with the configuration problem, and never opens a pool, when misconfigured", async () => {
    const { record, createPool } = fakePool([]);
    const store = createMysqlStore({ ...settings, password: "", problem: "MYSQL_USER is not set" }, 1500, createPool);
    await expect(store.ping()).rejects.toThrow("not configured: MYSQL_USER is not set");
    await expect(store.listTables()).rejects.toThrow("not configured: MYSQL_USER is not set");
    expect(record.created).toHaveLength(0);
  });

  it("ends its pool on close, and closing an unused store does nothing", async () => {
    const { record, createPool } = fakePool([{ version: "x" }]);
    const unused = createMysqlStore(settings, 1500, createPool);
    await unused.close();
    expect(record.ended).toBe(0);
    const used = createMysqlStore(settings, 1500, createPool);
    await used.ping();
    await used.close();
    await used.close();
    expect(record.ended).toBe(1);
  });

  describe("with the real mysql2 driver on 127.0.0.1", () => {
    it("fails fast with a readable connection error when nothing listens", async () => {
      const port = await closedPort();
      const store = createMysqlStore({ ...settings, host: "127.0.0.1", port }, 1000);
      try {
        const error = await store.ping().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(describeError(error)).toMatch(/ECONNREFUSED/);
      } finally {
        await store.close();
      }
    });

    it("gives up after the connect timeout when the server accepts but never answers", async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((socket) => void sockets.push(socket));
      await listen(silent);
      const port = (silent.address() as net.AddressInfo).port;
      const store = createMysqlStore({ ...settings, host: "127.0.0.1", port }, 300);
      const started = Date.now();
      try {
        await expect(store.ping()).rejects.toThrow(/ETIMEDOUT|timeout/i);
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        await store.close();
        sockets.forEach((socket) => socket.destroy());
        await close(silent);
      }
    });
  });
});

describe("the Elasticsearch store", () => {
  let server: http.Server;
  let base: string;
  let requests: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders }>;
  let reply: (res: http.ServerResponse) => void;

  beforeEach(async () => {
    requests = [];
    server = http.createServer((req, res) => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      reply(res);
    });
    base = await listen(server);
  });

  afterEach(async () => {
    await close(server);
  });

  const answer = (status: number, body: unknown) => (res: http.ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };

  it("reads the cluster health with GET /_cluster/health", async () => {
    reply = answer(200, { cluster_name: "c", status: "green" });
    const store = createElasticsearchStore({ url: base, authorization: null });
    await expect(store.clusterHealth()).resolves.toEqual({ cluster_name: "c", status: "green" });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "GET", url: "/_cluster/health" });
    expect(requests[0].headers.accept).toBe("application/json");
    expect(requests[0].headers.authorization).toBeUndefined();
  });

  it("reads the indices with GET /_cat/indices?format=json", async () => {
    reply = answer(200, [{ index: "sensor-readings" }]);
    const store = createElasticsearchStore({ url: base, authorization: null });
    await expect(store.indices()).resolves.toEqual([{ index: "sensor-readings" }]);
    expect(requests[0]).toMatchObject({ method: "GET", url: "/_cat/indices?format=json" });
  });

  it("sends the configured Authorization header", async () => {
    reply = answer(200, { status: "green" });
    const store = createElasticsearchStore({ url: base, authorization: "Basic ZTpw" });
    await store.clusterHealth();
    expect(requests[0].headers.authorization).toBe("Basic ZTpw");
  });

  it("turns an HTTP error into an error naming the status and the call", async () => {
    reply = answer(503, { error: "cluster_block_exception" });
    const store = createElasticsearchStore({ url: base, authorization: null });
    await expect(store.clusterHealth()).rejects.toThrow(
      'Elasticsearch answered HTTP 503 to GET /_cluster/health: {"error":"cluster_block_exception"}',
    );
  });

  it.each<[string, unknown, "clusterHealth" | "indices"]>([
    ["a list for the cluster health", [], "clusterHealth"],
    ["an object for the indices", { index: "x" }, "indices"],
  ])("rejects %s", async (_what, body, call) => {
    reply = answer(200, body);
    const store = createElasticsearchStore({ url: base, authorization: null });
    await expect(store[call]()).rejects.toThrow(/with something other than/);
  });

  it("cancels the request when the caller's signal is aborted", async () => {
    reply = () => undefined;
    const store = createElasticsearchStore({ url: base, authorization: null });
    const controller = new AbortController();
    const pending = store.clusterHealth(controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it("gives a readable reason when nothing listens", async () => {
    const port = await closedPort();
    const store = createElasticsearchStore({ url: `http://127.0.0.1:${port}`, authorization: null });
    const error = await store.clusterHealth().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(describeError(error)).toMatch(/^fetch failed: .*ECONNREFUSED/);
  });
});
