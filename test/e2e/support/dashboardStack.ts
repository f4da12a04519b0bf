/**
 * The dashboard app beside its two stores on a real engine, started the way the dev stack
 * starts them: the MySQL stand-in (MariaDB, as `mysql`, with a schema from an init script) and
 * the Elasticsearch stand-in (as `elasticsearch`, with the dev stack's settings) on a
 * user-defined network, then the app image with the stack's settings and its password file,
 * published on a loopback port. Used by app.e2e.test.ts and dashboard-browser.e2e.test.ts; every
 * name is unique to the run and carries the run's label, so `remove` finds all of it.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { docker, dockerRun, imageId, LABEL, waitUntil } from "./docker";
import { IMAGES } from "./images";

export const APP_CONTEXT = path.join(__dirname, "..", "..", "..", "app");
export const MYSQL_USER = "BAS_DEV_RW";
export const MYSQL_DATABASE = "bas_dev";
export const SECRET_PATH = "/run/secrets/mysql_password";
/** What the stack's dev config gives Elasticsearch (components/elasticsearch.ts). */
export const ELASTICSEARCH_ENV = ["-e", "discovery.type=single-node", "-e", "ES_JAVA_OPTS=-Xms256m -Xmx512m -Dlog4j2.formatMsgNoLookups=true"];

export const INIT_SQL = `
CREATE TABLE buildings (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE TABLE sensors (
  id INT PRIMARY KEY,
  building_id INT NOT NULL,
  kind VARCHAR(50) NOT NULL,
  FOREIGN KEY (building_id) REFERENCES buildings (id)
);
INSERT INTO buildings VALUES (1, 'Main building');
`;

export interface Answer {
  status: number;
  text: string;
  json: () => any;
}

export async function get(url: string): Promise<Answer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

export class DashboardStack {
  /** Unique to this run, so a leftover of another run can never clash. */
  readonly runId = `${Date.now().toString(36)}-${process.pid}`;
  readonly runLabel = `${LABEL}.run=${this.runId}`;
  readonly names: { network: string; mysql: string; elasticsearch: string; app: string; appImage: string };
  readonly password = crypto.randomBytes(18).toString("base64url");
  readonly rootPassword = crypto.randomBytes(18).toString("base64url");
  /** A folder of this run (made by `startStores`), removed by `remove`. */
  temp = "";
  /** The app's copy of the MySQL password, as the stack uploads it (uid 1000, mode 400). */
  appSecret = "";
  /** The app's URL on the host, once `startApp` has run. */
  baseUrl = "";
  /** Elasticsearch's URL on the host, when `startStores` published it. */
  elasticsearchUrl = "";

  /** @param prefix of every name, such as `sb-e2e` */
  constructor(private readonly prefix: string) {
    const base = `${prefix}-${this.runId}`;
    this.names = {
      network: base,
      mysql: `${base}-mysql`,
      elasticsearch: `${base}-elasticsearch-standin`,
      app: `${base}-app`,
      appImage: `${prefix}/app:${this.runId}`,
    };
  }

  /**
   * The secrets and the init script, the network, and both stores (not waited for).
   * @param publishElasticsearch also publish 9200 on a loopback port (as the dev stack publishes it)
   */
  async startStores({ publishElasticsearch = false } = {}): Promise<void> {
    this.temp = fs.mkdtempSync(path.join(os.tmpdir(), `${this.prefix}-`));
    this.appSecret = path.join(this.temp, "secrets", "app_mysql_password");
    const secrets = path.join(this.temp, "secrets");
    const initdb = path.join(this.temp, "initdb");
    fs.mkdirSync(secrets);
    fs.mkdirSync(initdb);
    fs.writeFileSync(path.join(secrets, "mysql_root_password"), this.rootPassword, { mode: 0o400 });
    fs.writeFileSync(path.join(secrets, "mysql_password"), this.password, { mode: 0o400 });
    fs.writeFileSync(path.join(initdb, "01-schema.sql"), INIT_SQL);
    // As the stack uploads it: owned by the app's user (uid 1000), readable by it alone.
    fs.writeFileSync(this.appSecret, `${this.password}\n`, { mode: 0o400 });
    fs.chownSync(this.appSecret, 1000, 1000);

    await docker(["network", "create", "--label", this.runLabel, this.names.network]);
    await this.runContainer(this.names.mysql, [
      "--network-alias", "mysql",
      "-e", "MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_root_password",
      "-e", "MYSQL_PASSWORD_FILE=/run/secrets/mysql_password",
      "-e", `MYSQL_USER=${MYSQL_USER}`,
      "-e", `MYSQL_DATABASE=${MYSQL_DATABASE}`,
      "-v", `${secrets}/mysql_root_password:/run/secrets/mysql_root_password:ro`,
      "-v", `${secrets}/mysql_password:/run/secrets/mysql_password:ro`,
      "-v", `${initdb}:/docker-entrypoint-initdb.d:ro`,
      IMAGES.mysql,
    ]);
    await this.runContainer(this.names.elasticsearch, [
      "--network-alias", "elasticsearch",
      ...(publishElasticsearch ? ["-p", "127.0.0.1::9200"] : []),
      ...ELASTICSEARCH_ENV,
      IMAGES.elasticsearch,
    ]);
    if (publishElasticsearch) this.elasticsearchUrl = await this.publishedUrl(this.names.elasticsearch, "9200/tcp");
    await waitUntil("the Elasticsearch stand-in answering", 60_000, async () =>
      JSON.parse(await this.elasticsearchCall("GET", "/_cluster/health?wait_for_status=yellow&timeout=5s")) as unknown,
    );
  }

