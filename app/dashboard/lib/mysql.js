"use strict";

/**
 * The MySQL store: a small connection pool (mysql2) and the two read-only queries the
 * dashboard makes. Every call is also bounded by the server's timeout (see server.js); the
 * driver's own connect and query timeouts make sure an abandoned call frees its connection.
 */

/**
 * @typedef {object} TableInfo
 * @property {string} name
 * @property {string} type "BASE TABLE", "VIEW", ...
 * @property {number | null} approximateRows the server's estimate (InnoDB does not count exactly)
 */

/**
 * What the server needs from a MySQL store; tests hand in fakes.
 * @typedef {object} MysqlStore
 * @property {string} database the configured database (shown on the page)
 * @property {(signal?: AbortSignal) => Promise<string>} ping a short description of the server
 * @property {(signal?: AbortSignal) => Promise<TableInfo[]>} listTables tables of the database
 * @property {() => Promise<void>} close releases the pool
 */

/**
 * The part of mysql2's pool used here.
 * @typedef {object} Pool
 * @property {(options: { sql: string, values?: unknown[], timeout?: number }) => Promise<[unknown, unknown]>} query
 * @property {() => Promise<void>} end
 */

/** @typedef {(options: import("mysql2/promise").PoolOptions) => Pool} CreatePool */

const TABLES_SQL =
  "SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_ROWS AS approximateRows " +
  "FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME";

/**
 * @param {import("./config").MysqlSettings} settings
 * @param {number} timeoutMs
 * @param {CreatePool} [createPool] mysql2's createPool unless a test hands in another
 * @returns {MysqlStore}
 */
function createMysqlStore(settings, timeoutMs, createPool) {
  /** @type {Pool | null} */
  let pool = null;

  /** The pool is made on first use, so a misconfigured store never opens a socket. */
  function getPool() {
    if (settings.problem !== null) {
      throw new Error(`MySQL is not configured: ${settings.problem}`);
    }
    if (pool === null) {
      const make = createPool ?? /** @type {CreatePool} */ (require("mysql2/promise").createPool);
      pool = make({
        host: settings.host,
        port: settings.port,
        user: settings.user,
        password: settings.password,
        database: settings.database,
        connectionLimit: 4,
        connectTimeout: timeoutMs,
        enableKeepAlive: true,
      });
    }
    return pool;
  }

  return {
    database: settings.database,

    async ping() {
      const [rows] = await getPool().query({ sql: "SELECT VERSION() AS version", timeout: timeoutMs });
      const version = /** @type {Array<{ version: string }>} */ (rows)[0]?.version ?? "unknown version";
      return `${settings.user}@${settings.host}:${settings.port}/${settings.database} answers (server ${version})`;
    },

    async listTables() {
      const [rows] = await getPool().query({ sql: TABLES_SQL, values: [settings.database], timeout: timeoutMs });
      return /** @type {Array<{ name: string, type: string, approximateRows: unknown }>} */ (rows).map((row) => ({
        name: String(row.name),
        type: String(row.type),
        approximateRows: row.approximateRows === null ? null : Number(row.approximateRows),
      }));
    },

    async close() {
      const current = pool;
      pool = null;
      if (current !== null) await current.end();
    },
  };
}

module.exports = { createMysqlStore, TABLES_SQL };
