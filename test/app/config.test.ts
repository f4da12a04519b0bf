import { ConfigError, DEFAULT_PASSWORD_FILE, readConfig } from "../../app/dashboard/lib/config";

/** A file system holding only the given files; it records what was read. */
function files(contents: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    readFileSync(path: string): string {
      reads.push(path);
      if (!(path in contents)) {
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
      }
      return contents[path];
    },
  };
}

const SECRET_FILE = "/run/secrets/mysql_password";
const complete = { MYSQL_USER: "BAS_DEV_RW", MYSQL_DATABASE: "bas_dev", MYSQL_PASSWORD_FILE: SECRET_FILE };

describe("readConfig", () => {
  it("uses the guide's service names and ports when nothing else is set", () => {
    const config = readConfig({ MYSQL_USER: "u", MYSQL_DATABASE: "d" }, files({ [SECRET_FILE]: "pw" }));
    expect(config.port).toBe(3000);
    expect(config.timeoutMs).toBe(2000);
    expect(config.mysql).toMatchObject({ host: "mysql", port: 3306, passwordFile: SECRET_FILE, problem: null });
    expect(config.elasticsearch).toEqual({ url: "http://elasticsearch:9200", authorization: null });
    expect(config.warnings).toEqual([]);
    expect(DEFAULT_PASSWORD_FILE).toBe(SECRET_FILE);
  });

  it("takes every setting from the environment when given", () => {
    const config = readConfig(
      {
        PORT: "8080",
        STORE_TIMEOUT_MS: "500",
        MYSQL_HOST: "db.internal",
        MYSQL_PORT: "3307",
        MYSQL_USER: "reader",
        MYSQL_DATABASE: "model",
        MYSQL_PASSWORD_FILE: "/secrets/db",
        ELASTICSEARCH_URL: "https://search.internal:9243/",
      },
      files({ "/secrets/db": "s3cret" }),
    );
    expect(config.port).toBe(8080);
    expect(config.timeoutMs).toBe(500);
    expect(config.mysql).toEqual({
      host: "db.internal",
      port: 3307,
      user: "reader",
      database: "model",
      password: "s3cret",
      passwordFile: "/secrets/db",
      problem: null,
    });
    expect(config.elasticsearch.url).toBe("https://search.internal:9243");
  });

  it("reads the password from MYSQL_PASSWORD_FILE, without the file's trailing newline", () => {
    const fs = files({ [SECRET_FILE]: "p@ss word \n" });
    const config = readConfig(complete, fs);
    expect(config.mysql.password).toBe("p@ss word ");
    expect(fs.reads).toEqual([SECRET_FILE]);
  });

  it("ignores MYSQL_PASSWORD from the environment and warns about it without repeating it", () => {
    const config = readConfig({ ...complete, MYSQL_PASSWORD: "from-env" }, files({ [SECRET_FILE]: "from-file" }));
    expect(config.mysql.password).toBe("from-file");
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toContain("MYSQL_PASSWORD is set in the environment and is ignored");
    expect(config.warnings.join("\n")).not.toContain("from-env");
  });

  it("does not fall back to MYSQL_PASSWORD when the password file is missing", () => {
    const config = readConfig({ ...complete, MYSQL_PASSWORD: "from-env" }, files({}));
    expect(config.mysql.password).toBe("");
    expect(config.mysql.problem).toBe(
      "the password file /run/secrets/mysql_password (MYSQL_PASSWORD_FILE) cannot be read: ENOENT",
    );
  });

  it("reports an unreadable password file as a problem instead of throwing", () => {
    const fs = {
      readFileSync(): string {
        throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      },
    };
    const config = readConfig(complete, fs);
    expect(config.mysql.problem).toBe(
      "the password file /run/secrets/mysql_password (MYSQL_PASSWORD_FILE) cannot be read: EACCES",
    );
  });

  it("reports an empty password file as a problem", () => {
    const config = readConfig(complete, files({ [SECRET_FILE]: "\n" }));
    expect(config.mysql.problem).toBe("the password file /run/secrets/mysql_password (MYSQL_PASSWORD_FILE) is empty");
  });

  it.each<[Record<string, string>, string]>([
    [{ MYSQL_DATABASE: "d" }, "MYSQL_USER is not set"],
    [{ MYSQL_USER: "u" }, "MYSQL_DATABASE is not set"],
    [{}, "MYSQL_USER and MYSQL_DATABASE are not set"],
  ])("reports missing MySQL settings in %p as %p, without reading the password", (env, problem) => {
    const fs = files({ [SECRET_FILE]: "pw" });
    const config = readConfig(env, fs);
    expect(config.mysql.problem).toBe(problem);
    expect(config.mysql.password).toBe("");
    expect(fs.reads).toEqual([]);
  });

  it.each<[string, string, RegExp]>([
    ["PORT", "http", /^PORT must be an integer from 0 to 65535, got "http"$/],
    ["PORT", "70000", /^PORT must be an integer/],
    ["PORT", "-1", /^PORT must be an integer/],
    ["MYSQL_PORT", "0", /^MYSQL_PORT must be an integer from 1 to 65535/],
    ["MYSQL_PORT", "3306.5", /^MYSQL_PORT must be an integer/],
    ["STORE_TIMEOUT_MS", "0", /^STORE_TIMEOUT_MS must be an integer from 1 to 60000/],
  ])("rejects %s=%p with an error naming the variable", (name, value, message) => {
    const read = () => readConfig({ ...complete, [name]: value }, files({ [SECRET_FILE]: "pw" }));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(message);
  });

  it("moves credentials in ELASTICSEARCH_URL into an Authorization header", () => {
    const config = readConfig({ ...complete, ELASTICSEARCH_URL: "http://elastic:ch%40nge@es:9200" }, files({ [SECRET_FILE]: "pw" }));
    expect(config.elasticsearch.url).toBe("http://es:9200");
    expect(config.elasticsearch.authorization).toBe(`Basic ${Buffer.from("elastic:ch@nge").toString("base64")}`);
  });

  it.each<[string, RegExp]>([
    ["not a url", /^ELASTICSEARCH_URL is not a URL: not a url$/],
    ["ftp://es:21", /^ELASTICSEARCH_URL must be http:\/\/ or https:\/\/, got ftp:\/\/$/],
  ])("rejects ELASTICSEARCH_URL=%p", (url, message) => {
    expect(() => readConfig({ ...complete, ELASTICSEARCH_URL: url }, files({ [SECRET_FILE]: "pw" }))).toThrow(message);
  });

  it("hides credentials when it rejects a malformed ELASTICSEARCH_URL", () => {
    const read = () => readConfig({ ...complete, ELASTICSEARCH_URL: "http://elastic:hunter2@[bad" }, files({}));
    expect(read).toThrow("ELASTICSEARCH_URL is not a URL: http://***@[bad");
    expect(read).not.toThrow(/hunter2/);
  });
});