  /** Runs the app image with the stack's settings (not before MySQL is ready: it must cope) and waits for /health 200. */
  async startApp(image = this.names.appImage): Promise<string> {
    await this.runContainer(this.names.app, [...this.appArgs(), image]);
    this.baseUrl = await this.publishedUrl(this.names.app);
    try {
      await waitUntil("the app's /health answering 200", 180_000, async () =>
        (await get(`${this.baseUrl}/health`)).status === 200 ? true : undefined,
      );
    } catch (err) {
      const logs = await Promise.all([this.names.mysql, this.names.elasticsearch, this.names.app].map((c) => this.logsOf(c)));
      throw new Error(`${String(err)}\n${logs.join("\n")}`);
    }
    return this.baseUrl;
  }

  /** Runs a container of this run on its network; returns its name. */
  async runContainer(name: string, args: string[]): Promise<string> {
    await docker(["run", "-d", "--name", name, "--label", this.runLabel, "--network", this.names.network, ...args]);
    return name;
  }

  /** The app container's settings, as the stack gives them. */
  appArgs(): string[] {
    return [
      "-p", "127.0.0.1::3000",
      "-e", `MYSQL_USER=${MYSQL_USER}`,
      "-e", `MYSQL_DATABASE=${MYSQL_DATABASE}`,
      "-e", `MYSQL_PASSWORD_FILE=${SECRET_PATH}`,
      "-v", `${this.appSecret}:${SECRET_PATH}:ro`,
    ];
  }

  /** `curl` inside the Elasticsearch stand-in (the image ships it, as the real one does). */
  elasticsearchCall(method: string, urlPath: string, body?: unknown): Promise<string> {
    const data = body === undefined ? [] : ["-H", "content-type: application/json", "--data", JSON.stringify(body)];
    return docker(["exec", this.names.elasticsearch, "curl", "--fail", "--silent", "--show-error", "-X", method, ...data, `http://127.0.0.1:9200${urlPath}`]);
  }

  /** The host URL of a container's published loopback port. */
  async publishedUrl(container: string, port = "3000/tcp"): Promise<string> {
    const mapping = (await docker(["port", container, port])).split("\n")[0];
    return `http://127.0.0.1:${mapping.split(":").pop()}`;
  }

  async logsOf(container: string): Promise<string> {
    const logs = await dockerRun(["logs", "--tail", "40", container]);
    return `--- ${container}\n${logs.stdout}${logs.stderr}`;
  }

  /** Every container and the network of this run, the given images, and the temporary folder. */
  async remove(images: string[] = [this.names.appImage]): Promise<void> {
    const containers = (await docker(["ps", "-aq", "--filter", `label=${this.runLabel}`])).split("\n").filter(Boolean);
    // -v: MariaDB's data directory is an anonymous volume.
    if (containers.length > 0) await dockerRun(["rm", "-f", "-v", ...containers]);
    await dockerRun(["network", "rm", this.names.network]);
    for (const image of images) {
      if ((await imageId(image)) !== null) await dockerRun(["rmi", image]);
    }
    if (this.temp) fs.rmSync(this.temp, { recursive: true, force: true });
  }
}
