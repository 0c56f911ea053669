// Small SVG charts drawn by hand: a stacked bar chart over time and a horizontal bar list.
import { formatDate, t } from "/ui/i18n.js";
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

export function color(i) {
  return COLORS[i % COLORS.length];
}

// series: [{key, points: Map(bucket -> value)}], buckets: sorted numbers (epoch s)
export function barChart(buckets, series, { height = 160, format = (v) => String(v) } = {}) {
  const width = 640;
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (s.points.get(b) || 0), 0));
  const max = Math.max(...totals, 1e-12);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + 18}`, class: "chart", role: "img" });
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
  const label = svg("text", { x: 0, y: height + 14, class: "axis" });
  label.textContent = t("max {value}", { value: format(max) });
  root.append(label);
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
  const root = svg("svg", { viewBox: `0 0 ${width} ${height + 18}`, class: "chart", role: "img" });
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
  const label = svg("text", { x: 0, y: height + 14, class: "axis" });
  label.textContent = min < 0 ? `${t("min {value}", { value: format(min) })} · ${t("max {value}", { value: format(max) })}`
    : t("max {value}", { value: format(max) });
  root.append(label);
  return root;
}
