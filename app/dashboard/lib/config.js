"use strict";

/**
 * The dashboard's settings, read once from the environment.
 *
 * The MySQL password is read only from the file named by MYSQL_PASSWORD_FILE (the stack uploads
 * it to /run/secrets/mysql_password): a password in an environment variable shows in
 * `docker inspect` and in every child process. A MySQL setting that is missing or unreadable
 * does not stop the server: MySQL is then reported as down with the reason, while the page,
 * the liveness check and Elasticsearch keep working.
 */

const DEFAULT_PASSWORD_FILE = "/run/secrets/mysql_password";

/**
 * @typedef {object} MysqlSettings
 * @property {string} host
 * @property {number} port
 * @property {string} user
 * @property {string} database
 * @property {string} password
 * @property {string} passwordFile where the password was read from
 * @property {string | null} problem why MySQL cannot be used (a missing setting or an unreadable
 *   password file), or null when the settings are complete; never contains the password
 */

/**
 * @typedef {object} ElasticsearchSettings
 * @property {string} url base URL without credentials and without a trailing slash
 * @property {string | null} authorization an `Authorization` header value when the configured
 *   URL carried credentials, else null
 */

/**
 * @typedef {object} Config
 * @property {number} port the HTTP port the dashboard listens on
 * @property {number} timeoutMs the longest any single store call may take
 * @property {MysqlSettings} mysql
 * @property {ElasticsearchSettings} elasticsearch
 * @property {string[]} warnings things worth a log line at start-up (never secrets)
 */

/**
 * The part of `fs` that readConfig needs, so tests can hand in a fake.
 * @typedef {{ readFileSync(path: string, encoding: "utf8"): string }} FileReader
 */

/** An error in a setting that makes starting the server pointless (a bad port, a bad URL). */
class ConfigError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Reads the settings.
 * @param {Record<string, string | undefined>} env usually process.env
 * @param {FileReader} fs usually require("fs")
 * @returns {Config}
 * @throws {ConfigError} when PORT, MYSQL_PORT, STORE_TIMEOUT_MS or ELASTICSEARCH_URL is invalid
 */
function readConfig(env, fs) {
  // Throughout, a variable set to the empty string counts as unset (hence `||`, not `??`).
  /** @type {string[]} */
  const warnings = [];
  if (env.MYSQL_PASSWORD !== undefined) {
    warnings.push(
      "MYSQL_PASSWORD is set in the environment and is ignored: the password is read only from MYSQL_PASSWORD_FILE",
    );
  }
  return {
    port: readInteger(env, "PORT", 3000, 0, 65535),
    timeoutMs: readInteger(env, "STORE_TIMEOUT_MS", 2000, 1, 60000),
    mysql: readMysqlSettings(env, fs),
    elasticsearch: readElasticsearchSettings(env.ELASTICSEARCH_URL || "http://elasticsearch:9200"),
    warnings,
  };
}

/**
 * @param {Record<string, string | undefined>} env
 * @param {FileReader} fs
 * @returns {MysqlSettings}
 */
function readMysqlSettings(env, fs) {
  const passwordFile = env.MYSQL_PASSWORD_FILE || DEFAULT_PASSWORD_FILE;
  const settings = {
    host: env.MYSQL_HOST || "mysql",
    port: readInteger(env, "MYSQL_PORT", 3306, 1, 65535),
    user: env.MYSQL_USER || "",
    database: env.MYSQL_DATABASE || "",
    password: "",
    passwordFile,
    /** @type {string | null} */
    problem: null,
  };
  const missing = ["MYSQL_USER", "MYSQL_DATABASE"].filter((name) => !env[name]);
  if (missing.length > 0) {
    settings.problem = `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set`;
    return settings;
  }
  try {
    // A trailing newline is how most tools write a one-line file; it is not part of the password.
    settings.password = fs.readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code ?? "unreadable";
    settings.problem = `the password file ${passwordFile} (MYSQL_PASSWORD_FILE) cannot be read: ${code}`;
    return settings;
  }
  if (settings.password === "") {
    settings.problem = `the password file ${passwordFile} (MYSQL_PASSWORD_FILE) is empty`;
  }
  return settings;
}

/**
 * Node's fetch refuses URLs with credentials, so they travel as a Basic `Authorization` header.
 * @param {string} raw
 * @returns {ElasticsearchSettings}
 */
function readElasticsearchSettings(raw) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`ELASTICSEARCH_URL is not a URL: ${redactUrl(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`ELASTICSEARCH_URL must be http:// or https://, got ${url.protocol}//`);
  }
  let authorization = null;
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { url: url.href.replace(/\/+$/, ""), authorization };
}

/**
 * A string that looked like a URL, with anything between `//` and `@` hidden.
 * @param {string} raw
 */
function redactUrl(raw) {
  return raw.replace(/\/\/[^/@]*@/, "//***@");
}

/**
 * @param {Record<string, string | undefined>} env
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 */
function readInteger(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

module.exports = { readConfig, ConfigError, DEFAULT_PASSWORD_FILE };
