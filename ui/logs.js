// The logs page: a project's log records by time range, lowest severity, text and attributes, each
// linking to its trace. Every filter lives in the URL, as on the traces page.
import { api } from "/ui/api.js";
import { here } from "/ui/context.js";
import { formatTime, h } from "/ui/dom.js";
import { RANGES, rangeLabel, timeWindow } from "/ui/traces.js";
import { severityName } from "/ui/trace.js";
import { t } from "/ui/i18n.js";

const SEVERITIES = [["", t("Any severity")], ["5", t("Debug and up")], ["9", t("Info and up")], ["13", t("Warn and up")],
  ["17", t("Error and up")], ["21", t("Fatal")]];

function params() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

export async function logsPage(root) {
  const state = { range: "24h", ...params() };
  const go = (next) => {
    const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== "" && v !== undefined));
    history.pushState(null, "", here(`/logs${query.size ? "?" + query : ""}`));
    logsPage(root);
  };
  const input = (name, label, width = "14em") => h("input", { name, "aria-label": label, placeholder: label,
    value: state[name] || "", style: `width:${width}` });
  const fields = {
    search: input("search", t("Text in the body"), "18em"),
    attribute: input("attribute", t("Attribute key=value")),
    service: input("service", t("Service"), "10em"),
    trace_id: input("trace_id", t("Trace id"), "18em"),
  };
  const severity = h("select", { name: "min_severity", "aria-label": t("Lowest severity") },
    ...SEVERITIES.map(([v, label]) => h("option", { value: v, text: label, selected: (state.min_severity || "") === v })));
  const range = h("select", { name: "range", "aria-label": t("Time range") },
    ...Object.keys(RANGES).map((r) => h("option", { value: r, text: rangeLabel(r), selected: state.range === r })));
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    go({ range: range.value, min_severity: severity.value,
      ...Object.fromEntries(Object.entries(fields).map(([k, el]) => [k, el.value.trim()])) });
  } }, range, severity, ...Object.values(fields), h("button", { type: "submit", text: t("Apply") }));
  const body = h("tbody");
  const more = h("button", { type: "button", text: t("Load more"), hidden: true });
  const table = h("table", { class: "traces logs" },
    h("thead", {}, h("tr", {}, ...[t("Time"), t("Severity"), t("Service"), t("Event or body"), t("Trace")].map((label) => h("th", { text: label })))),
    body);
  root.replaceChildren(h("section", {}, h("h1", { text: t("Logs") }), form, table, more));

  const query = { ...timeWindow(state), limit: 100 };
  for (const key of ["search", "service", "trace_id", "min_severity"]) if (state[key]) query[key] = state[key];
  if (state.attribute) query.attribute = state.attribute;
  const load = async (cursor) => {
    const page = await api("/api/v1/logs", { query: cursor ? { ...query, cursor } : query });
    body.append(...page.items.map((r) => h("tr", { class: r.severity_number >= 17 ? "has-error" : "" },
      h("td", { text: formatTime(r.time) }),
      h("td", { class: r.severity_number >= 17 ? "err" : "", text: severityName(r) }),
      h("td", { text: r.service_name }),
      h("td", { class: "body", text: r.event_name ? `${r.event_name}${r.body ? ` · ${r.body}` : ""}` : r.body }),
      h("td", {}, r.trace_id ? h("a", { href: here(`/traces/${encodeURIComponent(r.trace_id)}${r.span_id
        ? `?span=${encodeURIComponent(r.span_id)}` : ""}`), "data-link": true, text: r.trace_id.slice(0, 12) }) : ""))));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted",
      text: t("No log records in this range. Send them to /v1/logs on the OTLP port.") })));
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor);
  };
  await load();
}
