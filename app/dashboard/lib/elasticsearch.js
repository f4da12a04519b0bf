"use strict";

/**
 * The Elasticsearch store: three read-only calls to its HTTP API with Node's built-in fetch.
 * Each call takes the abort signal of the server's timeout, so a hung request is cancelled.
 *
 * The time series are sensor readings in the index `sensor-readings`, one document a reading:
 *
 *   { "@timestamp": "2025-03-01T12:00:00Z", "building": "Main building",
 *     "sensor": "temperature-1", "value": 21.5, "unit": "°C" }
 *
 * `@timestamp` is an ISO 8601 date (Elasticsearch's dynamic mapping makes it a `date`), `value` a
 * number; `building`, `sensor` and `unit` are text, `unit` optional. The dashboard asks for the
 * readings of a time window with one search (a range filter on `@timestamp`, newest first, at
 * most MAX_READINGS of them) and groups them itself, so it needs no aggregation and no particular
 * mapping of the text fields.
 */

/** The index the readings are read from. */
const READINGS_INDEX = "sensor-readings";

/** The most readings one search returns (Elasticsearch's own limit, max_result_window, is 10000). */
const MAX_READINGS = 5000;

/**
 * What the server needs from an Elasticsearch store; tests hand in fakes.
 * @typedef {object} ElasticsearchStore
 * @property {(signal?: AbortSignal) => Promise<ClusterHealth>} clusterHealth GET /_cluster/health
 * @property {(signal?: AbortSignal) => Promise<IndexInfo[]>} indices GET /_cat/indices?format=json
 * @property {(window: TimeWindow, signal?: AbortSignal) => Promise<ReadingsResult>} readings
 *   POST /sensor-readings/_search: the readings of the window
 */

/**
 * A time window, in milliseconds since the epoch; both ends included.
 * @typedef {{ from: number, to: number }} TimeWindow
 */

/**
 * One sensor reading, as the dashboard uses it.
 * @typedef {object} Reading
 * @property {number} time milliseconds since the epoch
 * @property {string} building "" when the document names none
 * @property {string} sensor "" when the document names none
 * @property {number} value a finite number
 * @property {string} unit "" when the document gives none
 */

/**
 * @typedef {object} ReadingsResult
 * @property {number} total how many documents the window holds (may exceed readings.length)
 * @property {Reading[]} readings the newest of them, at most MAX_READINGS, oldest first
 * @property {number} skipped documents returned without a usable @timestamp or numeric value
 */

/**
 * The fields of Elasticsearch's cluster health the dashboard shows (it passes on the rest).
 * @typedef {{ cluster_name?: string, status?: string, number_of_nodes?: number,
 *   active_shards?: number, unassigned_shards?: number } & Record<string, unknown>} ClusterHealth
 */

/**
 * One row of `_cat/indices?format=json` (every value is a string there).
 * @typedef {{ index?: string, health?: string, status?: string, "docs.count"?: string,
 *   "store.size"?: string } & Record<string, unknown>} IndexInfo
 */

/** @typedef {(url: string, init: { method?: string, headers: Record<string, string>, body?: string, signal?: AbortSignal }) => Promise<{ ok: boolean, status: number, json(): Promise<unknown>, text(): Promise<string> }>} Fetch */

/**
 * @param {import("./config").ElasticsearchSettings} settings
 * @param {Fetch} [fetchImpl] the global fetch unless a test hands in another
 * @returns {ElasticsearchStore}
 */
