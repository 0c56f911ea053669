// The traces page: filters in the URL (so a view can be shared), table, cursor pages.
import { api } from "/ui/api.js";
import { formatCost, formatCount, formatDuration, formatTime, h } from "/ui/dom.js";

const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const FILTERS = [
  ["search", "Search input and output"], ["name", "Name"], ["service", "Service"], ["model", "Model"],
  ["user_id", "User"], ["session_id", "Session"],
];

function params() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

function setParams(next) {
  const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== "" && v !== undefined));
  history.pushState(null, "", `/traces${query.size ? "?" + query : ""}`);
}

export async function tracesPage(root) {
  const state = { range: "24h", ...params() };
  const seconds = RANGES[state.range] || RANGES["24h"];
  const query = {
    start: new Date(Date.now() - seconds * 1000).toISOString(),
    has_error: state.errors === "1" ? "true" : undefined,
    limit: 50,
    cursor: state.cursor,
  };
  for (const [key] of FILTERS) query[key] = state[key];

  const inputs = {};
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const next = { range: rangeSelect.value, errors: errorsBox.checked ? "1" : "" };
    for (const [key, el] of Object.entries(inputs)) next[key] = el.value.trim();
    setParams(next);
    tracesPage(root);
  } });
  const rangeSelect = h("select", { name: "range", "aria-label": "Time range" },
    ...Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === state.range, text: `Last ${r}` })));
  const errorsBox = h("input", { type: "checkbox", name: "errors", checked: state.errors === "1" });
  form.append(rangeSelect);
  const SUGGESTED = { name: "name", service: "service", model: "model", user_id: "user", session_id: "session" };
  for (const [key, label] of FILTERS) {
    const list = SUGGESTED[key] ? h("datalist", { id: `suggest-${key}` }) : null;
    inputs[key] = h("input", { name: key, placeholder: label, "aria-label": label, value: state[key] || "",
      list: list ? list.id : undefined,
      onfocus: list ? async () => {
        if (list.childElementCount) return;
        const doc = await api(`/api/v1/filters/${SUGGESTED[key]}/values`, { query: { start: query.start } })
          .catch(() => ({ values: [] }));
        list.replaceChildren(...doc.values.map((v) => h("option", { value: v })));
      } : undefined });
    form.append(inputs[key]);
    if (list) form.append(list);
  }
  const live = h("input", { type: "checkbox", name: "live", checked: state.live === "1", onchange: () => {
    setParams({ ...state, live: live.checked ? "1" : "" });
    tracesPage(root);
  } });
  form.append(h("label", { class: "check" }, errorsBox, "Errors only"), h("button", { type: "submit", text: "Apply" }),
    h("label", { class: "check" }, live, "Live"));
  clearTimeout(window.__thLive);
  if (state.live === "1" && !state.cursor) {
    // Live refresh: reload the first page every 5 s while this page is shown.
    window.__thLive = setTimeout(() => { if (location.pathname === "/traces") tracesPage(root); }, 5000);
  }

  const body = h("tbody");
  const table = h("table", { class: "traces" },
    h("thead", {}, h("tr", {}, ...["Time", "Name", "Service", "User", "Session", "Tags", "Latency", "Tokens in/out",
      "Cost", "Status"].map((t) => h("th", { text: t })))), body);
  const pager = h("div", { class: "pager" });
  root.replaceChildren(h("section", {}, h("h1", { text: "Traces" }), form, table, pager));

  const page = await api("/api/v1/traces", { query });
  if (!page.items.length) {
    body.append(h("tr", {}, h("td", { colspan: 10, class: "empty" },
      h("p", { text: "No traces in this range yet." }),
      h("p", { class: "muted", text: "Send OpenTelemetry spans to http://<host>:4318/v1/traces, "
        + "or point a Langfuse SDK or Dify at this host." }))));
  }
  for (const t of page.items) {
    const href = `/traces/${encodeURIComponent(t.trace_id)}`;
    body.append(h("tr", { class: t.error_count ? "has-error" : "" },
      h("td", { text: formatTime(t.start_time) }),
      h("td", {}, h("a", { href, "data-link": true, text: t.name || t.trace_id })),
      h("td", { text: t.service_name }),
      h("td", { text: t.user_id }),
      h("td", { text: t.session_id }),
      h("td", {}, ...t.tags.map((tag) => h("span", { class: "tag", text: tag }))),
      h("td", { class: "num", text: formatDuration(t.latency_ms) }),
      h("td", { class: "num", text: `${formatCount(t.input_tokens)} / ${formatCount(t.output_tokens)}` }),
      h("td", { class: "num", text: formatCost(t.total_cost) }),
      h("td", { text: t.error_count ? "error" : "ok" }),
    ));
  }
  if (state.cursor) {
    pager.append(h("button", { type: "button", text: "First page", onclick: () => {
      setParams({ ...state, cursor: "" }); tracesPage(root);
    } }));
  }
  if (page.next_cursor) {
    pager.append(h("button", { type: "button", text: "Next page", onclick: () => {
      setParams({ ...state, cursor: page.next_cursor }); tracesPage(root);
    } }));
  }
}
