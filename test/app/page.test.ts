import { escapeHtml, renderPage } from "../../app/dashboard/lib/page";

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
  });

  it("contains no script, so the page's content security policy can forbid them all", () => {
    expect(renderPage(state({}))).not.toMatch(/<script|\son\w+=/i);
  });
});
