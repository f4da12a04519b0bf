import http from "http";
import { createServer, describeError } from "../../app/dashboard/lib/server";
import { close, fakeElasticsearch, fakeMysql, FakeElasticsearch, FakeMysql, get, listen, Mode, NOW, READINGS } from "./helpers";

/** Short, so the "hanging store" cases finish fast; long enough for a fake that answers at once. */
const TIMEOUT_MS = 150;

let server: http.Server;
let base: string;
let mysql: FakeMysql;
let elasticsearch: FakeElasticsearch;
let errors: string[];

async function start(mysqlMode: Mode, elasticsearchMode: Mode): Promise<void> {
  mysql = fakeMysql(mysqlMode);
  elasticsearch = fakeElasticsearch(elasticsearchMode);
  errors = [];
  const log = { info: () => undefined, warn: () => undefined, error: (m: string) => void errors.push(m) };
  server = createServer({ mysql, elasticsearch, timeoutMs: TIMEOUT_MS, log, now: () => NOW });
  base = await listen(server);
}

afterEach(async () => {
  await close(server);
});

describe("GET /health", () => {
  it("answers 200 with both stores up, each with a message", async () => {
    await start("up", "up");
    const answer = await get(`${base}/health`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    expect(answer.json()).toEqual({
      status: "ok",
      mysql: { up: true, message: "BAS_DEV_RW@mysql:3306/bas_dev answers" },
      elasticsearch: { up: true, message: "cluster sb-cluster is yellow" },
    });
  });

  it("answers 503 and names MySQL as down, with its reason, when MySQL refuses connections", async () => {
    await start("down", "up");
    const answer = await get(`${base}/health`);
    expect(answer.status).toBe(503);
    const body = answer.json();
    expect(body.status).toBe("unavailable");
    expect(body.mysql).toEqual({ up: false, message: "MySQL is unavailable: connect ECONNREFUSED 10.9.8.7:3306" });
    expect(body.elasticsearch.up).toBe(true);
  });

  it("answers 503 and names Elasticsearch as down when it cannot be reached", async () => {
    await start("up", "down");
    const answer = await get(`${base}/health`);
    expect(answer.status).toBe(503);
    expect(answer.json().mysql.up).toBe(true);
    expect(answer.json().elasticsearch).toEqual({
      up: false,
      message: "Elasticsearch is unavailable: fetch failed: getaddrinfo ENOTFOUND elasticsearch",
    });
  });

  it("answers 503 within the timeout when both stores hang, and aborts the hung calls", async () => {
    await start("hanging", "hanging");
    const started = Date.now();
    const answer = await get(`${base}/health`);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);
    expect(answer.status).toBe(503);
    expect(answer.json().mysql).toEqual({ up: false, message: `MySQL is unavailable: no answer within ${TIMEOUT_MS} ms` });
    expect(answer.json().elasticsearch.message).toBe(`Elasticsearch is unavailable: no answer within ${TIMEOUT_MS} ms`);
    expect(elasticsearch.signals).toHaveLength(1);
    expect(elasticsearch.signals[0].aborted).toBe(true);
  });

  it("keeps serving after a store failed, and reports it up again once it answers", async () => {
    await start("hanging", "up");
    expect((await get(`${base}/health`)).status).toBe(503);
    expect((await get(`${base}/health/live`)).status).toBe(200);
    mysql.mode = "up";
    const answer = await get(`${base}/health`);
    expect(answer.status).toBe(200);
    expect(answer.json().mysql.up).toBe(true);
  });
});

describe("GET /health/live", () => {
  it("answers 200 without asking either store, even when both are down", async () => {
    await start("down", "down");
    const answer = await get(`${base}/health/live`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ status: "live" });
    expect(mysql.calls + elasticsearch.calls).toBe(0);
  });

  it("ignores a query string", async () => {
    await start("up", "up");
    expect((await get(`${base}/health/live?probe=docker`)).status).toBe(200);
  });
});

describe("GET /api/mysql/tables", () => {
  it("lists the tables of the configured database", async () => {
    await start("up", "down");
    const answer = await get(`${base}/api/mysql/tables`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      database: "bas_dev",
      tables: [
        { name: "buildings", type: "BASE TABLE", approximateRows: 3 },
        { name: "sensors", type: "BASE TABLE", approximateRows: 120 },
      ],
    });
  });

  it.each<[Mode, string]>([
    ["down", "MySQL is unavailable: connect ECONNREFUSED 10.9.8.7:3306"],
    ["hanging", `MySQL is unavailable: no answer within ${TIMEOUT_MS} ms`],
  ])("answers 503 with a clear message when MySQL is %s", async (mode, message) => {
    await start(mode, "up");
    const answer = await get(`${base}/api/mysql/tables`);
    expect(answer.status).toBe(503);
    expect(answer.json()).toEqual({ error: "mysql_unavailable", message });
  });

  it("answers 503, not 500, when the store throws instead of rejecting", async () => {
    await start("up", "up");
    mysql.listTables = () => {
      throw new Error("not configured: MYSQL_USER is not set");
    };
    const answer = await get(`${base}/api/mysql/tables`);
    expect(answer.status).toBe(503);
    expect(answer.json().message).toBe("MySQL is unavailable: not configured: MYSQL_USER is not set");
    expect((await get(`${base}/health/live`)).status).toBe(200);
  });
});

