"use strict";

/**
 * The dashboard's HTTP server: a page and a few JSON endpoints over the two stores.
 *
 * Every store call is bounded by `timeoutMs`, and a store that fails or does not answer in time
 * turns into a 503 with a message saying so, never into a crash or a hung request: the server
 * keeps serving, and answers again as soon as the store does.
 */

const http = require("http");
const { renderPage } = require("./page");
const { WINDOW_MS } = require("./chart");
const { READINGS_INDEX } = require("./elasticsearch");

/**
 * @typedef {object} Logger
 * @property {(message: string) => void} info
 * @property {(message: string) => void} warn
 * @property {(message: string) => void} error
 */

/**
 * @typedef {object} ServerOptions
 * @property {import("./mysql").MysqlStore} mysql
 * @property {import("./elasticsearch").ElasticsearchStore} elasticsearch
 * @property {number} [timeoutMs] the longest a single store call may take (default 2000)
 * @property {Logger} [log] where unexpected errors are reported (default: nowhere)
 * @property {() => number} [now] the clock, in milliseconds since the epoch (default Date.now)
 */

/** @typedef {{ up: boolean, message: string }} StoreState */

/** @typedef {{ status: number, contentType: string, body: string, headers?: Record<string, string> }} Reply */

/** Only reading methods exist: HEAD is answered like GET, without the body (Node drops it). */
const ALLOWED_METHODS = ["GET", "HEAD"];

/** A strict policy: the page has no script and no external resource, only its own styles. */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** @type {Logger} */
const silent = { info() {}, warn() {}, error() {} };

/**
 * @param {ServerOptions} options
 * @returns {http.Server}
 */
function createServer({ mysql, elasticsearch, timeoutMs = 2000, log = silent, now = Date.now }) {
  /**
   * The window of the time series: the last 24 hours, up to this request.
   * @returns {import("./elasticsearch").TimeWindow}
   */
  function currentWindow() {
    const to = now();
    return { from: to - WINDOW_MS, to };
  }

  /**
   * Runs one store call with a deadline and reports failures as a value, never as a throw.
   * @template T
   * @param {string} store "MySQL" or "Elasticsearch"
   * @param {(signal: AbortSignal) => Promise<T>} call
   * @returns {Promise<{ ok: true, value: T } | { ok: false, message: string }>}
   */
  async function attempt(store, call) {
    try {
      return { ok: true, value: await withTimeout(call, timeoutMs) };
    } catch (err) {
      return { ok: false, message: `${store} is unavailable: ${describeError(err)}` };
    }
  }

  /**
   * A JSON endpoint over one store call: 200 with its result, or 503 with the reason.
   * @template T
   * @param {"MySQL" | "Elasticsearch"} store
   * @param {(signal: AbortSignal) => Promise<T>} call
   * @param {(value: T) => unknown} [body] the answer's body from the result (the result itself by default)
   * @returns {() => Promise<Reply>}
   */
  function storeEndpoint(store, call, body = (value) => value) {
    return async () => {
      const result = await attempt(store, call);
      return result.ok
        ? json(200, body(result.value))
        : json(503, { error: `${store.toLowerCase()}_unavailable`, message: result.message });
    };
  }

  /** @type {Record<string, () => Promise<Reply>>} */
  const routes = {
    "/": async () => {
      const window = currentWindow();
      const [tables, health, indices, readings] = await Promise.all([
        attempt("MySQL", (signal) => mysql.listTables(signal)),
        attempt("Elasticsearch", (signal) => elasticsearch.clusterHealth(signal)),
        attempt("Elasticsearch", (signal) => elasticsearch.indices(signal)),
        attempt("Elasticsearch", (signal) => elasticsearch.readings(window, signal)),
      ]);
      const html = renderPage({
        mysql: tables.ok
          ? { up: true, database: mysql.database, tables: tables.value, message: `${tables.value.length} table(s) in ${mysql.database}` }
          : { up: false, database: mysql.database, tables: [], message: tables.message },
        elasticsearch: health.ok
          ? {
              up: true,
              message: describeCluster(health.value),
              health: health.value,
              indices: indices.ok ? indices.value : [],
              indicesMessage: indices.ok ? null : indices.message,
              readings: readings.ok ? readings.value : null,
              readingsMessage: readings.ok ? null : readings.message,
              window,
              readingsIndex: READINGS_INDEX,
            }
          : {
              up: false,
              message: health.message,
              health: null,
              indices: [],
              indicesMessage: null,
              readings: null,
              readingsMessage: null,
              window,
              readingsIndex: READINGS_INDEX,
            },
      });
      return {
        status: 200,
        contentType: "text/html; charset=utf-8",
        body: html,
        headers: { "content-security-policy": PAGE_CSP },
      };
    },

    "/health": async () => {
      const [mysqlState, elasticsearchState] = await Promise.all([
        attempt("MySQL", (signal) => mysql.ping(signal)).then(toState),
        attempt("Elasticsearch", async (signal) => describeCluster(await elasticsearch.clusterHealth(signal))).then(
          toState,
        ),
      ]);
      const up = mysqlState.up && elasticsearchState.up;
      return json(up ? 200 : 503, { status: up ? "ok" : "unavailable", mysql: mysqlState, elasticsearch: elasticsearchState });
    },

    "/health/live": async () => json(200, { status: "live" }),

    "/api/mysql/tables": storeEndpoint(
      "MySQL",
      (signal) => mysql.listTables(signal),
      (tables) => ({ database: mysql.database, tables }),
    ),
    "/api/elasticsearch/health": storeEndpoint("Elasticsearch", (signal) => elasticsearch.clusterHealth(signal)),
    "/api/elasticsearch/indices": storeEndpoint("Elasticsearch", (signal) => elasticsearch.indices(signal)),
    "/api/elasticsearch/readings": async () => {
      const window = currentWindow();
      return storeEndpoint(
        "Elasticsearch",
        (signal) => elasticsearch.readings(window, signal),
        (result) => ({
          index: READINGS_INDEX,
          from: new Date(window.from).toISOString(),
          to: new Date(window.to).toISOString(),
          total: result.total,
          skipped: result.skipped,
          readings: result.readings.map((r) => ({ ...r, time: new Date(r.time).toISOString() })),
        }),
      )();
    },
  };

  return http.createServer((req, res) => {
    // The path alone decides the route; a query string is ignored, and `new URL` is not used
    // because it would read a path such as `//health` as a host name.
    const path = (req.url ?? "/").split("?")[0];
    const route = Object.prototype.hasOwnProperty.call(routes, path) ? routes[path] : undefined;
    if (route === undefined) {
      send(res, json(404, { error: "not_found", message: `There is nothing at ${path}` }));
    } else if (!ALLOWED_METHODS.includes(req.method ?? "")) {
      send(res, {
        ...json(405, { error: "method_not_allowed", message: `${path} answers ${ALLOWED_METHODS.join(" and ")} only` }),
        headers: { allow: ALLOWED_METHODS.join(", ") },
      });
    } else {
      route().then(
        (reply) => send(res, reply),
        (err) => {
          log.error(`${req.method} ${path} failed: ${describeError(err)}`);
          send(res, json(500, { error: "internal_error", message: "The dashboard failed to answer; see its log" }));
        },
      );
    }
  });
}

