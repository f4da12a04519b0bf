"use strict";

/**
 * The time series of the dashboard page: sensor readings grouped by building and sensor, each
 * series drawn as an inline SVG line chart, on the server. The page carries no script and loads
 * nothing (its content security policy forbids both), so the readings are drawn where they are
 * read and go nowhere else. Every text that comes from a store (building, sensor and unit names)
 * goes through escapeHtml; every coordinate is a number computed here.
 */

const { escapeHtml } = require("./html");

/** The window the page shows: the last 24 hours. */
const WINDOW_MS = 24 * 60 * 60 * 1000;
/** The most charts one page draws; the series beyond are counted, not drawn. */
const MAX_CHARTS = 48;
/** Above this many readings a series is drawn as a line alone, with a marker on its latest reading. */
const MAX_MARKERS = 150;

/** The chart's geometry, in SVG user units (the chart scales to the width it is given). */
const WIDTH = 360;
const HEIGHT = 150;
const PLOT = { left: 46, right: WIDTH - 12, top: 12, bottom: HEIGHT - 24 };

/**
 * @typedef {object} Series
 * @property {string} building
 * @property {string} sensor
 * @property {string} unit
 * @property {Array<{ time: number, value: number }>} points oldest first
 */

/** @typedef {{ building: string, series: Series[] }} BuildingSeries */

/**
 * The readings as series: one per building, sensor and unit (a sensor whose unit changed gets
 * one chart per unit, never two units on one axis), buildings and sensors in name order.
 * @param {import("./elasticsearch").Reading[]} readings
 * @returns {BuildingSeries[]}
 */
function groupReadings(readings) {
  /** @type {Map<string, Series>} */
  const byKey = new Map();
  for (const reading of readings) {
    const key = JSON.stringify([reading.building, reading.sensor, reading.unit]);
    let series = byKey.get(key);
    if (series === undefined) {
      series = { building: reading.building, sensor: reading.sensor, unit: reading.unit, points: [] };
      byKey.set(key, series);
    }
    series.points.push({ time: reading.time, value: reading.value });
  }
  /** @type {Map<string, Series[]>} */
  const byBuilding = new Map();
  for (const series of byKey.values()) {
    series.points.sort((a, b) => a.time - b.time);
    const list = byBuilding.get(series.building) ?? [];
    list.push(series);
    byBuilding.set(series.building, list);
  }
  return [...byBuilding.entries()]
    .sort(([a], [b]) => compareNames(a, b))
    .map(([building, series]) => ({
      building,
      series: series.sort((a, b) => compareNames(a.sensor, b.sensor) || compareNames(a.unit, b.unit)),
    }));
}

/**
 * @param {string} a
 * @param {string} b
 */
