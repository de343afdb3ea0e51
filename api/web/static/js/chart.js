// A small SVG chart: bars or lines over time or categories, a shaded band, point markers.
// Each chart comes with the same figures as a table (in a <details>) for screen readers and for
// anyone who would rather read than look.

import { el, t } from "./core.js";

const NS = "http://www.w3.org/2000/svg";
const BASE_PAD = { top: 12, right: 12, bottom: 30, left: 52 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Decimals an axis needs to tell its ticks apart: 0 for a step of 5, 2 for 0.05. */
export function tickDigits(step) {
  return step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9));
}

/** Round numbers for an axis from 0 (or min) to max. */
export function niceTicks(min, max, count = 5) {
  if (max <= min) max = min + 1;
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/**
 * Draw a chart into `container` (replacing its content).
 *
 * spec = {
 *   title,                        // accessible name (and table caption)
 *   x: {kind: "time"|"category", labels?: [...], format: v => string, ticks?: [...]},
 *   y: {format: (v, step) => string, exact?: v => string, unit?},  // step: between axis
 *                                                 // ticks; exact: the table's figures; unit:
 *                                                 // written above the axis (m³)
 *   series: [{name, kind: "bar"|"line", points: [{x, y, className?, tone?}], className?, tone?}],
 *                                              // tone: 0 strong, 1 grey; a point's className
 *                                              // marks one bar (estimated)
 *   band?: {name, points: [{x, lo, hi}], step?},  // a forecast interval; step: blocks that wide
 *   markers?: [{x, label, className?}],         // e.g. anomalies: a flag at x
 * }
 * x is a number (epoch ms for "time", index for "category").
 */
export function drawChart(container, spec) {
  drawn.set(container, spec);
  // A unit above the y axis takes a line of its own.
  const PAD = { ...BASE_PAD, top: spec.y.unit ? 26 : BASE_PAD.top };
  container.replaceChildren();
  // Drawn at the container's own width: text and strokes are never stretched.
  const W = Math.max(280, Math.round(container.clientWidth || 640));
  const H = W < 500 ? 220 : 280;
  const all = spec.series.flatMap((s) => s.points);
  const bandPts = spec.band?.points ?? [];
  if (!all.length && !bandPts.length) {
    container.append(el("p", { class: "muted" }, t("chart.empty")));
    return;
  }
  const categorical = spec.x.kind === "category";
  const half = (spec.band?.step ?? 0) / 2;
  const xs = [...all.map((p) => p.x), ...bandPts.flatMap((p) => [p.x - half, p.x + half])];
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (categorical) {
    x0 = -0.5;
    x1 = (spec.x.labels?.length ?? x1 + 1) - 0.5;
  }
  const bars = spec.series.filter((s) => s.kind === "bar");
  // A time bar is as wide as the smallest gap between points.
  let step = 0;
  if (!categorical && bars.length) {
    const sorted = [...new Set(bars.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
    step = sorted.slice(1).reduce((m, v, i) => Math.min(m, v - sorted[i]), Infinity);
    if (!Number.isFinite(step)) step = 3600_000;
    x0 -= step / 2;
    x1 += step / 2;
  }
  if (x1 === x0) {
    // One instant: give it some room so it sits mid-chart with distinct tick labels.
    const pad = categorical ? 0.5 : 60_000;
    x0 -= pad;
    x1 += pad;
  }
  const ys = [...all.map((p) => p.y), ...bandPts.flatMap((p) => [p.lo, p.hi]), 0];
  const ticks = niceTicks(Math.min(...ys), Math.max(...ys));
  const y0 = ticks[0];
  const y1 = ticks[ticks.length - 1];
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);

  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": spec.title,
    width: W,
    height: H,
  });
  root.append(svg("title", {}, spec.title));

  const tickStep = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  for (const v of ticks) {
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: sy(v), y2: sy(v), class: "grid" }));
    root.append(svg("text", { x: PAD.left - 6, y: sy(v) + 4, class: "tick y" }, spec.y.format(v, tickStep)));
  }

  if (spec.y.unit) root.append(svg("text", { x: PAD.left - 6, y: 11, class: "tick y unit" }, spec.y.unit));
  if (half) {
    for (const p of bandPts) root.append(svg("rect", { x: sx(p.x - half), y: sy(p.hi), width: sx(p.x + half) - sx(p.x - half), height: Math.max(sy(p.lo) - sy(p.hi), 2), class: "band" }));
  } else if (bandPts.length) {
    const top = bandPts.map((p) => `${sx(p.x)},${sy(p.hi)}`);
    const bottom = [...bandPts].reverse().map((p) => `${sx(p.x)},${sy(p.lo)}`);
    root.append(svg("polygon", { points: [...top, ...bottom].join(" "), class: "band" }));
  }

  const slot = categorical ? (W - PAD.left - PAD.right) / (x1 - x0) : sx(x0 + step) - sx(x0);
  bars.forEach((series, i) => {
    const width = (slot * 0.8) / bars.length;
    for (const p of series.points) {
      const left = sx(p.x) - (slot * 0.8) / 2 + i * width;
      const top = sy(Math.max(p.y, 0));
      root.append(
        svg("rect", {
          x: left,
          y: top,
          width: Math.max(width, 1),
          height: Math.max(Math.abs(sy(p.y) - sy(0)), p.y ? 1 : 0),
          class: `bar s${p.tone ?? series.tone ?? i} ${series.className ?? ""} ${p.className ?? ""}`,
        }),
      );
    }
  });
  spec.series
    .filter((s) => s.kind === "line")
    .forEach((series, i) => {
      const d = series.points.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
      root.append(svg("path", { d, class: `line l${i} ${series.className ?? ""}` }));
      if (series.points.length < 3) {
        for (const p of series.points) root.append(svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, class: `dot l${i}` }));
      }
    });

  for (const m of spec.markers ?? []) {
    const x = sx(m.x);
    const g = svg("g", { class: `marker ${m.className ?? ""}` });
    g.append(svg("line", { x1: x, x2: x, y1: PAD.top, y2: H - PAD.bottom }));
    g.append(svg("path", { d: `M${x - 5},${PAD.top} L${x + 5},${PAD.top} L${x},${PAD.top + 8} Z` }));
    g.append(svg("title", {}, m.label));
    root.append(g);
  }

  const xTicks = categorical
    ? (spec.x.labels ?? []).map((_, i) => i)
    : spec.x.ticks ?? timeTicks(x0, x1);
  const every = Math.max(1, Math.ceil(xTicks.length / 8));
  xTicks.forEach((v, i) => {
    if (i % every) return;
    const label = categorical ? spec.x.labels[v] : spec.x.format(v);
    root.append(svg("text", { x: sx(v), y: H - PAD.bottom + 18, class: "tick x" }, label));
  });
  root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: sy(y0), y2: sy(y0), class: "axis" }));

  const legend = el(
    "ul",
    { class: "legend" },
    spec.series.map((s, i) =>
      el("li", {}, el("span", { class: `key ${s.kind === "bar" ? `s${s.tone ?? bars.indexOf(s)}` : `l${i - bars.length}`}`, "aria-hidden": "true" }), s.name),
    ),
    spec.band ? el("li", {}, el("span", { class: "key band", "aria-hidden": "true" }), spec.band.name) : null,
    spec.markers?.length && spec.markerName ? el("li", {}, el("span", { class: "key marker", "aria-hidden": "true" }), spec.markerName) : null,
  );
  container.append(el("figure", { class: "chart-box" }, root, legend), dataTable(spec));
}

