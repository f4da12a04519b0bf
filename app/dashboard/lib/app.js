"use strict";

/**
 * Wires the dashboard together: settings -> stores -> HTTP server, and the way back down.
 * start.js calls this with the real process; tests call it with fakes and port 0.
 */

const { readConfig } = require("./config");
const { createMysqlStore } = require("./mysql");
const { createElasticsearchStore } = require("./elasticsearch");
const { createServer } = require("./server");

/**
 * @typedef {object} AppDependencies
 * @property {Record<string, string | undefined>} env
 * @property {import("./config").FileReader} fs
 * @property {import("./server").Logger} log
 * @property {import("./mysql").CreatePool} [createPool] mysql2's createPool by default
 * @property {import("./elasticsearch").Fetch} [fetch] the global fetch by default
 * @property {string} [host] the address to listen on; all interfaces by default
 */

/**
 * @typedef {object} RunningApp
 * @property {import("http").Server} server
 * @property {number} port the port actually listened on (PORT=0 picks a free one)
 * @property {() => Promise<void>} stop stops accepting requests, lets the ones in flight finish
 *   and closes the MySQL pool; calling it again returns the same promise
 */

/**
 * @param {AppDependencies} deps
 * @returns {Promise<RunningApp>}
 * @throws {import("./config").ConfigError} on an invalid setting
 */
async function startApp({ env, fs, log, createPool, fetch, host }) {
  const config = readConfig(env, fs);
  for (const warning of config.warnings) log.warn(warning);

  const mysql = createMysqlStore(config.mysql, config.timeoutMs, createPool);
  const elasticsearch = createElasticsearchStore(config.elasticsearch, fetch);
  const server = createServer({ mysql, elasticsearch, timeoutMs: config.timeoutMs, log });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, host, () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;

  const m = config.mysql;
  log.info(`listening on port ${port}`);
  if (m.problem === null) {
    log.info(`MySQL: ${m.user}@${m.host}:${m.port}/${m.database}, password read from ${m.passwordFile}`);
  } else {
    log.warn(`MySQL will be reported as down: ${m.problem}`);
  }
  log.info(`Elasticsearch: ${config.elasticsearch.url}`);

  /** @type {Promise<void> | null} */
  let stopping = null;
  return {
    server,
    port,
    stop() {
      stopping ??= Promise.all([
        new Promise((resolve) => {
          server.close(() => resolve(undefined));
          // Idle keep-alive connections would hold close() open (Node 18 does not drop them itself).
          server.closeIdleConnections();
        }),
        mysql.close(),
      ]).then(() => undefined);
      return stopping;
    },
  };
}

/**
 * One line per message, with time and level, on the given stream (stdout in the container, so
 * `docker logs` shows it).
 * @param {{ write(text: string): unknown }} stream
 * @returns {import("./server").Logger}
 */
function createLogger(stream) {
  /** @param {string} level */
  const line = (level) => (/** @type {string} */ message) => {
    stream.write(`${new Date().toISOString()} ${level} ${message}\n`);
  };
  return { info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
}

module.exports = { startApp, createLogger };
