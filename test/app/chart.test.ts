import {
  formatAge,
  formatTime,
  formatValue,
  groupReadings,
  MAX_CHARTS,
  MAX_MARKERS,
  renderChart,
  renderTimeSeries,
} from "../../app/dashboard/lib/chart";
import type { Reading } from "../../app/dashboard/lib/elasticsearch";
import { NOW, READINGS } from "./helpers";

const HOUR = 3_600_000;
const WINDOW = { from: NOW - 24 * HOUR, to: NOW };

type Series = Parameters<typeof renderChart>[0];

function series(points: Array<[hoursAgo: number, value: number]>, overrides: Partial<Series> = {}): Series {
  return {
    building: "Main building",
    sensor: "temperature-1",
    unit: "°C",
    points: points.map(([hoursAgo, value]) => ({ time: NOW - hoursAgo * HOUR, value })),
    ...overrides,
  };
}

/** The centres of a chart's point markers, in drawing order. */
function markers(svg: string): Array<{ x: number; y: number; title: string }> {
  return [...svg.matchAll(/<circle class="point" cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+"><title>([^<]*)<\/title><\/circle>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    title: m[3],
  }));
}

function reading(overrides: Partial<Reading>): Reading {
  return { time: NOW - HOUR, building: "B", sensor: "s", value: 1, unit: "", ...overrides };
}

describe("groupReadings", () => {
  it("makes one series per building and sensor, buildings and sensors in name order, points oldest first", () => {
    const shuffled = [READINGS[2], READINGS[4], READINGS[0], READINGS[3], READINGS[1]];
    expect(groupReadings(shuffled)).toEqual([
      { building: "Annex", series: [{ building: "Annex", sensor: "co2-1", unit: "ppm", points: [{ time: NOW - 2 * HOUR, value: 610 }] }] },
      {
        building: "Main building",
        series: [
          { building: "Main building", sensor: "humidity-1", unit: "%", points: [{ time: NOW - 12 * HOUR, value: 48 }] },
          {
            building: "Main building",
            sensor: "temperature-1",
            unit: "°C",
            points: [
              { time: NOW - 20 * HOUR, value: 20.5 },
              { time: NOW - 10 * HOUR, value: 23 },
              { time: NOW - 1 * HOUR, value: 21.5 },
            ],
          },
        ],
      },
    ]);
  });

  it("never puts two units on one axis, and puts unnamed buildings and sensors last", () => {
    const grouped = groupReadings([
      reading({ building: "", sensor: "a" }),
      reading({ building: "B", sensor: "" }),
      reading({ building: "B", sensor: "t", unit: "°F" }),
      reading({ building: "B", sensor: "t", unit: "°C" }),
    ]);
    expect(grouped.map((b) => b.building)).toEqual(["B", ""]);
    expect(grouped[0].series.map((s) => [s.sensor, s.unit])).toEqual([
      ["t", "°C"],
      ["t", "°F"],
      ["", ""],
    ]);
  });
});

describe("renderChart", () => {
  it("places time left to right over the window and values bottom to top between the lowest and highest", () => {
    const svg = renderChart(series([[24, 20], [12, 25], [0, 22.5]]), WINDOW);
    // The plot runs from x 46 to 348 and from y 126 (lowest) to 12 (highest).
    expect(markers(svg).map(({ x, y }) => [x, y])).toEqual([
      [46, 126],
      [197, 12],
      [348, 69],
    ]);
    expect(svg).toContain('<polyline class="line" points="46.0,126.0 197.0,12.0 348.0,69.0"/>');
  });

  it("labels the time axis in hours before now, the value axis with the lowest and highest reading, and the latest reading", () => {
    const svg = renderChart(series([[20, 20.5], [10, 23], [0.5, 21.5]]), WINDOW);
    expect([...svg.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1])).toEqual([
      "24 h ago",
      "18 h ago",
      "12 h ago",
      "6 h ago",
      "now",
      "23",
      "20.5",
    ]);
    expect(svg).toContain(
      '<figcaption><span class="sensor">temperature-1</span> <span class="latest">21.5 °C</span> <span class="age">30 min ago</span></figcaption>',
    );
    expect(svg).toContain(
      'aria-label="temperature-1 in °C: 3 reading(s) over the last 24 hours, from 20.5 to 23; latest 21.5 °C"',
    );
    expect(markers(svg).map((m) => m.title)).toEqual([
      "2025-02-28 16:00 UTC: 20.5 °C",
      "2025-03-01 02:00 UTC: 23 °C",
      "2025-03-01 11:30 UTC: 21.5 °C",
    ]);
  });

  it("draws a flat series across the middle, with one value label", () => {
    const svg = renderChart(series([[3, 5], [2, 5]], { unit: "" }), WINDOW);
    expect(markers(svg).map((m) => m.y)).toEqual([69, 69]);
    expect(svg.match(/class="grid level"/g)).toHaveLength(1);
    expect(svg).toContain('<span class="latest">5</span>');
  });

  it(`marks every reading up to ${MAX_MARKERS}, and only the latest beyond`, () => {
    const many = (n: number) => series(Array.from({ length: n }, (_, i): [number, number] => [23 - (i * 23) / n, i % 7]));
    expect(markers(renderChart(many(MAX_MARKERS), WINDOW))).toHaveLength(MAX_MARKERS);
    const dense = renderChart(many(MAX_MARKERS + 1), WINDOW);
    expect(markers(dense)).toHaveLength(1);
    expect(dense.match(/<polyline class="line" points="([^"]*)"/)?.[1].split(" ")).toHaveLength(MAX_MARKERS + 1);
  });

  it("escapes the sensor's name and unit in the caption, the label and the point titles", () => {
    const evil = `<img src=x onerror="alert(1)">`;
    const svg = renderChart(series([[1, 1]], { sensor: evil, unit: evil }), WINDOW);
    expect(svg).not.toContain("<img");
    expect(svg).not.toContain('onerror="');
    expect(svg).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });

  it("names a sensor without a name as such", () => {
    expect(renderChart(series([[1, 1]], { sensor: "" }), WINDOW)).toContain('<span class="sensor">(no sensor name)</span>');
  });
});