// Charts on the page, redrawn at their new width when the window is resized.
const drawn = new Map();
let resizeTimer = null;
addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [container, spec] of drawn) {
      if (container.isConnected) drawChart(container, spec);
      else drawn.delete(container);
    }
  }, 200);
});

function timeTicks(x0, x1) {
  const n = 6;
  return Array.from({ length: n }, (_, i) => x0 + ((x1 - x0) * (i + 0.5)) / n);
}

function dataTable(spec) {
  const keys = new Map();
  const label = (x) => (spec.x.kind === "category" ? spec.x.labels[x] : spec.x.format(x, true));
  spec.series.forEach((s, i) => s.points.forEach((p) => keys.set(p.x, { ...(keys.get(p.x) ?? {}), [i]: p.y })));
  (spec.band?.points ?? []).forEach((p) => keys.set(p.x, { ...(keys.get(p.x) ?? {}), band: `${(spec.y.exact ?? spec.y.format)(p.lo)} – ${(spec.y.exact ?? spec.y.format)(p.hi)}` }));
  const rows = [...keys.entries()].sort((a, b) => a[0] - b[0]);
  const exact = spec.y.exact ?? spec.y.format;
  const head = [spec.x.name ?? "", ...spec.series.map((s) => s.name), ...(spec.band ? [spec.band.name] : [])];
  const headCells = head.map((h, i) => el("th", { scope: "col", class: i ? "num" : "" }, h));
  return el(
    "details",
    { class: "chart-data" },
    el("summary", {}, t("app.more")),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", {}, spec.title),
        el("thead", {}, el("tr", {}, headCells)),
        el(
          "tbody",
          {},
          rows.map(([x, v]) =>
            el(
              "tr",
              {},
              el("th", { scope: "row" }, label(x)),
              spec.series.map((_, i) => el("td", { class: "num" }, i in v ? exact(v[i]) : "")),
              spec.band ? el("td", { class: "num" }, v.band ?? "") : null,
            ),
          ),
        ),
      ),
    ),
  );
}
