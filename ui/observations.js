// Observations: the project's spans one by one (generations, tools, retrievers...), newest first,
// by type, model and name, as Langfuse's observations table lists them. Filters live in the URL.
import { api } from "/ui/api.js";
import { ctx, here } from "/ui/context.js";
import { formatCost, formatCount, formatRowTime, h, numericHeaders, spanDuration } from "/ui/dom.js";
import { errorText, t } from "/ui/i18n.js";
import { params, rangeControls, timeWindow, traceTabs } from "/ui/traces.js";

const TYPES = ["GENERATION", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EMBEDDING", "EVALUATOR", "GUARDRAIL", "SPAN", "EVENT"];
// [URL/API parameter, label, suggestion field of /api/v1/filters/{field}/values]
const FIELDS = [["model", t("Model"), "model"], ["name", t("Name"), "name"]];

export async function observationsPage(root) {
  const state = { range: "24h", ...params() };
  const window_ = timeWindow(state);
  const go = (next) => {
    const query = new URLSearchParams(Object.entries({ ...state, cursor: "", ...next }).filter(([, v]) => v));
    history.pushState(null, "", here(`/observations${query.size ? "?" + query : ""}`));
    observationsPage(root);
  };
  const range = rangeControls(state, () => form.requestSubmit());
  const typeSelect = h("select", { name: "type", "aria-label": t("Type"), onchange: () => form.requestSubmit() },
    h("option", { value: "", text: t("All types") }),
    ...TYPES.map((type) => h("option", { value: type, selected: type === state.type, text: type })));
  // Text in an observation's input or output (a scan of them: slower than the other filters).
  const inputs = { search: h("input", { name: "search", class: "search", placeholder: t("Search input and output"),
    "aria-label": t("Search input and output"), value: state.search || "" }) };
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    go({ ...range.read(), type: typeSelect.value,
      ...Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])) });
  } }, range.select, range.custom, typeSelect, inputs.search);
  for (const [key, label, field] of FIELDS) {
    const list = h("datalist", { id: `observation-suggest-${key}` });
    inputs[key] = h("input", { name: key, placeholder: label, "aria-label": label, value: state[key] || "", list: list.id,
      onfocus: async () => {
        if (list.childElementCount) return;
        const doc = await api(`/api/v1/filters/${field}/values`, { query: { start: window_.start } }).catch(() => ({ values: [] }));
        list.replaceChildren(...doc.values.map((v) => h("option", { value: v })));
      } });
    form.append(inputs[key], list);
  }
  // Export: the observations these filters select, each with its input and output, as a file.
  const listQuery = { ...window_, observation_type: state.type || undefined, model: state.model || undefined,
    name: state.name || undefined, search: state.search || undefined, observations_only: "true" };
  const exportHref = (format) => {
    const query = new URLSearchParams({ project: ctx.project.id, format });
    for (const [k, v] of Object.entries(listQuery)) if (v) query.set(k, v);
    return `/api/v1/spans/export?${query}`;
  };
  form.append(h("button", { type: "submit", text: t("Apply") }),
    h("details", { class: "columns export" }, h("summary", { text: t("Export") }),
      h("a", { href: exportHref("csv"), download: "", text: t("CSV (spreadsheets)") }),
      h("a", { href: exportHref("jsonl"), download: "", text: t("JSON Lines") }),
      h("span", { class: "muted small", text: t("Up to 10,000 observations") })));

  const headers = [t("Time"), t("Name"), t("Type"), t("Model"), t("Latency"), t("Tokens in/out"), t("Cost"), t("Status")];
  const body = h("tbody", {}, h("tr", {}, h("td", { colspan: headers.length, class: "empty muted", text: t("Loading…") })));
  const pager = h("div", { class: "pager" });
  root.replaceChildren(h("section", {}, traceTabs("observations"), h("h1", { text: t("Observations") }), form,
    h("div", { class: "table-wrap" }, h("table", { class: "traces observations" },
      h("thead", {}, h("tr", {}, ...headers.map((text) => h("th", { text })))), body)), pager));

  let page;
  try {
    // Light rows: the table shows no attribute, input or output (half the time of a page).
    page = await api("/api/v1/spans", { query: { ...listQuery, fields: "light", limit: Number(state.limit) || 50, cursor: state.cursor } });
  } catch (e) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: headers.length, class: "empty error", role: "alert",
      text: t("Could not load observations: {error}", { error: errorText(e) }) })));
    return;
  }
  if (!page.items.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: headers.length, class: "empty muted",
      text: t("No observations match in this range.") })));
  } else {
    body.replaceChildren(...page.items.map((s) => {
      const failed = s.status_code === "ERROR" || s.level === "ERROR";
      const href = here(`/traces/${encodeURIComponent(s.trace_id)}?span=${encodeURIComponent(s.span_id)}`);
      return h("tr", { class: failed ? "has-error" : "" },
        h("td", { text: formatRowTime(s.start_time) }),
        h("td", {}, h("a", { href, "data-link": true, text: s.name || s.span_id })),
        h("td", { text: s.observation_type }),
        h("td", { text: s.model }),
        h("td", { class: "num", text: spanDuration(s) }),
        h("td", { class: "num", text: `${formatCount(s.input_tokens)} / ${formatCount(s.output_tokens)}` }),
        h("td", { class: "num", text: formatCost(s.total_cost) }),
        h("td", { class: failed ? "err" : "", text: failed ? t("error") : s.level === "WARNING" ? t("warning") : t("ok") }));
    }));
    numericHeaders(body.parentElement);
  }
  if (state.cursor) pager.append(h("button", { type: "button", text: t("First page"), onclick: () => go({ cursor: "" }) }));
  if (page.next_cursor) {
    pager.append(h("button", { type: "button", text: t("Next page"), onclick: () => go({ cursor: page.next_cursor }) }));
  }
}