function compareNames(a, b) {
  // An unnamed building or sensor comes last.
  if (a === "" || b === "") return a === b ? 0 : a === "" ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A reading's value for people, no trailing zeros: at most three decimals, and at most six
 * significant digits below 1 (a large value is never shown rounded to fewer digits than it has).
 * @param {number} value
 */
function formatValue(value) {
  return String(Math.abs(value) >= 1 ? Math.round(value * 1000) / 1000 : Number(value.toPrecision(6)));
}

/**
 * @param {number} value
 * @param {string} unit
 */
function withUnit(value, unit) {
  return unit === "" ? formatValue(value) : `${formatValue(value)} ${unit}`;
}

/**
 * A time for people, in UTC: 2025-03-01 12:00 UTC.
 * @param {number} time
 */
function formatTime(time) {
  return `${new Date(time).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * How long before `now` a time was: "just now", "25 min ago", "3 h ago", "3 h 5 min ago".
 * @param {number} time
 * @param {number} now
 */
function formatAge(time, now) {
  const minutes = Math.max(0, Math.round((now - time) / 60000));
  if (minutes === 0) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h ago` : `${hours} h ${rest} min ago`;
}

/** @param {number} n a coordinate */
function c(n) {
  return n.toFixed(1);
}

/**
 * One series as a figure: its name, its latest reading and an SVG line chart of the window,
 * the time running left to right (ticks every quarter of the window), the value bottom to top
 * between the lowest and highest reading (both labelled).
 * @param {Series} series
 * @param {import("./elasticsearch").TimeWindow} window
 * @returns {string}
 */
function renderChart(series, window) {
  const { points, unit } = series;
  const span = Math.max(1, window.to - window.from);
  const values = points.map((p) => p.value);
  const min = Math.min(...values);
  const max = Math.max(...values);
  // Flat series: drawn across the middle.
  const [low, high] = min === max ? [min - 1, max + 1] : [min, max];
  const x = (/** @type {number} */ time) =>
    PLOT.left + (Math.min(Math.max(time, window.from), window.to) - window.from) / span * (PLOT.right - PLOT.left);
  const y = (/** @type {number} */ value) => PLOT.bottom - (value - low) / (high - low) * (PLOT.bottom - PLOT.top);

  const sensor = series.sensor === "" ? "(no sensor name)" : series.sensor;
  const latest = points[points.length - 1];
  const label =
    `${sensor}${unit === "" ? "" : ` in ${unit}`}: ${points.length} reading(s) over the last ` +
    `${Math.round(span / 3600000)} hours, from ${formatValue(min)} to ${formatValue(max)}; latest ${withUnit(latest.value, unit)}`;

  const ticks = [0, 1, 2, 3, 4].map((i) => window.from + (span * i) / 4);
  const xAxis = ticks
    .map((time, i) => {
      const hours = Math.round((window.to - time) / 3600000);
      const anchor = i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      return (
        `<line class="grid" x1="${c(x(time))}" y1="${PLOT.top}" x2="${c(x(time))}" y2="${PLOT.bottom}"/>` +
        `<text class="tick" x="${c(x(time))}" y="${HEIGHT - 8}" text-anchor="${anchor}">${hours === 0 ? "now" : `${hours} h ago`}</text>`
      );
    })
    .join("");
  const yAxis = (min === max ? [min] : [max, min])
    .map(
      (value) =>
        `<line class="grid level" x1="${PLOT.left}" y1="${c(y(value))}" x2="${PLOT.right}" y2="${c(y(value))}"/>` +
        `<text class="tick" x="${PLOT.left - 4}" y="${c(y(value) + 3.5)}" text-anchor="end">${escapeHtml(formatValue(value))}</text>`,
    )
    .join("");
  const line = `<polyline class="line" points="${points.map((p) => `${c(x(p.time))},${c(y(p.value))}`).join(" ")}"/>`;
  const marked = points.length <= MAX_MARKERS ? points : [latest];
  const markers = marked
    .map(
      (p) =>
        `<circle class="point" cx="${c(x(p.time))}" cy="${c(y(p.value))}" r="2.5">` +
        `<title>${escapeHtml(`${formatTime(p.time)}: ${withUnit(p.value, unit)}`)}</title></circle>`,
    )
    .join("\n");

  return `<figure class="chart">
<figcaption><span class="sensor">${escapeHtml(sensor)}</span> <span class="latest">${escapeHtml(withUnit(latest.value, unit))}</span> <span class="age">${escapeHtml(formatAge(latest.time, window.to))}</span></figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(label)}">
<rect class="plot" x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}"/>
${xAxis}
${yAxis}
${line}
${markers}
</svg>
</figure>`;
}

/**
 * The readings of a window, as a person reads them: a line saying what is shown, then per
 * building its charts; or why there is nothing to draw.
 * @param {import("./elasticsearch").ReadingsResult} result
 * @param {import("./elasticsearch").TimeWindow} window
 * @param {string} index the index the readings come from (named on the page)
 * @returns {string}
 */
function renderTimeSeries(result, window, index) {
  const hours = Math.round((window.to - window.from) / 3600000);
  const notes = [];
  if (result.skipped > 0) {
    notes.push(`${result.skipped} document(s) without a usable @timestamp or numeric value are left out.`);
  }
  if (result.readings.length === 0) {
    return [
      `<p class="empty">No reading in the last ${hours} hours. The dashboard draws the documents of the index ` +
        `${escapeHtml(index)} that have an @timestamp, a building, a sensor and a numeric value (and, optionally, a unit).</p>`,
      ...notes.map((note) => `<p class="note">${escapeHtml(note)}</p>`),
    ].join("\n");
  }
  const buildings = groupReadings(result.readings);
  const seriesCount = buildings.reduce((n, b) => n + b.series.length, 0);
  if (result.total > result.readings.length + result.skipped) {
    notes.unshift(`Showing the latest ${result.readings.length + result.skipped} of ${result.total} documents of the window.`);
  }
  if (seriesCount > MAX_CHARTS) {
    notes.push(`${seriesCount - MAX_CHARTS} more series are not drawn (the page draws at most ${MAX_CHARTS}).`);
  }

  let budget = MAX_CHARTS;
  const sections = [];
  for (const { building, series } of buildings) {
    if (budget === 0) break;
    const drawn = series.slice(0, budget);
    budget -= drawn.length;
    sections.push(
      `<section class="building">\n<h4>${escapeHtml(building === "" ? "(no building)" : building)}</h4>\n` +
        `<div class="charts">\n${drawn.map((s) => renderChart(s, window)).join("\n")}\n</div>\n</section>`,
    );
  }
  const summary =
    `${result.readings.length} reading(s) of ${seriesCount} sensor(s) in ${buildings.length} building(s), ` +
    `from the index ${index}; hover a point for its time (UTC) and value.`;
  return [
    `<p class="summary">${escapeHtml(summary)}</p>`,
    ...notes.map((note) => `<p class="note">${escapeHtml(note)}</p>`),
    ...sections,
  ].join("\n");
}

module.exports = {
  groupReadings,
  renderChart,
  renderTimeSeries,
  formatValue,
  formatAge,
  formatTime,
  WINDOW_MS,
  MAX_CHARTS,
  MAX_MARKERS,
};