describe("renderTimeSeries", () => {
  it("says what it shows, then each building with its charts", () => {
    const html = renderTimeSeries({ total: READINGS.length, readings: READINGS, skipped: 0 }, WINDOW, "sensor-readings");
    expect(html).toContain(
      '<p class="summary">5 reading(s) of 3 sensor(s) in 2 building(s), from the index sensor-readings; hover a point for its time (UTC) and value.</p>',
    );
    expect(html.match(/<h4>[^<]*<\/h4>|<span class="sensor">[^<]*<\/span>/g)).toEqual([
      "<h4>Annex</h4>",
      '<span class="sensor">co2-1</span>',
      "<h4>Main building</h4>",
      '<span class="sensor">humidity-1</span>',
      '<span class="sensor">temperature-1</span>',
    ]);
    expect(html).not.toContain('class="note"');
  });

  it("says which documents were left out and when the window holds more than was read", () => {
    const html = renderTimeSeries({ total: 9000, readings: READINGS, skipped: 2 }, WINDOW, "sensor-readings");
    expect(html).toContain('<p class="note">Showing the latest 7 of 9000 documents of the window.</p>');
    expect(html).toContain('<p class="note">2 document(s) without a usable @timestamp or numeric value are left out.</p>');
  });

  it(`draws at most ${MAX_CHARTS} charts and counts the others`, () => {
    const readings = Array.from({ length: MAX_CHARTS + 5 }, (_, i) => reading({ sensor: `s${String(i).padStart(3, "0")}` }));
    const html = renderTimeSeries({ total: readings.length, readings, skipped: 0 }, WINDOW, "sensor-readings");
    expect(html.match(/<figure /g)).toHaveLength(MAX_CHARTS);
    expect(html).toContain(`<p class="note">5 more series are not drawn (the page draws at most ${MAX_CHARTS}).</p>`);
  });

  it("says what it would draw when the window holds no reading", () => {
    const html = renderTimeSeries({ total: 3, readings: [], skipped: 3 }, WINDOW, "sensor-readings");
    expect(html).toContain("No reading in the last 24 hours.");
    expect(html).toContain("3 document(s) without a usable @timestamp or numeric value are left out.");
    expect(html).not.toContain("<svg");
  });
});

describe("the formats", () => {
  it.each<[number, string]>([
    [21.5, "21.5"],
    [48, "48"],
    [0.1 + 0.2, "0.3"],
    [1234567.25, "1234567.25"],
    [2 / 3, "0.666667"],
    [1 + 1 / 3, "1.333"],
    [-3.25, "-3.25"],
  ])("shows the value %p as %p", (value, shown) => {
    expect(formatValue(value)).toBe(shown);
  });

  it.each<[number, string]>([
    [0, "just now"],
    [20_000, "just now"],
    [25 * 60_000, "25 min ago"],
    [3 * HOUR, "3 h ago"],
    [3 * HOUR + 5 * 60_000, "3 h 5 min ago"],
    [-60_000, "just now"],
  ])("says a reading %p ms old is %p", (age, said) => {
    expect(formatAge(NOW - age, NOW)).toBe(said);
  });

  it("gives times in UTC to the minute", () => {
    expect(formatTime(NOW + 59_000)).toBe("2025-03-01 12:00 UTC");
  });
});
