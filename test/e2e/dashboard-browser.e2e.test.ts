/**
 * The dashboard page in a real browser: the app image beside the MySQL and Elasticsearch
 * stand-ins (started as app.e2e.test.ts starts them, support/dashboardStack.ts), a day of sensor
 * readings put into Elasticsearch, and the page opened in Debian's Chromium (headless, driven by
 * playwright-core) as a person would open it. It checks what that person sees: the headings, each
 * store up, a chart per sensor with a point per reading of the last 24 hours placed by time and
 * value, names from the stores shown as text; no request leaving the app; then, with
 * Elasticsearch stopped, its message where the charts were, and MySQL's once it stops too. The
 * page with both stores up is saved to reports/dashboard.png (docs/dashboard.png with
 * SAVE_DOCS_SCREENSHOT=true), which docs/dashboard.md shows.
 *
 * Without a Docker engine the suite is skipped, like the other real-engine suites. Without
 * Chromium it fails: test/e2e/ensure-engine.sh installs it (Debian's `chromium`).
 */
import fs from "fs";
import os from "os";
import path from "path";
import { BrowserContext, chromium, Page } from "playwright-core";
import { docker, engineAnswers, inspect, waitUntil } from "./support/docker";
import { APP_CONTEXT, DashboardStack } from "./support/dashboardStack";
import { Build, buildApp } from "./support/images";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/**
 * Where the screenshot goes: reports/ (ignored by git) on every run, so that a test run leaves
 * the working copy as it was; docs/dashboard.png when SAVE_DOCS_SCREENSHOT=true (to refresh
 * what the docs show).
 */
const SCREENSHOT = path.join(__dirname, "..", "..", process.env.SAVE_DOCS_SCREENSHOT === "true" ? "docs" : "reports", "dashboard.png");
const SCREENSHOT_MAX_BYTES = 200 * 1024;
const HOUR = 3_600_000;

interface Seed {
  building: string;
  sensor: string;
  unit: string;
  /** [hours before the seeding, value] */
  readings: Array<[number, number]>;
}

/** A day of readings: a temperature every hour, a humidity every two, a CO2 level every four. */
const SEEDS: Seed[] = [
  {
    building: "Main building",
    sensor: "temperature-1",
    unit: "°C",
    readings: Array.from({ length: 24 }, (_, i): [number, number] => [
      23.5 - i,
      Math.round((21 + 2.5 * Math.sin(((i - 8) / 24) * 2 * Math.PI)) * 10) / 10,
    ]),
  },
  {
    building: "Main building",
    sensor: "humidity-1",
    unit: "%",
    readings: Array.from({ length: 12 }, (_, i): [number, number] => [23 - 2 * i, 42 + ((i * 7) % 12)]),
  },
  {
    building: "Annex",
    sensor: "co2-1",
    unit: "ppm",
    readings: [[22, 430], [18, 415], [14, 720], [10, 910], [6, 640], [2, 480]],
  },
];
/** A reading of the day before: outside the window, never drawn (its value would top every axis). */
const OLD_READING = { building: "Main building", sensor: "temperature-1", unit: "°C", hoursAgo: 30, value: 99 };

const engine = engineAnswers();
if (!engine.ok) {
  console.warn(`e2e: skipping the dashboard's browser tests, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
}
const describeWithEngine = engine.ok ? describe : describe.skip;

const stack = new DashboardStack("sb-e2e-browser");
let build: Build | undefined;
let profile = "";
let context: BrowserContext | undefined;
let page: Page;
/** Every URL the browser asked for, and every error it reported, since the last visit. */
let requests: string[] = [];
let problems: string[] = [];
/** When the readings were put in: their times are relative to it. */
let seededAt = 0;
const suiteStarted = Date.now();

/** Puts documents into Elasticsearch through its published port, as a sensor gateway would. */
async function index(documents: object[]): Promise<void> {
  for (const document of documents) {
    const response = await fetch(`${stack.elasticsearchUrl}/sensor-readings/_doc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(document),
    });
    if (response.status !== 201) throw new Error(`indexing ${JSON.stringify(document)}: HTTP ${response.status} ${await response.text()}`);
  }
}

async function seedReadings(now: number): Promise<void> {
  await stack.elasticsearchCall("PUT", "/sensor-readings", { settings: { number_of_replicas: 0 } });
  const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR).toISOString();
  await index([
    ...SEEDS.flatMap(({ building, sensor, unit, readings }) =>
      readings.map(([hoursAgo, value]) => ({ "@timestamp": at(hoursAgo), building, sensor, value, unit })),
    ),
    { "@timestamp": at(OLD_READING.hoursAgo), building: OLD_READING.building, sensor: OLD_READING.sensor, value: OLD_READING.value, unit: OLD_READING.unit },
  ]);
}