describe("GET /api/elasticsearch/health and /api/elasticsearch/indices", () => {
  it("passes on the cluster health as Elasticsearch gives it", async () => {
    await start("down", "up");
    const answer = await get(`${base}/api/elasticsearch/health`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      cluster_name: "sb-cluster",
      status: "yellow",
      number_of_nodes: 1,
      active_shards: 5,
      unassigned_shards: 5,
    });
  });

  it("passes on the list of indices as Elasticsearch gives it", async () => {
    await start("down", "up");
    const answer = await get(`${base}/api/elasticsearch/indices`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual([
      { index: "sensor-readings", health: "yellow", status: "open", "docs.count": "1200", "store.size": "1.2mb" },
    ]);
  });

  it.each(["/api/elasticsearch/health", "/api/elasticsearch/indices"])(
    "answers 503 with a clear message on %s when Elasticsearch is down or hangs",
    async (path) => {
      await start("up", "down");
      const down = await get(`${base}${path}`);
      expect(down.status).toBe(503);
      expect(down.json()).toEqual({
        error: "elasticsearch_unavailable",
        message: "Elasticsearch is unavailable: fetch failed: getaddrinfo ENOTFOUND elasticsearch",
      });
      elasticsearch.mode = "hanging";
      const hung = await get(`${base}${path}`);
      expect(hung.status).toBe(503);
      expect(hung.json().message).toBe(`Elasticsearch is unavailable: no answer within ${TIMEOUT_MS} ms`);
    },
  );
});

describe("GET /api/elasticsearch/readings", () => {
  it("gives the readings of the last 24 hours, with the window and the index", async () => {
    await start("down", "up");
    const answer = await get(`${base}/api/elasticsearch/readings`);
    expect(answer.status).toBe(200);
    expect(elasticsearch.windows).toEqual([{ from: NOW - 24 * 3_600_000, to: NOW }]);
    const body = answer.json();
    expect(body).toMatchObject({
      index: "sensor-readings",
      from: "2025-02-28T12:00:00.000Z",
      to: "2025-03-01T12:00:00.000Z",
      total: READINGS.length,
      skipped: 0,
    });
    expect(body.readings[0]).toEqual({
      time: "2025-02-28T16:00:00.000Z",
      building: "Main building",
      sensor: "temperature-1",
      value: 20.5,
      unit: "°C",
    });
  });

  it("answers 503 with a clear message when Elasticsearch is down", async () => {
    await start("up", "down");
    const answer = await get(`${base}/api/elasticsearch/readings`);
    expect(answer.status).toBe(503);
    expect(answer.json()).toEqual({
      error: "elasticsearch_unavailable",
      message: "Elasticsearch is unavailable: fetch failed: getaddrinfo ENOTFOUND elasticsearch",
    });
  });
});

