/**
 * The dashboard image against a real Docker engine: built from app/Dockerfile on a local Node
 * base, run beside the MySQL stand-in (MariaDB, as `mysql`) and the Elasticsearch stand-in (as
 * `elasticsearch`, holding one index of sensor readings) on a user-defined network, and checked
 * through its published port.
 *
 * Without an engine (`docker info` fails) the suite is skipped with a message; run
 * test/e2e/ensure-engine.sh to get one.
 */
import fs from "fs";
import path from "path";
import { docker, dockerRun, engineAnswers, inspect, waitUntil } from "./support/docker";
import { APP_CONTEXT, Answer, DashboardStack, get as getUrl, SECRET_PATH } from "./support/dashboardStack";
import { Build, buildApp, ensureBaseImages, IMAGES, Prepared } from "./support/images";

/** Readings put into the stand-in, in an index without replicas (so green on one node). */
const READINGS = [
  { sensor: "temperature-1", value: 21.5 },
  { sensor: "temperature-2", value: 22.1 },
  { sensor: "humidity-1", value: 48 },
];

const engine = engineAnswers();
if (!engine.ok) {
  console.warn(`e2e: skipping the dashboard's Docker tests, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
}
const describeWithEngine = engine.ok ? describe : describe.skip;

const stack = new DashboardStack("sb-e2e");
const names = {
  ...stack.names,
  appBound: `${stack.names.app}-bound`,
  rebuiltImage: `${stack.names.appImage}-rebuilt`,
};
const password = stack.password;

let bases: Prepared[] = [];
let basesSeconds = 0;
let firstBuild: Build | undefined;
let rebuild: Build | undefined;

function get(urlPath: string, url = stack.baseUrl): Promise<Answer> {
  return getUrl(`${url}${urlPath}`);
}

async function seedReadings(): Promise<void> {
  await stack.elasticsearchCall("PUT", "/sensor-readings", { settings: { number_of_replicas: 0 } });
  for (const [i, reading] of READINGS.entries()) await stack.elasticsearchCall("PUT", `/sensor-readings/_doc/${i + 1}`, reading);
}

/** Image layers (digests of their content) in order. */
async function layers(image: string): Promise<string[]> {
  return (await inspect("image", image)).RootFS.Layers;
}

describeWithEngine(`the dashboard image on a real Docker engine (${engine.reason})`, () => {
  beforeAll(async () => {
    const basesStarted = Date.now();
    bases = await ensureBaseImages();
    basesSeconds = (Date.now() - basesStarted) / 1000;
    firstBuild = await buildApp(APP_CONTEXT, names.appImage);
    await stack.startStores();
    await seedReadings();
    // Started at once, before MySQL is ready: the app must report it down, then up.
    await stack.startApp();
  }, 900_000);

  afterAll(async () => {
    await stack.remove([names.rebuiltImage, names.appImage]);

    const base = bases.map((b) => `${b.tag} ${b.reused ? "reused" : `built in ${b.seconds.toFixed(1)} s`}`).join(", ");
    console.log(
      [
        "e2e timings:",
        `  base images (${basesSeconds.toFixed(1)} s in all, independent ones built side by side): ${base}`,
        `  first app build: ${firstBuild ? `${firstBuild.seconds.toFixed(1)} s` : "not done"}`,
        `  rebuild after a start.js change: ${rebuild ? `${rebuild.seconds.toFixed(1)} s` : "not done"}`,
      ].join("\n"),
    );
  }, 120_000);

  it("answers /health with 200 and both stores up, through the published port", async () => {
    const answer = await get("/health");
    expect(answer.status).toBe(200);
    const body = answer.json();
    expect(body.status).toBe("ok");
    expect(body.mysql.up).toBe(true);
    expect(body.mysql.message).toMatch(/^BAS_DEV_RW@mysql:3306\/bas_dev answers \(server .*MariaDB.*\)$/);
    expect(body.elasticsearch).toEqual({ up: true, message: "cluster docker-cluster is green" });
  });

  it("lists, through /api/mysql/tables, the tables the init SQL created", async () => {
    const answer = await get("/api/mysql/tables");
    expect(answer.status).toBe(200);
    const body = answer.json();
    expect(body.database).toBe("bas_dev");
    expect(body.tables.map((t: { name: string }) => t.name)).toEqual(["buildings", "sensors"]);
  });

  it("passes on the Elasticsearch stand-in's cluster health and the index it holds", async () => {
    const health = await get("/api/elasticsearch/health");
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ cluster_name: "docker-cluster", status: "green", number_of_nodes: 1 });
    const indices = await get("/api/elasticsearch/indices");
    expect(indices.status).toBe(200);
    expect(indices.json()).toEqual([
      expect.objectContaining({ index: "sensor-readings", health: "green", "docs.count": String(READINGS.length) }),
    ]);
  });

  it("serves the page with both stores up, their tables and their indices", async () => {
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.text).toContain('<p class="state up"><strong>up</strong> 2 table(s) in bas_dev</p>');
    expect(page.text).toContain("<td>buildings</td>");
    expect(page.text).toContain('<p class="state up"><strong>up</strong> cluster docker-cluster is green</p>');
    expect(page.text).toContain("<td>sensor-readings</td>");
    // The stand-in answers the page's search: these readings have no @timestamp, so none is drawn.
    expect(page.text).toContain("<h3>Sensor readings, last 24 hours</h3>\n<p class=\"empty\">No reading in the last 24 hours.");
  });

  it("runs as the non-root user node (uid 1000), who cannot change the app's code or dependencies", async () => {
    expect((await inspect("image", names.appImage)).Config.User).toBe("node");
    expect(await docker(["exec", names.app, "id", "-u"])).toBe("1000");
    for (const target of [
      "/home/elmkarim/dashboard/start.js",
      "/home/elmkarim/dashboard/new-file",
      "/home/elmkarim/node_modules/mysql2/index.js",
      "/home/elmkarim/package.json",
    ]) {
      const write = await dockerRun(["exec", names.app, "sh", "-c", `echo x >> ${target}`]);
      expect({ target, writable: write.code === 0 }).toEqual({ target, writable: false });
    }
  });

  it("keeps the MySQL password out of docker inspect and the logs; the app reads it from its file", async () => {
    const container = await inspect("container", names.app);
    const image = await inspect("image", names.appImage);
    expect(JSON.stringify(container)).not.toContain(password);
    expect(JSON.stringify(image)).not.toContain(password);
    const env: string[] = container.Config.Env;
    expect(env).toContain(`MYSQL_PASSWORD_FILE=${SECRET_PATH}`);
    expect(env.filter((e) => e.startsWith("MYSQL_PASSWORD="))).toEqual([]);
    expect(await docker(["exec", names.app, "stat", "-c", "%u %a", SECRET_PATH])).toBe("1000 400");
    const logs = await dockerRun(["logs", names.app]);
    expect(logs.stdout).toContain(`password read from ${SECRET_PATH}`);
    expect(logs.stdout + logs.stderr).not.toContain(password);
  });

  it("ships the production dependencies of app/package-lock.json only, and no npm cache", async () => {
    const lock = JSON.parse(fs.readFileSync(path.join(APP_CONTEXT, "package-lock.json"), "utf8"));
    const expected = Object.entries(lock.packages as Record<string, { dev?: boolean; peer?: boolean }>)
      .filter(([key, pkg]) => key.startsWith("node_modules/") && !pkg.dev && !pkg.peer)
      .map(([key]) => key.slice("node_modules/".length))
      .sort();
    expect(expected).toContain("mysql2");

    const listInstalled = [
      "const fs = require('fs'); const root = '/home/elmkarim/node_modules'; const names = [];",
      "for (const e of fs.readdirSync(root)) { if (e.startsWith('.')) continue;",
      "  if (e.startsWith('@')) { for (const s of fs.readdirSync(root + '/' + e)) names.push(e + '/' + s); } else names.push(e); }",
      "console.log(JSON.stringify({ names: names.sort(), env: process.env.NODE_ENV,",
      "  caches: ['/root/.npm', '/home/node/.npm'].filter((p) => fs.existsSync(p)) }));",
    ].join("\n");
    const found = JSON.parse(await docker(["run", "--rm", "--user", "root", names.appImage, "node", "-e", listInstalled]));
    expect(found).toEqual({ names: expected, env: "production", caches: [] });

    // What the app adds to its base: the dependencies (about 2 MB) and the code, nothing more.
    const added = (await inspect("image", names.appImage)).Size - (await inspect("image", IMAGES.node)).Size;
    expect(added).toBeLessThan(10 * 1024 * 1024);
  });

  it("is reported healthy by the health check built into the image", async () => {
    const status = await waitUntil("the app container turning healthy", 90_000, async () => {
      const state = (await inspect("container", names.app)).State;
      return state.Health?.Status === "healthy" ? state.Health.Status : undefined;
    });
    expect(status).toBe("healthy");
  });

  it("still finds its dependencies with the host's dashboard folder bound over the workdir, as in the dev stack", async () => {
    await stack.runContainer(names.appBound, [
      ...stack.appArgs(),
      "-v", `${path.join(APP_CONTEXT, "dashboard")}:/home/elmkarim/dashboard:ro`,
      names.appImage,
    ]);
    const url = await stack.publishedUrl(names.appBound);
    const tables = await waitUntil("the bound app answering", 60_000, async () => {
      const answer = await get("/api/mysql/tables", url);
      return answer.status === 200 ? answer.json() : undefined;
    });
    expect(tables.tables.map((t: { name: string }) => t.name)).toEqual(["buildings", "sensors"]);
    await docker(["rm", "-f", names.appBound]);
  });

  it("reuses the dependency layer from the build cache when only dashboard/start.js changed", async () => {
    const context = path.join(stack.temp, "app-context");
    fs.cpSync(APP_CONTEXT, context, { recursive: true, filter: (source) => !source.includes(`${path.sep}node_modules`) });
    fs.appendFileSync(path.join(context, "dashboard", "start.js"), "// changed for the rebuild test\n");
    rebuild = await buildApp(context, names.rebuiltImage);

    // The legacy builder says "Using cache" under the step, BuildKit "CACHED" on it.
    expect(rebuild.output).toMatch(/RUN npm ci[^\n]*\n(?: [^\n]*\n)*? ---> Using cache|CACHED[^\n]*RUN npm ci/);
    const before = await layers(names.appImage);
    const after = await layers(names.rebuiltImage);
    expect(after).toHaveLength(before.length);
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(after[after.length - 1]).not.toBe(before[before.length - 1]);
  });

  it("answers /health with 503 naming Elasticsearch once the stand-in stops, and keeps serving", async () => {
    await docker(["stop", "-t", "5", names.elasticsearch]);
    expect((await inspect("container", names.elasticsearch)).State.ExitCode).toBe(0);
    const health = await get("/health");
    expect(health.status).toBe(503);
    expect(health.json().mysql.up).toBe(true);
    expect(health.json().elasticsearch.up).toBe(false);
    expect(health.json().elasticsearch.message).toMatch(/^Elasticsearch is unavailable: /);
    const api = await get("/api/elasticsearch/indices");
    expect(api.status).toBe(503);
    expect(api.json().error).toBe("elasticsearch_unavailable");
    expect((await get("/health/live")).status).toBe(200);
    expect((await get("/")).status).toBe(200);
  });

  it("answers /api/mysql/tables with 503 and the reason once MySQL stops too", async () => {
    await docker(["stop", "-t", "20", names.mysql]);
    expect((await inspect("container", names.mysql)).State.ExitCode).toBe(0);
    const started = Date.now();
    const tables = await get("/api/mysql/tables");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(tables.status).toBe(503);
    expect(tables.json()).toEqual({ error: "mysql_unavailable", message: expect.stringMatching(/^MySQL is unavailable: .+/) });
    expect((await get("/health/live")).status).toBe(200);
  });

  it("stops cleanly and at once on docker stop (SIGTERM), with exit code 0", async () => {
    const started = Date.now();
    await docker(["stop", "-t", "20", names.app]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await inspect("container", names.app)).State.ExitCode).toBe(0);
    expect((await dockerRun(["logs", names.app])).stdout).toContain("SIGTERM received");
  });
});