/**
 * @param {number} status
 * @param {unknown} value
 * @returns {Reply}
 */
function json(status, value) {
  return { status, contentType: "application/json; charset=utf-8", body: JSON.stringify(value) };
}

/**
 * @param {http.ServerResponse} res
 * @param {Reply} reply
 */
function send(res, reply) {
  if (res.headersSent) return;
  res.writeHead(reply.status, {
    "content-type": reply.contentType,
    "content-length": Buffer.byteLength(reply.body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...reply.headers,
  });
  res.end(reply.body);
}

/**
 * @param {{ ok: true, value: string } | { ok: false, message: string }} result
 * @returns {StoreState}
 */
function toState(result) {
  return result.ok ? { up: true, message: result.value } : { up: false, message: result.message };
}

/** @param {import("./elasticsearch").ClusterHealth} health */
function describeCluster(health) {
  return `cluster ${health.cluster_name ?? "(unnamed)"} is ${health.status ?? "of unknown status"}`;
}

/**
 * Runs `call` with an abort signal and rejects once `ms` have passed, aborting the signal so a
 * call that honours it (fetch) stops too.
 * @template T
 * @param {(signal: AbortSignal) => Promise<T>} call
 * @param {number} ms
 * @returns {Promise<T>}
 */
async function withTimeout(call, ms) {
  const controller = new AbortController();
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const deadline = new Promise((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${ms} ms`));
      controller.abort();
    }, ms);
  });
  try {
    return /** @type {T} */ (await Promise.race([call(controller.signal), deadline]));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A one-line reason for a failure: the error's message, or its code when the message is empty
 * (Node's connection errors can be), followed by its cause (fetch puts the socket error there).
 * Errors are read by shape, not with instanceof: fetch's errors may come from another realm.
 * @param {unknown} err
 * @returns {string}
 */
function describeError(err) {
  if (typeof err !== "object" || err === null) return String(err);
  const e = /** @type {{ message?: unknown, code?: unknown, name?: unknown, errors?: unknown, cause?: unknown }} */ (err);
  const inner = Array.isArray(e.errors) && e.errors.length > 0 ? describeError(e.errors[0]) : "";
  const own =
    (typeof e.message === "string" && e.message) || inner || (typeof e.code === "string" && e.code) || String(e.name);
  return e.cause === undefined || e.cause === null ? own : `${own}: ${describeError(e.cause)}`;
}

module.exports = { createServer, withTimeout, describeError };
