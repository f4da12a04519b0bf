import { escapeHtml, renderPage } from "../../app/dashboard/lib/page";
import { NOW, READINGS } from "./helpers";

type PageState = Parameters<typeof renderPage>[0];

function state(overrides: { mysql?: Partial<PageState["mysql"]>; elasticsearch?: Partial<PageState["elasticsearch"]> }): PageState {
  return {
    mysql: { up: true, message: "0 table(s) in bas_dev", database: "bas_dev", tables: [], ...overrides.mysql },
    elasticsearch: {
      up: true,
      message: "cluster sb is green",
      health: { cluster_name: "sb", status: "green", number_of_nodes: 1, active_shards: 0, unassigned_shards: 0 },
      indices: [],
      indicesMessage: null,
      readings: { total: 0, readings: [], skipped: 0 },
      readingsMessage: null,
      window: { from: NOW - 24 * 3_600_000, to: NOW },
      readingsIndex: "sensor-readings",
      ...overrides.elasticsearch,
    },
  };
}

describe("escapeHtml", () => {
  it.each<[unknown, string]>([
    ["<b>", "&lt;b&gt;"],
    ["a & b", "a &amp; b"],
    ['say "hi"', "say &quot;hi&quot;"],
    ["it's", "it&#39;s"],
    ["&lt;", "&amp;lt;"],
    [42, "42"],
    [null, ""],
    [undefined, ""],
  ])("turns %p into %p", (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
  });
});

describe("renderPage", () => {
  const evil = "<script>x()</script>";
  const escaped = "&lt;script&gt;x()&lt;/script&gt;";

  it.each<[string, Parameters<typeof state>[0]]>([
    ["a table name", { mysql: { tables: [{ name: evil, type: "BASE TABLE", approximateRows: 1 }] } }],
    ["a table type", { mysql: { tables: [{ name: "t", type: evil, approximateRows: 1 }] } }],
    ["the database name", { mysql: { database: evil } }],
    ["a MySQL error message", { mysql: { up: false, message: evil } }],
    ["an index name", { elasticsearch: { indices: [{ index: evil }] } }],
    ["an index size", { elasticsearch: { indices: [{ index: "i", "store.size": evil }] } }],
    ["the cluster's node count", { elasticsearch: { health: { number_of_nodes: evil as never } } }],
    ["an Elasticsearch error message", { elasticsearch: { up: false, health: null, message: evil } }],
    ["an indices error message", { elasticsearch: { indicesMessage: evil } }],
    ["a readings error message", { elasticsearch: { readings: null, readingsMessage: evil } }],
    ["a building name", { elasticsearch: { readings: { total: 1, skipped: 0, readings: [{ ...READINGS[0], building: evil }] } } }],
    ["a sensor name", { elasticsearch: { readings: { total: 1, skipped: 0, readings: [{ ...READINGS[0], sensor: evil }] } } }],
    ["a unit", { elasticsearch: { readings: { total: 1, skipped: 0, readings: [{ ...READINGS[0], unit: evil }] } } }],
    ["the readings index's name", { elasticsearch: { readingsIndex: evil } }],
  ])("escapes %s", (_what, overrides) => {
    const html = renderPage(state(overrides));
    expect(html).not.toContain(evil);
    expect(html).toContain(escaped);
  });

  it("says the database has no table yet instead of drawing an empty table", () => {
    const html = renderPage(state({}));
    expect(html).toContain("The database bas_dev has no table yet.");
    expect(html).not.toContain("<th>table</th>");
  });

  it("shows no table detail for a store that is down", () => {
    const html = renderPage(
      state({
        mysql: { up: false, message: "MySQL is unavailable: x", tables: [] },
        elasticsearch: { up: false, message: "Elasticsearch is unavailable: y", health: null },
      }),
    );
    expect(html).toContain('<p class="state down"><strong>down</strong> MySQL is unavailable: x</p>');
    expect(html).toContain('<p class="state down"><strong>down</strong> Elasticsearch is unavailable: y</p>');
    expect(html).not.toContain("<table>");
    expect(html).not.toContain("<svg");
    expect(html).not.toContain("Sensor readings");
  });

  it("draws the readings of the window under the time-series heading, one chart per sensor, by building", () => {
    const html = renderPage(state({ elasticsearch: { readings: { total: READINGS.length, readings: READINGS, skipped: 0 } } }));
    const section = html.slice(html.indexOf('<section id="elasticsearch">'), html.indexOf("</section>\n<footer>"));
    expect(section).toContain("<h2>Elasticsearch: time series</h2>");
    expect(section).toContain("<h3>Sensor readings, last 24 hours</h3>");
    expect(section.match(/<h4>[^<]*<\/h4>/g)).toEqual(["<h4>Annex</h4>", "<h4>Main building</h4>"]);
    expect(section.match(/<svg /g)).toHaveLength(3);
    // The readings come before the cluster's tables.
    expect(section.indexOf("<svg")).toBeLessThan(section.indexOf("<h3>Cluster and indices</h3>"));
  });

  it("says why there are no charts when the readings cannot be read, and still shows the cluster", () => {
    const html = renderPage(state({ elasticsearch: { readings: null, readingsMessage: "Elasticsearch is unavailable: HTTP 400" } }));
    expect(html).toContain('<h3>Sensor readings, last 24 hours</h3>\n<p class="state down"><strong>down</strong> Elasticsearch is unavailable: HTTP 400</p>');
    expect(html).not.toContain("<svg");
    expect(html).toContain("<th>nodes</th>");
  });

  it("says what it draws when the window holds no reading", () => {
    const html = renderPage(state({}));
    expect(html).toContain("No reading in the last 24 hours.");
    expect(html).toContain("the index sensor-readings");
  });

  it("contains no script and loads nothing, so the page's content security policy can forbid both", () => {
    for (const html of [
      renderPage(state({})),
      renderPage(state({ elasticsearch: { readings: { total: READINGS.length, readings: READINGS, skipped: 0 } } })),
    ]) {
      expect(html).not.toMatch(/<script|\son\w+=|<link|<img|<iframe|src=|url\(|@import|xlink:href/i);
      // The only links are the page's own JSON endpoints.
      expect([...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]).every((href) => href.startsWith("/"))).toBe(true);
    }
  });
});
