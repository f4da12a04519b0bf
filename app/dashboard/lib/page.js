"use strict";

/**
 * The dashboard page, rendered on the server. Everything that comes from a store (table and
 * index names, building and sensor names, error messages) goes through escapeHtml, so a name
 * such as `<script>` is shown, not run. The page has no script: the time series are drawn
 * here as inline SVG (chart.js).
 */

const { escapeHtml } = require("./html");
const { renderTimeSeries } = require("./chart");

/**
 * @typedef {object} PageState
 * @property {{ up: boolean, message: string, database: string,
 *   tables: import("./mysql").TableInfo[] }} mysql
 * @property {{ up: boolean, message: string, health: import("./elasticsearch").ClusterHealth | null,
 *   indices: import("./elasticsearch").IndexInfo[], indicesMessage: string | null,
 *   readings: import("./elasticsearch").ReadingsResult | null, readingsMessage: string | null,
 *   window: import("./elasticsearch").TimeWindow, readingsIndex: string }} elasticsearch
 *   `readings` is null when they could not be read (`readingsMessage` says why) or Elasticsearch is down
 */

/**
 * @param {boolean} up
 * @param {string} message
 */
function status(up, message) {
  return `<p class="state ${up ? "up" : "down"}"><strong>${up ? "up" : "down"}</strong> ${escapeHtml(message)}</p>`;
}

/**
 * @param {string[]} headings
 * @param {unknown[][]} rows
 * @param {string} empty what to say when there is no row
 */
function table(headings, rows, empty) {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(empty)}</p>`;
  const head = headings.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`).join("\n");
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/**
 * @param {PageState} state
 * @returns {string}
 */
function renderPage({ mysql, elasticsearch }) {
  const health = elasticsearch.health;
  const mysqlDetail = mysql.up
    ? table(
        ["table", "type", "rows (approx.)"],
        mysql.tables.map((t) => [t.name, t.type, t.approximateRows ?? ""]),
        `The database ${mysql.database} has no table yet.`,
      )
    : "";
  const hours = Math.round((elasticsearch.window.to - elasticsearch.window.from) / 3600000);
  const timeSeries =
    health === null
      ? ""
      : `<h3>Sensor readings, last ${hours} hours</h3>\n` +
        (elasticsearch.readings !== null
          ? renderTimeSeries(elasticsearch.readings, elasticsearch.window, elasticsearch.readingsIndex)
          : status(false, elasticsearch.readingsMessage ?? "The readings could not be read."));
  const esDetail =
    health === null
      ? ""
      : "<h3>Cluster and indices</h3>\n" +
        table(
          ["nodes", "active shards", "unassigned shards"],
          [[health.number_of_nodes ?? "", health.active_shards ?? "", health.unassigned_shards ?? ""]],
          "",
        ) +
        (elasticsearch.indicesMessage !== null
          ? status(false, elasticsearch.indicesMessage)
          : table(
              ["index", "health", "status", "documents", "size"],
              elasticsearch.indices.map((i) => [i.index, i.health, i.status, i["docs.count"], i["store.size"]]),
              "There is no index yet.",
            ));

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smart building dashboard</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  .state strong { display: inline-block; min-width: 3.5rem; padding: 0.1rem 0.5rem; border-radius: 0.3rem; color: #fff; text-align: center; }
  .up strong { background: #2e7d32; }
  .down strong { background: #c62828; }
  table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
  th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
  .empty, .note, .summary { color: #555; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 0.75rem; }
  .chart { margin: 0; padding: 0.4rem 0.5rem; border: 1px solid #ddd; border-radius: 0.3rem; }
  .chart figcaption { font-size: 0.9rem; }
  .chart .latest { font-weight: 600; }
  .chart .age { color: #666; }
  .chart svg { display: block; width: 100%; height: auto; }
  .chart .plot { fill: #fafafa; stroke: #ccc; }
  .chart .grid { stroke: #e4e4e4; }
  .chart .level { stroke: #bbb; stroke-dasharray: 3 3; }
  .chart .tick { font-size: 10px; fill: #555; }
  .chart .line { fill: none; stroke: #1565c0; stroke-width: 1.5; stroke-linejoin: round; }
  .chart .point { fill: #1565c0; }
</style>
</head>
<body>
<h1>Smart building dashboard</h1>
<section id="mysql">
<h2>MySQL: building model (${escapeHtml(mysql.database || "no database configured")})</h2>
${status(mysql.up, mysql.message)}
${mysqlDetail}
</section>
<section id="elasticsearch">
<h2>Elasticsearch: time series</h2>
${status(elasticsearch.up, elasticsearch.message)}
${timeSeries}
${esDetail}
</section>
<footer><p>JSON: <a href="/health">/health</a> · <a href="/api/mysql/tables">/api/mysql/tables</a> ·
<a href="/api/elasticsearch/health">/api/elasticsearch/health</a> · <a href="/api/elasticsearch/indices">/api/elasticsearch/indices</a> ·
<a href="/api/elasticsearch/readings">/api/elasticsearch/readings</a></p></footer>
</body>
</html>
`;
}

module.exports = { renderPage, escapeHtml };