describe("GET /", () => {
  it("draws the readings of the last 24 hours as charts, by building, under the time-series heading", async () => {
    await start("up", "up");
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(200);
    expect(elasticsearch.windows).toEqual([{ from: NOW - 24 * 3_600_000, to: NOW }]);
    expect(answer.text).toContain("<h3>Sensor readings, last 24 hours</h3>");
    expect(answer.text.match(/<h4>[^<]*<\/h4>/g)).toEqual(["<h4>Annex</h4>", "<h4>Main building</h4>"]);
    expect(answer.text.match(/<svg /g)).toHaveLength(3);
    expect(answer.text.match(/<circle class="point"/g)).toHaveLength(READINGS.length);
    expect(answer.text).toContain('<span class="sensor">temperature-1</span> <span class="latest">21.5 °C</span> <span class="age">1 h ago</span>');
  });

  it("says why there are no charts when the search fails, and still shows the cluster and its indices", async () => {
    await start("up", "up");
    elasticsearch.readingsMode = "down";
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain(
      '<p class="state down"><strong>down</strong> Elasticsearch is unavailable: Elasticsearch answered HTTP 400 to POST /sensor-readings/_search: search_phase_execution_exception</p>',
    );
    expect(answer.text).not.toContain("<svg");
    expect(answer.text).toContain("<td>sensor-readings</td>");
  });

  it("shows Elasticsearch's message instead of the charts when it is down, and MySQL as usual", async () => {
    await start("up", "down");
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain(
      '<p class="state down"><strong>down</strong> Elasticsearch is unavailable: fetch failed: getaddrinfo ENOTFOUND elasticsearch</p>',
    );
    expect(answer.text).not.toContain("<svg");
    expect(answer.text).toContain("<td>sensors</td>");
  });

  it("shows both stores up, with the tables and the indices", async () => {
    await start("up", "up");
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(answer.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(answer.text).toContain('<p class="state up"><strong>up</strong> 2 table(s) in bas_dev</p>');
    expect(answer.text).toContain("<td>sensors</td>");
    expect(answer.text).toContain('<p class="state up"><strong>up</strong> cluster sb-cluster is yellow</p>');
    expect(answer.text).toContain("<td>sensor-readings</td>");
  });

  it("still answers 200 when the stores are down, and says why for each", async () => {
    await start("down", "hanging");
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain(
      '<p class="state down"><strong>down</strong> MySQL is unavailable: connect ECONNREFUSED 10.9.8.7:3306</p>',
    );
    expect(answer.text).toContain(
      `<p class="state down"><strong>down</strong> Elasticsearch is unavailable: no answer within ${TIMEOUT_MS} ms</p>`,
    );
    expect(answer.text).not.toContain("<td>sensors</td>");
  });

  it("escapes names that come from the stores instead of running them", async () => {
    await start("up", "up");
    mysql.tables = [{ name: "<script>alert('t')</script>", type: "BASE TABLE", approximateRows: null }];
    elasticsearch.indexList = [{ index: '"><img src=x onerror=alert(1)>', health: "green" }];
    elasticsearch.readingsResult = {
      total: 1,
      skipped: 0,
      readings: [{ ...READINGS[0], building: "<script>alert('b')</script>", sensor: '"><img src=x onerror=alert(2)>' }],
    };
    const answer = await get(`${base}/`);
    expect(answer.text).not.toContain("<script>");
    expect(answer.text).not.toContain("<img");
    expect(answer.text).toContain("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;");
    expect(answer.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(answer.text).toContain("<h4>&lt;script&gt;alert(&#39;b&#39;)&lt;/script&gt;</h4>");
    expect(answer.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
  });
});

describe("routing", () => {
  it("answers 404 with JSON for an unknown path", async () => {
    await start("up", "up");
    const answer = await get(`${base}/admin`);
    expect(answer.status).toBe(404);
    expect(answer.json()).toEqual({ error: "not_found", message: "There is nothing at /admin" });
  });

  it.each(["POST", "PUT", "DELETE", "PATCH"])("answers 405 with an Allow header to %s on a known path", async (method) => {
    await start("up", "up");
    const answer = await get(`${base}/health`, { method });
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("GET, HEAD");
    expect(answer.json().error).toBe("method_not_allowed");
    expect(mysql.calls + elasticsearch.calls).toBe(0);
  });

  it("answers HEAD like GET, without a body", async () => {
    await start("up", "up");
    const answer = await get(`${base}/health`, { method: "HEAD" });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("");
  });

  it("answers 500 and logs the failure when a handler itself breaks, and keeps serving", async () => {
    await start("up", "up");
    mysql.listTables = async () => null as never;
    const answer = await get(`${base}/`);
    expect(answer.status).toBe(500);
    expect(answer.json()).toEqual({ error: "internal_error", message: "The dashboard failed to answer; see its log" });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^GET \/ failed: /);
    expect((await get(`${base}/health/live`)).status).toBe(200);
  });

  it("does not read a path starting with // as a host name", async () => {
    await start("up", "up");
    expect((await get(`${base}//health/live`)).status).toBe(404);
  });
});

describe("describeError", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:3306"), { code: "ECONNREFUSED" });
  it.each<[string, unknown, string]>([
    ["an error's message", new Error("boom"), "boom"],
    ["the code of an error without a message", Object.assign(new Error(""), { code: "ECONNRESET" }), "ECONNRESET"],
    ["the first inner error of an AggregateError", new AggregateError([refused], ""), "connect ECONNREFUSED 10.0.0.1:3306"],
    ["the cause after the message", new TypeError("fetch failed", { cause: refused }), "fetch failed: connect ECONNREFUSED 10.0.0.1:3306"],
    ["something thrown that is not an error", "just a string", "just a string"],
  ])("gives %s", (_what, err, expected) => {
    expect(describeError(err)).toBe(expected);
  });
});
