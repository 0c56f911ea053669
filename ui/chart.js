// Small SVG charts drawn by hand: a stacked bar chart over time and a horizontal bar list.
import { formatDate, t } from "/ui/i18n.js";
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#3158d4", "#7b4bd6", "#1f8a70", "#d28b1e", "#c83737", "#2b9bb3", "#8a8f2b", "#b3447a"];

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
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
      const rect = svg("rect", { x: i * (width / buckets.length), y, width: barW, height: h, fill: color(j) });
      const title = svg("title");
      title.textContent = `${formatDate(new Date(b * 1000))} · ${s.key || t("all")}: ${format(v)}`;
      rect.append(title);
      root.append(rect);
    });
  });
  const label = svg("text", { x: 0, y: height + 14, class: "axis" });
  label.textContent = t("max {value}", { value: format(max) });
  root.append(label);
  return root;
}
