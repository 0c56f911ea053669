// Small SVG charts drawn by hand: a stacked bar chart over time and a horizontal bar list.
import { formatDate, formatDateParts, t } from "/ui/i18n.js";
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#3158d4", "#7b4bd6", "#1f8a70", "#d28b1e", "#c83737", "#2b9bb3", "#8a8f2b", "#b3447a"];

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// A bar or point with its time, series and value as its tooltip.
function titled(el, bucket, series, text) {
  const title = svg("title");
  title.textContent = `${formatDate(new Date(bucket * 1000))} · ${series.key || t("all")}: ${text}`;
  el.append(title);
  return el;
}

// Under a chart: the time of a few buckets (first, last and two between), so that a spike can be
// placed without pointing at it; then the chart's range of values.
const AXIS = 32;
function axis(root, buckets, xOf, height, text) {
  if (buckets.length) {
    const step = buckets.length > 1 ? buckets[1] - buckets[0] : 3600;
    // The date too when the range runs over more than one day of the viewer's calendar.
    const days = new Date(buckets[0] * 1000).toDateString() !== new Date(buckets[buckets.length - 1] * 1000).toDateString();
    const options = step >= 86400 ? { month: "short", day: "numeric" }
      : days ? { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" } : { hour: "numeric", minute: "2-digit" };
    const picks = [...new Set([0, 1, 2, 3].map((k) => Math.round((k * (buckets.length - 1)) / 3)))];
    picks.forEach((i, k) => {
      const anchor = picks.length === 1 ? "middle" : k === 0 ? "start" : k === picks.length - 1 ? "end" : "middle";
      const tick = svg("text", { x: xOf(i).toFixed(1), y: height + 13, class: "axis tick", "text-anchor": anchor });
      tick.textContent = formatDateParts(new Date(buckets[i] * 1000), options);
      root.append(tick);
    });
  }
  const label = svg("text", { x: 0, y: height + 28, class: "axis" });
  label.textContent = text;
  root.append(label);
}

export function color(i) {
  return COLORS[i % COLORS.length];
}

// series: [{key, points: Map(bucket -> value)}], buckets: sorted numbers (epoch s)
export function barChart(buckets, series, { height = 160, format = (v) => String(v) } = {}) {
  const width = 640;
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (s.points.get(b) || 0), 0));
  const max = Math.max(...totals, 1e-12);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + AXIS}`, class: "chart", role: "img" });
  const barW = Math.max(1, width / Math.max(1, buckets.length) - 1);
  buckets.forEach((b, i) => {
    let y = height;
    series.forEach((s, j) => {
      const v = s.points.get(b) || 0;
      if (!v) return;
      const h = (v / max) * (height - 4);
      y -= h;
      root.append(titled(svg("rect", { x: i * (width / buckets.length), y, width: barW, height: h, fill: color(j) }),
        b, s, format(v)));
    });
  });
  const slot = width / Math.max(1, buckets.length);
  // The first and last ticks sit at the chart's edges; the others under their bar's middle.
  axis(root, buckets, (i) => (i === 0 ? 0 : i === buckets.length - 1 ? width : (i + 0.5) * slot), height,
    t("max {value}", { value: format(max) }));
  return root;
}

// series: [{key, points: Map(bucket -> value)}], buckets: sorted numbers (epoch s). Lines, not stacked:
// for values that do not add up (a gauge, a quantile). A missing point breaks the line.
export function lineChart(buckets, series, { height = 160, format = (v) => String(v) } = {}) {
  const width = 640;
  const values = series.flatMap((s) => [...s.points.values()].filter((v) => Number.isFinite(v)));
  const max = Math.max(...values, 0);
  const min = Math.min(...values, 0);
  const span = max - min || 1;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + AXIS}`, class: "chart", role: "img" });
  const x = (i) => (buckets.length > 1 ? (i / (buckets.length - 1)) * (width - 4) + 2 : width / 2);
  const y = (v) => height - 2 - ((v - min) / span) * (height - 6);
  series.forEach((s, j) => {
    let run = [];
    const flush = () => {
      if (run.length > 1) root.append(svg("polyline", { points: run.join(" "), fill: "none", stroke: color(j), "stroke-width": 1.5 }));
      run = [];
    };
    buckets.forEach((b, i) => {
      const v = s.points.get(b);
      if (!Number.isFinite(v)) return flush();
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      root.append(titled(svg("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2, fill: color(j) }), b, s, format(v)));
    });
    flush();
  });
  axis(root, buckets, (i) => (buckets.length > 1 ? x(i) : width / 2), height, min < 0
    ? `${t("min {value}", { value: format(min) })} · ${t("max {value}", { value: format(max) })}`
    : t("max {value}", { value: format(max) }));
  return root;
}
