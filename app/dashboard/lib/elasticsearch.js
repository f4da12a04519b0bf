"use strict";

/**
 * The Elasticsearch store: two read-only calls to its HTTP API with Node's built-in fetch.
 * Each call takes the abort signal of the server's timeout, so a hung request is cancelled.
 */

/**
 * What the server needs from an Elasticsearch store; tests hand in fakes.
 * @typedef {object} ElasticsearchStore
 * @property {(signal?: AbortSignal) => Promise<ClusterHealth>} clusterHealth GET /_cluster/health
 * @property {(signal?: AbortSignal) => Promise<IndexInfo[]>} indices GET /_cat/indices?format=json
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

/** @typedef {(url: string, init: { headers: Record<string, string>, signal?: AbortSignal }) => Promise<{ ok: boolean, status: number, json(): Promise<unknown>, text(): Promise<string> }>} Fetch */

/**
 * @param {import("./config").ElasticsearchSettings} settings
 * @param {Fetch} [fetchImpl] the global fetch unless a test hands in another
 * @returns {ElasticsearchStore}
 */
function createElasticsearchStore(settings, fetchImpl) {
  /**
   * @param {string} path
   * @param {AbortSignal} [signal]
   * @returns {Promise<unknown>}
   */
  async function get(path, signal) {
    /** @type {Record<string, string>} */
    const headers = { accept: "application/json" };
    if (settings.authorization !== null) headers.authorization = settings.authorization;
    const doFetch = fetchImpl ?? /** @type {Fetch} */ (/** @type {unknown} */ (globalThis.fetch));
    const response = await doFetch(`${settings.url}${path}`, { headers, signal });
    if (!response.ok) {
      const body = (await response.text()).slice(0, 200);
      throw new Error(`Elasticsearch answered HTTP ${response.status} to GET ${path}: ${body}`);
    }
    return response.json();
  }

  return {
    async clusterHealth(signal) {
      const body = await get("/_cluster/health", signal);
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new Error("Elasticsearch answered GET /_cluster/health with something other than an object");
      }
      return /** @type {ClusterHealth} */ (body);
    },

    async indices(signal) {
      const body = await get("/_cat/indices?format=json", signal);
      if (!Array.isArray(body)) {
        throw new Error("Elasticsearch answered GET /_cat/indices with something other than a list");
      }
      return /** @type {IndexInfo[]} */ (body);
    },
  };
}

module.exports = { createElasticsearchStore };