/** Opens the page afresh, as a reload does; fails on anything but 200. */
async function visit(): Promise<void> {
  requests = [];
  problems = [];
  const response = await page.goto(`${stack.baseUrl}/`, { waitUntil: "load" });
  expect(response?.status()).toBe(200);
}

/** What a person reads in an element, whitespace as the browser lays it out. */
async function texts(selector: string): Promise<string[]> {
  return (await page.locator(selector).allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
}

function chart(sensor: string) {
  return page.locator("figure.chart").filter({ has: page.locator("span.sensor", { hasText: new RegExp(`^${sensor}$`) }) });
}

/** The centres of a chart's points on the screen, in page pixels, in drawing order. */
async function pointCentres(sensor: string): Promise<Array<{ x: number; y: number }>> {
  return chart(sensor)
    .locator("circle.point")
    .evaluateAll((circles) =>
      circles.map((circle) => {
        const box = circle.getBoundingClientRect();
        return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      }),
    );
}

describeWithEngine(`the dashboard page in Chromium, against the stores on a real Docker engine (${engine.reason})`, () => {
  beforeAll(async () => {
    // Fails, not skips: a missing browser must not pass as a green run.
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (test/e2e/ensure-engine.sh does, as root)`);
    }
    // The base and stand-in images are made once by globalSetup.ts.
    build = await buildApp(APP_CONTEXT, stack.names.appImage);
    await stack.startStores({ publishElasticsearch: true });
    await stack.startApp();
    seededAt = Date.now();
    await seedReadings(seededAt);

    profile = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1100, height: 900 },
      deviceScaleFactor: 1,
      locale: "en-GB",
      timezoneId: "UTC",
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    page.on("request", (request) => void requests.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => void problems.push(`page error: ${error.message}`));
  }, 900_000);

  afterAll(async () => {
    await context?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await stack.remove();
    console.log(
      `e2e timings (dashboard in Chromium): app build ${build ? `${build.seconds.toFixed(1)} s` : "not done"}, ` +
        `whole suite ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`,
    );
  }, 120_000);

  it("shows the headings and both stores up", async () => {
    await visit();
    expect(await page.title()).toBe("Smart building dashboard");
    expect(await texts("h1")).toEqual(["Smart building dashboard"]);
    expect(await texts("h2")).toEqual(["MySQL: building model (bas_dev)", "Elasticsearch: time series"]);
    expect(await texts("#mysql > .state")).toEqual(["up 2 table(s) in bas_dev"]);
    expect(await texts("#mysql td:first-child")).toEqual(["buildings", "sensors"]);
    expect(await texts("#elasticsearch > .state")).toEqual(["up cluster docker-cluster is green"]);
    expect(await texts("#elasticsearch h3")).toEqual(["Sensor readings, last 24 hours", "Cluster and indices"]);
  });

  it("draws a chart per sensor, by building, with a point per reading of the last 24 hours and its labels", async () => {
    expect(await texts("#elasticsearch h4")).toEqual(["Annex", "Main building"]);
    expect(await texts("#elasticsearch .summary")).toEqual([
      "42 reading(s) of 3 sensor(s) in 2 building(s), from the index sensor-readings; hover a point for its time (UTC) and value.",
    ]);
    expect(await texts(".building:has(h4:text-is('Main building')) .sensor")).toEqual(["humidity-1", "temperature-1"]);

    for (const seed of SEEDS) {
      const figure = chart(seed.sensor);
      const values = seed.readings.map(([, value]) => value);
      const latest = seed.readings[seed.readings.length - 1];
      const svg = figure.getByRole("img");
      expect(await svg.isVisible()).toBe(true);
      const box = await svg.boundingBox();
      expect(box?.width).toBeGreaterThan(250);
      expect(box?.height).toBeGreaterThan(90);
      expect(await svg.getAttribute("aria-label")).toBe(
        `${seed.sensor} in ${seed.unit}: ${values.length} reading(s) over the last 24 hours, ` +
          `from ${Math.min(...values)} to ${Math.max(...values)}; latest ${latest[1]} ${seed.unit}`,
      );
      // The caption: the sensor, its latest reading, and how old it is (to the minute).
      const caption = (await figure.locator("figcaption").innerText()).replace(/\s+/g, " ");
      const [, name, reading, age] = /^(\S+) (\S+ \S+) (.+)$/.exec(caption) ?? [];
      expect([name, reading]).toEqual([seed.sensor, `${latest[1]} ${seed.unit}`]);
      const [, hours, minutes] = /^(?:(\d+) h)? ?(?:(\d+) min)? ago$/.exec(age) ?? [];
      const shownMinutes = Number(hours ?? 0) * 60 + Number(minutes ?? 0);
      expect(Math.abs(shownMinutes - (latest[0] * 60 + (Date.now() - seededAt) / 60_000))).toBeLessThanOrEqual(1);
      // The axes: hours before now along the bottom, the lowest and highest reading up the side.
      expect(await figure.locator("text.tick").allTextContents()).toEqual([
        "24 h ago",
        "18 h ago",
        "12 h ago",
        "6 h ago",
        "now",
        String(Math.max(...values)),
        String(Math.min(...values)),
      ]);

      // One point per reading in the window (the reading of the day before is not one), left to
      // right by time, higher on the screen for a higher value, inside the chart.
      const points = await pointCentres(seed.sensor);
      expect(points).toHaveLength(seed.readings.length);
      for (let i = 1; i < points.length; i++) expect(points[i].x).toBeGreaterThan(points[i - 1].x);
      for (const [i, point] of points.entries()) {
        expect(point.x).toBeGreaterThanOrEqual(box!.x);
        expect(point.x).toBeLessThanOrEqual(box!.x + box!.width);
        for (const [j, other] of points.entries()) {
          if (values[i] > values[j]) expect(point.y).toBeLessThan(other.y);
        }
      }
      // Hours are spread evenly across the width: the gap between readings an hour apart is 1/24 of the time axis.
      const spanHours = seed.readings[0][0] - latest[0];
      const pxPerHour = (points[points.length - 1].x - points[0].x) / spanHours;
      expect(pxPerHour * 24).toBeGreaterThan(box!.width * 0.75);
      expect(pxPerHour * 24).toBeLessThan(box!.width);
      expect(await figure.locator("circle.point title").first().textContent()).toMatch(
        new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC: ${values[0]} ${seed.unit}$`),
      );
    }
    expect(await page.locator("body").innerText()).not.toContain(String(OLD_READING.value));
  });

  it("loads nothing but the page itself, and reports no error", async () => {
    await visit();
    const origin = new URL(stack.baseUrl).origin;
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(requests[0]).toBe(`${stack.baseUrl}/`);
    expect(await page.locator("script, img, iframe, link, object, embed").count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it("saves what a person sees as a screenshot (docs/dashboard.png shows one)", async () => {
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const size = fs.statSync(SCREENSHOT).size;
    expect(size).toBeGreaterThan(10 * 1024);
    expect(size).toBeLessThan(SCREENSHOT_MAX_BYTES);
  });

  it("shows names from the stores as text, never as markup", async () => {
    const building = `<img src=x onerror="document.title='pwned'">`;
    const sensor = `<script>document.title='pwned'</script>`;
    await index([{ "@timestamp": new Date(Date.now() - HOUR).toISOString(), building, sensor, value: 1, unit: "<b>u</b>" }]);
    await visit();
    expect(await texts("#elasticsearch h4")).toEqual([building, "Annex", "Main building"]);
    expect(await texts(".building:first-of-type .sensor")).toEqual([sensor]);
    expect(await page.locator("script, img, b").count()).toBe(0);
    expect(await page.title()).toBe("Smart building dashboard");
    expect(problems).toEqual([]);
  });

  it("shows Elasticsearch's message where the charts were once it stops, not a blank page", async () => {
    await docker(["stop", "-t", "5", stack.names.elasticsearch]);
    expect((await inspect("container", stack.names.elasticsearch)).State.Running).toBe(false);
    await visit();
    expect(await texts("h1")).toEqual(["Smart building dashboard"]);
    expect(await texts("h2")).toEqual(["MySQL: building model (bas_dev)", "Elasticsearch: time series"]);
    const [message] = await texts("#elasticsearch > .state");
    expect(message).toMatch(/^down Elasticsearch is unavailable: .+/);
    expect(await page.locator("#elasticsearch .state.down").isVisible()).toBe(true);
    expect(await page.locator("svg, #elasticsearch h3, #elasticsearch table").count()).toBe(0);
    expect(await texts("#mysql > .state")).toEqual(["up 2 table(s) in bas_dev"]);
  });

  it("shows MySQL's message too once MySQL stops, and still the page", async () => {
    await docker(["stop", "-t", "20", stack.names.mysql]);
    const mysqlDown = await waitUntil("the page showing MySQL down", 30_000, async () => {
      await visit();
      const [state] = await texts("#mysql > .state");
      return state.startsWith("down ") ? state : undefined;
    });
    expect(mysqlDown).toMatch(/^down MySQL is unavailable: .+/);
    expect(await texts("#elasticsearch > .state")).toEqual([expect.stringMatching(/^down Elasticsearch is unavailable: /)]);
    expect(await texts("h2")).toEqual(["MySQL: building model (bas_dev)", "Elasticsearch: time series"]);
    expect(problems).toEqual([]);
  });
});
