import http from "http";
import net from "net";
import type { PoolOptions } from "mysql2/promise";
import { createMysqlStore, TABLES_SQL } from "../../app/dashboard/lib/mysql";
import { createElasticsearchStore, MAX_READINGS, parseReadings, readingsQuery } from "../../app/dashboard/lib/elasticsearch";
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
  let requests: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }>;
  let reply: (res: http.ServerResponse) => void;

  beforeEach(async () => {
    requests = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        reply(res);
      });
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

  describe("the readings", () => {
    const window = { from: Date.parse("2025-02-28T12:00:00Z"), to: Date.parse("2025-03-01T12:00:00Z") };

    it("searches sensor-readings for the window, newest first, with a filter on @timestamp and an exact total", async () => {
      reply = answer(200, { hits: { total: { value: 0, relation: "eq" }, hits: [] } });
      const store = createElasticsearchStore({ url: base, authorization: "Basic ZTpw" });
      await expect(store.readings(window)).resolves.toEqual({ total: 0, readings: [], skipped: 0 });
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ method: "POST", url: "/sensor-readings/_search?ignore_unavailable=true" });
      expect(requests[0].headers["content-type"]).toBe("application/json");
      expect(requests[0].headers.authorization).toBe("Basic ZTpw");
      expect(JSON.parse(requests[0].body)).toEqual({
        size: MAX_READINGS,
        track_total_hits: true,
        query: {
          bool: {
            filter: [
              {
                range: {
                  "@timestamp": { gte: "2025-02-28T12:00:00.000Z", lte: "2025-03-01T12:00:00.000Z", format: "strict_date_optional_time" },
                },
              },
            ],
          },
        },
        sort: [{ "@timestamp": { order: "desc", unmapped_type: "date" } }],
        _source: ["@timestamp", "building", "sensor", "value", "unit"],
      });
      expect(readingsQuery(window)).toEqual(JSON.parse(requests[0].body));
      // Below Elasticsearch's max_result_window, which refuses a larger page.
      expect(MAX_READINGS).toBeLessThanOrEqual(10_000);
    });

    it("gives the readings of the answer oldest first", async () => {
      reply = answer(200, {
        hits: {
          total: { value: 2, relation: "eq" },
          hits: [
            { _id: "2", _source: { "@timestamp": "2025-03-01T11:00:00Z", building: "Main building", sensor: "t1", value: 22, unit: "°C" } },
            { _id: "1", _source: { "@timestamp": "2025-03-01T10:00:00Z", building: "Main building", sensor: "t1", value: 21.5, unit: "°C" } },
          ],
        },
      });
      const store = createElasticsearchStore({ url: base, authorization: null });
      await expect(store.readings(window)).resolves.toEqual({
        total: 2,
        skipped: 0,
        readings: [
          { time: Date.parse("2025-03-01T10:00:00Z"), building: "Main building", sensor: "t1", value: 21.5, unit: "°C" },
          { time: Date.parse("2025-03-01T11:00:00Z"), building: "Main building", sensor: "t1", value: 22, unit: "°C" },
        ],
      });
    });

    it("turns a refused search into an error naming the status and the call", async () => {
      reply = answer(400, { error: { type: "search_phase_execution_exception" }, status: 400 });
      const store = createElasticsearchStore({ url: base, authorization: null });
      await expect(store.readings(window)).rejects.toThrow(
        /^Elasticsearch answered HTTP 400 to POST \/sensor-readings\/_search\?ignore_unavailable=true: \{"error"/,
      );
    });

    it("rejects an answer without a list of hits", async () => {
      reply = answer(200, { acknowledged: true });
      const store = createElasticsearchStore({ url: base, authorization: null });
      await expect(store.readings(window)).rejects.toThrow(/without a list of hits/);
    });
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

describe("parseReadings", () => {
  const hitsOf = (sources: unknown[], total?: unknown) => ({
    hits: { ...(total === undefined ? {} : { total }), hits: sources.map((source, i) => ({ _id: String(i), _source: source })) },
  });

  it("counts the documents without a usable time or numeric value as skipped, and keeps the others", () => {
    const parsed = parseReadings(
      hitsOf([
        { "@timestamp": "2025-03-01T10:00:00Z", sensor: "a", value: 1 },
        { "@timestamp": "not a date", sensor: "b", value: 1 },
        { sensor: "c", value: 1 },
        { "@timestamp": "2025-03-01T10:00:00Z", sensor: "d", value: "n/a" },
        { "@timestamp": "2025-03-01T10:00:00Z", sensor: "e" },
        { "@timestamp": "2025-03-01T10:00:00Z", sensor: "f", value: null },
        { "@timestamp": Date.parse("2025-03-01T09:00:00Z"), sensor: "g", value: "2.5" },
      ]),
      "/x",
    );
    expect(parsed.skipped).toBe(5);
    expect(parsed.readings.map((r) => [r.sensor, r.value, new Date(r.time).toISOString()])).toEqual([
      ["g", 2.5, "2025-03-01T09:00:00.000Z"],
      ["a", 1, "2025-03-01T10:00:00.000Z"],
    ]);
  });

  it("takes building, sensor and unit as text, and an absent one as empty", () => {
    const [r] = parseReadings(hitsOf([{ "@timestamp": "2025-03-01T10:00:00Z", value: 1, building: 7, sensor: { nested: true } }]), "/x").readings;
    expect(r).toMatchObject({ building: "7", sensor: "", unit: "" });
  });

  it.each<[string, unknown, number]>([
    ["7.x's { value, relation }", { value: 9000, relation: "eq" }, 9000],
    ["a plain number (rest_total_hits_as_int)", 42, 42],
    ["nothing: the hits returned", undefined, 1],
  ])("reads the total from %s", (_what, total, expected) => {
    expect(parseReadings(hitsOf([{ "@timestamp": "2025-03-01T10:00:00Z", value: 1 }], total), "/x").total).toBe(expected);
  });
});
