// The metrics page: the metrics a project received over OTLP, each charted the way its type reads
// (a counter's increase, a gauge's value, a histogram's count and quantiles), through the
// Prometheus API Grafana uses. Each chart shows its PromQL, to take to Grafana as it is.
import { api } from "/ui/api.js";
import { barChart, color, lineChart } from "/ui/chart.js";
import { here } from "/ui/context.js";
import { formatCount, formatIso, h, table } from "/ui/dom.js";
import { errorText, formatNumber, t } from "/ui/i18n.js";
import { RANGES, rangeLabel } from "/ui/traces.js";

const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/; // what PromQL takes as a label name
const AGGREGATES = ["sum", "avg", "min", "max"];
const MAX_SERIES = 8;
const STEPS = [60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];

function params() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/** About a hundred points in any range, a minute apart at least: exporters send every minute. */
export function stepFor(seconds) {
  return STEPS.find((s) => seconds / s <= 100) || STEPS[STEPS.length - 1];
}

function stepLabel(step) {
  if (step < 3600) return t("{n} min", { n: step / 60 });
  if (step < 86400) return t("{n} h", { n: step / 3600 });
  return t("{n} d", { n: step / 86400 });
}

/** A unit as read: UCUM's annotations ({token}) as words, "1" (a plain number) as nothing. */
function unitText(unit) {
  return unit === "1" ? "" : (unit || "").replace(/^\{(.*)\}$/, "$1");
}

/** A value with its unit. */
export function formatter(unit) {
  const suffix = unitText(unit);
  return (v) => `${formatNumber(v, { maximumSignificantDigits: 4 })}${suffix ? ` ${suffix}` : ""}`;
}

/** The charts of one metric: [{title, bar, unit, queries: [[series name or null, PromQL]]}]. */
export function chartsFor(metric, group, aggregate, step) {
  const by = group ? ` by (${group})` : "";
  const increase = (name) => `sum${by} (increase(${name}[${step}s]))`;
  const every = stepLabel(step);
  if (metric.type === "counter") {
    return [{ title: t("Increase per {step}", { step: every }), bar: true, unit: metric.unit,
      queries: [[null, increase(metric.name)]] }];
  }
  if (metric.type === "gauge") {
    return [{ title: t("Value ({aggregate} of its series)", { aggregate }), unit: metric.unit,
      queries: [[null, `${aggregate}${by} (${metric.name})`]] }];
  }
  const charts = [{ title: t("Count per {step}", { step: every }), bar: true, unit: "",
    queries: [[null, increase(`${metric.name}_count`)]] }];
  if (metric.kind === "histogram") {
    const quantile = (q) => `histogram_quantile(${q}, sum by (le${group ? `, ${group}` : ""}) (increase(${metric.name}_bucket[${step}s])))`; // code, not text
    charts.push(group
      ? { title: t("p95 per {step}", { step: every }), unit: metric.unit, queries: [[null, quantile(0.95)]] }
      : { title: t("Quantiles per {step}", { step: every }), unit: metric.unit,
        queries: [["p50", quantile(0.5)], ["p95", quantile(0.95)], ["p99", quantile(0.99)]] });
  } else if (metric.kind === "summary") {
    charts.push({ title: t("Quantiles, as the exporter computed them"), unit: metric.unit,
      queries: [[null, `avg by (quantile${group ? `, ${group}` : ""}) (${metric.name})`]] }); // code, not text
  }
  charts.push({ title: t("Mean per {step}", { step: every }), unit: metric.unit,
    queries: [[null, `${increase(`${metric.name}_sum`)} / ${increase(`${metric.name}_count`)}`]] });
  return charts;
}

async function drawChart(chart, frame, group) {
  const body = h("div", {}, h("p", { class: "muted", text: t("Loading…") }));
  const card = h("div", { class: "card" }, h("div", { class: "card-head" }, h("h3", { text: chart.title })), body,
    ...chart.queries.map(([, query]) => h("p", { class: "muted promql" }, "PromQL ", h("code", { text: query }))));
  const draw = async () => {
    const results = await Promise.all(chart.queries.map(([name, query]) =>
      api("/prometheus/api/v1/query_range", { query: { query, start: frame.start, end: frame.end, step: frame.step } })
        .then((doc) => doc.data.result.map((r) => ({
          // A summary grouped by a label has a series per value and quantile: both name it.
          key: name || [group ? r.metric[group] || "–" : "", r.metric.quantile ? t("quantile {q}", { q: r.metric.quantile }) : ""]
            .filter(Boolean).join(" · "),
          points: new Map(r.values.map(([at, v]) => [Number(at), Number(v)])),
        })))));
    // Each query's series by name, so that a series keeps its colour from one load to the next.
    let series = results.flatMap((list) => list.sort((a, b) => a.key.localeCompare(b.key)));
    const total = (s) => [...s.points.values()].reduce((a, v) => a + (Number.isFinite(v) ? Math.abs(v) : 0), 0);
    const hidden = Math.max(0, series.length - MAX_SERIES);
    // The largest series when there are too many; else in the order asked (p50, p95, p99).
    if (hidden) series = series.sort((a, b) => total(b) - total(a)).slice(0, MAX_SERIES);
    const format = formatter(chart.unit);
    if (!series.some((s) => [...s.points.values()].some(Number.isFinite))) {
      return body.replaceChildren(h("p", { class: "muted", text: t("No points in this range.") }));
    }
    body.replaceChildren(...[(chart.bar ? barChart : lineChart)(frame.buckets, series, { format }),
      series.length > 1 || series[0].key ? h("p", { class: "legend" }, ...series.map((s, i) => h("span", {},
        h("i", { style: `background:${color(i)}` }), " ", s.key || t("all")))) : null,
      hidden ? h("p", { class: "muted", text: t("{n} more series not shown: group by another label.", { n: hidden }) }) : null,
    ].filter(Boolean));
  };
  draw().catch((e) => body.replaceChildren(h("p", { class: "error", role: "alert", text: errorText(e) })));
  return card;
}

