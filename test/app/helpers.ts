/** Fakes and small HTTP helpers shared by the dashboard's unit tests (127.0.0.1 only). */
import http from "http";
import net from "net";
import type { MysqlStore, TableInfo } from "../../app/dashboard/lib/mysql";
import type { ClusterHealth, ElasticsearchStore, IndexInfo, Reading, ReadingsResult, TimeWindow } from "../../app/dashboard/lib/elasticsearch";

/** How a fake store behaves on its next call: answers, fails at once, or never answers. */
export type Mode = "up" | "down" | "hanging";

export const TABLES: TableInfo[] = [
  { name: "buildings", type: "BASE TABLE", approximateRows: 3 },
  { name: "sensors", type: "BASE TABLE", approximateRows: 120 },
];

export const CLUSTER_HEALTH: ClusterHealth = {
  cluster_name: "sb-cluster",
  status: "yellow",
  number_of_nodes: 1,
  active_shards: 5,
  unassigned_shards: 5,
};

export const INDICES: IndexInfo[] = [
  { index: "sensor-readings", health: "yellow", status: "open", "docs.count": "1200", "store.size": "1.2mb" },
];

/** A fixed clock for the tests: 2025-03-01 12:00 UTC. */
export const NOW = Date.parse("2025-03-01T12:00:00Z");
const HOUR = 3_600_000;

/** Readings of the last day: two sensors of one building, one of another. */
export const READINGS: Reading[] = [
  { time: NOW - 20 * HOUR, building: "Main building", sensor: "temperature-1", value: 20.5, unit: "°C" },
  { time: NOW - 10 * HOUR, building: "Main building", sensor: "temperature-1", value: 23, unit: "°C" },
  { time: NOW - 1 * HOUR, building: "Main building", sensor: "temperature-1", value: 21.5, unit: "°C" },
  { time: NOW - 12 * HOUR, building: "Main building", sensor: "humidity-1", value: 48, unit: "%" },
  { time: NOW - 2 * HOUR, building: "Annex", sensor: "co2-1", value: 610, unit: "ppm" },
];

/** Answers the way the mode says; `signals` keeps the abort signal of every call. */
function behave<T>(mode: Mode, value: () => T, failure: string, signals: AbortSignal[], signal?: AbortSignal): Promise<T> {
  if (signal) signals.push(signal);
  if (mode === "up") return Promise.resolve(value());
  if (mode === "down") return Promise.reject(new Error(failure));
  return new Promise<T>(() => undefined);
}

export type FakeMysql = MysqlStore & { mode: Mode; tables: TableInfo[]; calls: number; signals: AbortSignal[]; closed: boolean };

export function fakeMysql(mode: Mode = "up"): FakeMysql {
  const fake: FakeMysql = {
    mode,
    tables: TABLES,
    calls: 0,
    signals: [],
    closed: false,
    database: "bas_dev",
    ping(signal) {
      fake.calls += 1;
      return behave(fake.mode, () => "BAS_DEV_RW@mysql:3306/bas_dev answers", "connect ECONNREFUSED 10.9.8.7:3306", fake.signals, signal);
    },
    listTables(signal) {
      fake.calls += 1;
      return behave(fake.mode, () => fake.tables, "connect ECONNREFUSED 10.9.8.7:3306", fake.signals, signal);
    },
    async close() {
      fake.closed = true;
    },
  };
  return fake;
}

export type FakeElasticsearch = ElasticsearchStore & {
  mode: Mode;
  indexList: IndexInfo[];
  readingsResult: ReadingsResult;
  /** How readings answers, when it should differ from the other calls. */
  readingsMode: Mode | null;
  windows: TimeWindow[];
  calls: number;
  signals: AbortSignal[];
};

export function fakeElasticsearch(mode: Mode = "up"): FakeElasticsearch {
  const fake: FakeElasticsearch = {
    mode,
    indexList: INDICES,
    readingsResult: { total: READINGS.length, readings: READINGS, skipped: 0 },
    readingsMode: null,
    windows: [],
    calls: 0,
    signals: [],
    clusterHealth(signal) {
      fake.calls += 1;
      return behave(fake.mode, () => CLUSTER_HEALTH, "fetch failed: getaddrinfo ENOTFOUND elasticsearch", fake.signals, signal);
    },
    indices(signal) {
      fake.calls += 1;
      return behave(fake.mode, () => fake.indexList, "fetch failed: getaddrinfo ENOTFOUND elasticsearch", fake.signals, signal);
    },
    readings(window, signal) {
      fake.calls += 1;
      fake.windows.push(window);
      const failure =
        fake.readingsMode === null
          ? "fetch failed: getaddrinfo ENOTFOUND elasticsearch"
          : "Elasticsearch answered HTTP 400 to POST /sensor-readings/_search: search_phase_execution_exception";
      return behave(fake.readingsMode ?? fake.mode, () => fake.readingsResult, failure, fake.signals, signal);
    },
  };
  return fake;
}

/** Starts a server on a free 127.0.0.1 port; returns its base URL. */
export async function listen(server: http.Server | net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** Closes a server, dropping kept-alive connections so Jest is not held open. */
export async function close(server: http.Server | net.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await listen(server);
  const port = (server.address() as net.AddressInfo).port;
  await close(server);
  return port;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => any;
}

export async function get(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}