function createElasticsearchStore(settings, fetchImpl) {
  /**
   * @param {string} path
   * @param {AbortSignal} [signal]
   * @param {unknown} [body] sent as JSON with POST (a search); GET without one
   * @returns {Promise<unknown>}
   */
  async function call(path, signal, body) {
    const method = body === undefined ? "GET" : "POST";
    /** @type {Record<string, string>} */
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (settings.authorization !== null) headers.authorization = settings.authorization;
    const doFetch = fetchImpl ?? /** @type {Fetch} */ (/** @type {unknown} */ (globalThis.fetch));
    const response = await doFetch(`${settings.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (!response.ok) {
      const text = (await response.text()).slice(0, 200);
      throw new Error(`Elasticsearch answered HTTP ${response.status} to ${method} ${path}: ${text}`);
    }
    return response.json();
  }

  return {
    async clusterHealth(signal) {
      const body = await call("/_cluster/health", signal);
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new Error("Elasticsearch answered GET /_cluster/health with something other than an object");
      }
      return /** @type {ClusterHealth} */ (body);
    },

    async indices(signal) {
      const body = await call("/_cat/indices?format=json", signal);
      if (!Array.isArray(body)) {
        throw new Error("Elasticsearch answered GET /_cat/indices with something other than a list");
      }
      return /** @type {IndexInfo[]} */ (body);
    },

    async readings(window, signal) {
      // ignore_unavailable: no index yet is no reading yet, not an error.
      const path = `/${READINGS_INDEX}/_search?ignore_unavailable=true`;
      const body = await call(path, signal, readingsQuery(window));
      return parseReadings(body, path);
    },
  };
}

/**
 * The search for the readings of a window: filter context (no scoring), newest first so that a
 * window holding more than MAX_READINGS keeps its latest ones, and an exact total.
 * `unmapped_type` lets an index that has no `@timestamp` yet answer with nothing, not an error.
 * @param {TimeWindow} window
 */
function readingsQuery({ from, to }) {
  return {
    size: MAX_READINGS,
    track_total_hits: true,
    query: {
      bool: {
        filter: [
          {
            range: {
              "@timestamp": {
                gte: new Date(from).toISOString(),
                lte: new Date(to).toISOString(),
                format: "strict_date_optional_time",
              },
            },
          },
        ],
      },
    },
    sort: [{ "@timestamp": { order: "desc", unmapped_type: "date" } }],
    _source: ["@timestamp", "building", "sensor", "value", "unit"],
  };
}

/**
 * The readings of a search answer, oldest first. A document without a usable time or a numeric
 * value is counted as skipped, not shown.
 * @param {unknown} body
 * @param {string} path for the error message
 * @returns {ReadingsResult}
 */
function parseReadings(body, path) {
  const hits = /** @type {{ hits?: { total?: unknown, hits?: unknown } } | null} */ (body)?.hits;
  if (hits === null || typeof hits !== "object" || !Array.isArray(hits.hits)) {
    throw new Error(`Elasticsearch answered POST ${path} without a list of hits`);
  }
  /** @type {Reading[]} */
  const readings = [];
  let skipped = 0;
  for (const hit of /** @type {Array<{ _source?: Record<string, unknown> } | null>} */ (hits.hits)) {
    const source = hit?._source ?? {};
    const time = toTime(source["@timestamp"]);
    const value = toNumber(source.value);
    if (time === null || value === null) {
      skipped += 1;
      continue;
    }
    readings.push({ time, value, building: toText(source.building), sensor: toText(source.sensor), unit: toText(source.unit) });
  }
  readings.sort((a, b) => a.time - b.time);
  // 7.x answers { value, relation }; with rest_total_hits_as_int (and in 6.x) a plain number.
  const rawTotal = hits.total;
  const total =
    typeof rawTotal === "number"
      ? rawTotal
      : typeof (/** @type {{ value?: unknown }} */ (rawTotal)?.value) === "number"
        ? /** @type {{ value: number }} */ (rawTotal).value
        : hits.hits.length;
  return { total, readings, skipped };
}

/** @param {unknown} raw an ISO 8601 date or epoch milliseconds */
function toTime(raw) {
  const time = typeof raw === "string" ? Date.parse(raw) : typeof raw === "number" ? raw : NaN;
  return Number.isFinite(time) ? time : null;
}

/** @param {unknown} raw a number, or a string holding one (as a document may give it) */
function toNumber(raw) {
  const value = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  return Number.isFinite(value) ? value : null;
}

/** @param {unknown} raw */
function toText(raw) {
  return typeof raw === "string" ? raw : typeof raw === "number" || typeof raw === "boolean" ? String(raw) : "";
}

module.exports = { createElasticsearchStore, readingsQuery, parseReadings, READINGS_INDEX, MAX_READINGS };