export async function metricsPage(root) {
  // The last hour by default: metrics are looked at for what happens now, a minute a point.
  const state = { range: "1h", ...params() };
  const go = (next) => {
    const query = new URLSearchParams(Object.entries({ ...state, ...next }).filter(([, v]) => v !== "" && v !== undefined));
    history.pushState(null, "", here(`/metrics${query.size ? "?" + query : ""}`));
    metricsPage(root);
  };
  const seconds = RANGES[state.range] || RANGES["1h"];
  const step = stepFor(seconds);
  // Steps on whole multiples of the step, the last one now: each value covers the step before it.
  const end = Math.ceil(Date.now() / 1000 / step) * step;
  const start = end - Math.ceil(seconds / step) * step;
  const buckets = [];
  for (let b = start + step; b <= end; b += step) buckets.push(b);
  const frame = { start: start + step, end, step, buckets };

  const range = h("select", { name: "range", "aria-label": t("Time range"), onchange: (e) => go({ range: e.target.value }) },
    ...Object.keys(RANGES).map((r) => h("option", { value: r, text: rangeLabel(r), selected: state.range === r })));
  const head = () => h("div", { class: "head" }, h("h1", { text: t("Metrics") }), range);
  root.replaceChildren(h("section", { class: "metrics" }, head(), h("p", { class: "muted", text: t("Loading…") })));
  const { items } = await api("/api/v1/metrics/otlp", { query: { start: new Date(start * 1000).toISOString() } });
  if (!items.length) {
    root.replaceChildren(h("section", { class: "metrics" }, head(),
      h("div", { class: "card" }, h("p", { text: t("No metrics in this range.") }),
        h("p", { class: "muted", text: t("Point an OpenTelemetry metric exporter at /v1/metrics on the OTLP port. Grafana's Prometheus data source reads them at /prometheus.") }))));
    return;
  }
  const metric = items.find((m) => m.name === state.metric) || items[0];
  const labels = metric.labels.filter((l) => LABEL.test(l));
  const group = labels.includes(state.group) ? state.group : "";
  const aggregate = AGGREGATES.includes(state.aggregate) ? state.aggregate : metric.kind === "sum" ? "sum" : "avg";
  const controls = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("select", { name: "group", "aria-label": t("Group by"), onchange: (e) => go({ metric: metric.name, group: e.target.value }) },
      h("option", { value: "", text: t("No grouping") }),
      ...labels.map((l) => h("option", { value: l, text: t("By {label}", { label: l }), selected: l === group }))),
    metric.type === "gauge" ? h("select", { name: "aggregate", "aria-label": t("Aggregate"),
      onchange: (e) => go({ metric: metric.name, aggregate: e.target.value }) },
    ...AGGREGATES.map((a) => h("option", { value: a, text: a, selected: a === aggregate }))) : null);
  const typeName = (m) => ({ counter: t("Counter"), gauge: t("Gauge"), histogram: t("Histogram"), summary: t("Summary") })[m.type];
  const charts = await Promise.all(chartsFor(metric, group, aggregate, step).map((c) => drawChart(c, frame, group)));
  const link = (m) => h("a", { href: here(`/metrics?${new URLSearchParams({ range: state.range, metric: m.name })}`),
    "data-link": true, text: m.name });
  root.replaceChildren(h("section", { class: "metrics" }, head(),
    h("div", { class: "card metric-head" },
      h("h2", { text: metric.name }),
      h("p", { class: "muted" }, [typeName(metric), metric.otel_name !== metric.name ? metric.otel_name : null,
        unitText(metric.unit) ? t("unit {unit}", { unit: unitText(metric.unit) }) : null, { cumulative: t("cumulative"), delta: t("delta") }[metric.temporality] || null,
        t("{n} series", { n: formatCount(metric.series) })].filter(Boolean).join(" · ")),
      metric.description ? h("p", { text: metric.description }) : null,
      controls),
    h("div", { class: "grid" }, ...charts), // half width even alone: a full-width chart scales its text up
    h("h2", { text: t("Every metric in this range") }),
    table([t("Name"), t("Type"), t("Unit"), t("Series"), t("Services"), t("Last point")], items.map((m) => h("tr",
      { class: m.name === metric.name ? "selected" : "" },
      h("td", {}, link(m)), h("td", { text: typeName(m) }), h("td", { text: unitText(m.unit) }),
      h("td", { class: "num", text: formatCount(m.series) }), h("td", { text: m.services.join(", ") }),
      h("td", { text: formatIso(m.last_seen) }))))));
}
