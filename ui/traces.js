// The traces page: every filter, the time range, sort order, columns and page live in the URL, so
// a view can be bookmarked and shared.
import { api } from "/ui/api.js";
import { can, ctx, here } from "/ui/context.js";
import { firstTraceHint } from "/ui/keys.js";
import { formatCost, formatCount, formatDuration, formatRowTime, h, numericHeaders, scoreText, traceLatency } from "/ui/dom.js";
import { errorText, t } from "/ui/i18n.js";

export const RANGES = { "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
/** The name of a time range, e.g. "Last 24 hours". */
export function rangeLabel(key) {
  return {
    "15m": t("Last 15 minutes"), "1h": t("Last hour"), "6h": t("Last 6 hours"), "24h": t("Last 24 hours"),
    "7d": t("Last 7 days"), "30d": t("Last 30 days"),
  }[key] || key;
}
// [URL/API parameter, label, suggestion field of /api/v1/filters/{field}/values]
const FILTERS = [
  ["search", t("Search input and output")], ["name", t("Name"), "name"], ["service", t("Service"), "service"],
  ["model", t("Model"), "model"], ["user_id", t("User"), "user"], ["session_id", t("Session"), "session"],
  ["environment", t("Environment"), "environment"], ["tags", t("Tag"), "tag"], ["attribute", t("Attribute key=value")],
  ["metadata", t("Metadata key=value")], ["score", t("Score, e.g. correctness<0.5"), "scores"],
  ["min_latency_ms", t("Min latency (ms)")], ["max_latency_ms", t("Max latency (ms)")],
  ["min_cost", t("Min cost ($)")], ["max_cost", t("Max cost ($)")],
  ["traceql", t("TraceQL, e.g. { span.gen_ai.request.model = \"gpt-4o\" && duration > 2s }")],
];
/** Ready score filters for the window's scores: below and from a numeric score's mean, each
 * frequent value of the others. */
async function scoreSuggestions(window_) {
  const doc = await api("/api/v1/scores/summary", { query: { start: window_.start, end: window_.end } }).catch(() => ({ items: [] }));
  return doc.items.flatMap((s) => (s.data_type === "NUMERIC"
    ? [`${s.name}<${Number(s.mean.toFixed(2))}`, `${s.name}>=${Number(s.mean.toFixed(2))}`]
    : s.top_values.map((v) => `${s.name}=${v}`)));
}

// [key, header, API sort key or null, cell]
const COLUMNS = [
  ["time", t("Time"), "start_time", (row) => h("td", { text: formatRowTime(row.start_time) })],
  // Text columns are cut to a width (the whole value on hover), so that the numbers fit a laptop's screen.
  ["name", t("Name"), null, (row) => h("td", { class: "clip wide", title: row.name || row.trace_id }, h("a", {
    href: here(`/traces/${encodeURIComponent(row.trace_id)}`), "data-link": true, text: row.name || row.trace_id }))],
  // OTel's name for a service that gave none (the Langfuse SDKs give none): nothing to read in a list.
  ["service", t("Service"), null, (row) => h("td", { class: "clip", title: row.service_name,
    text: /^unknown_service(:|$)/.test(row.service_name) ? "–" : row.service_name })],
  ["user", t("User"), null, (row) => h("td", { class: "clip", title: row.user_id, text: row.user_id })],
  ["session", t("Session"), null, (row) => h("td", { class: "clip", title: row.session_id }, row.session_id ? h("a", {
    href: here(`/sessions/${encodeURIComponent(row.session_id)}`), "data-link": true, text: row.session_id }) : "")],
  ["tags", t("Tags"), null, (row) => h("td", { class: "tags" }, ...row.tags.map((tag) => h("span", { class: "tag", text: tag })))],
  ["spans", t("Spans"), "span_count", (row) => h("td", { class: "num", text: formatCount(row.span_count) })],
  ["latency", t("Latency"), "latency", (row) => h("td", { class: "num", text: formatDuration(traceLatency(row)) })],
  ["tokens", t("Tokens in/out"), "total_tokens", (row) => h("td", { class: "num",
    text: `${formatCount(row.input_tokens)} / ${formatCount(row.output_tokens)}` })],
  ["cost", t("Cost"), "total_cost", (row) => h("td", { class: "num", text: formatCost(row.total_cost) })],
  ["status", t("Status"), null, (row) => h("td", { class: row.error_count ? "err" : "", text: row.error_count ? t("error") : t("ok") })],
  // Filled once the page is drawn (fillScores): the list does not wait for the scores.
  ["scores", t("Scores"), null, (row) => h("td", { class: "score-cell", "data-trace": row.trace_id })],
];
const DEFAULT_HIDDEN = ["spans"];
let chooserOpen = false; // the column chooser stays open while columns are switched

/** The scores of the traces shown in ``body`` (its ``.score-cell`` elements, one per trace, those
 * not asked for yet), by name: the mean of numeric ones, the newest value of the others. */
export async function fillScores(body) {
  const fresh = [...body.querySelectorAll(".score-cell:not([data-asked])")];
  fresh.forEach((cell) => cell.setAttribute("data-asked", ""));
  const cells = new Map(fresh.map((cell) => [cell.dataset.trace, cell]));
  const ids = [...cells.keys()];
  const pages = [];
  for (let i = 0; i < ids.length; i += 100) pages.push(ids.slice(i, i + 100)); // the API takes 100 a time
  const docs = await Promise.all(pages.map((trace_id) =>
    api("/api/v1/scores/by-trace", { query: { trace_id } }).catch(() => ({ items: [] }))));
  for (const s of docs.flatMap((doc) => doc.items)) {
    const value = scoreText(s, 2);
    cells.get(s.trace_id)?.append(h("span", { class: "score", title: t("{name}: {n} score(s)", { name: s.name, n: s.count }) },
      `${s.name} `, h("strong", { text: value })));
  }
}

/** The traces page's tabs: traces, and their observations one by one. */
export function traceTabs(active) {
  return h("nav", { class: "tabs", "aria-label": t("Traces") }, ...[["traces", t("Traces")], ["observations", t("Observations")]].map(
    ([key, label]) => h("a", { href: here(`/${key}`), "data-link": true, class: key === active ? "active" : undefined,
      "aria-current": key === active ? "page" : undefined, text: label })));
}

/** The page's state in its URL's query, as an object. */
export function params() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

function setParams(next) {
  const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== "" && v !== undefined && v !== null));
  history.pushState(null, "", here(`/traces${query.size ? "?" + query : ""}`));
}

// "2026-11-27T10:00" (a datetime-local value, local time) <-> ISO 8601 in UTC.
function localInput(iso) {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export function timeWindow(state) {
  if (state.range === "custom" && state.from) {
    return { start: new Date(state.from).toISOString(), end: state.to ? new Date(state.to).toISOString() : undefined };
  }
  const seconds = RANGES[state.range] || RANGES["24h"];
  return { start: new Date(Date.now() - seconds * 1000).toISOString() };
}

/** The time range's select and, for "Custom…", its from and to inputs (``submit`` runs when a
 * preset is chosen); ``read()`` gives the range's URL state: range, from, to. */
export function rangeControls(state, submit) {
  const select = h("select", { name: "range", "aria-label": t("Time range"), onchange: () => {
    custom.hidden = select.value !== "custom";
    if (select.value !== "custom") submit();
  } },
  ...Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === state.range, text: rangeLabel(r) })),
  h("option", { value: "custom", selected: state.range === "custom", text: t("Custom…") }));
  const from = h("input", { type: "datetime-local", name: "from", "aria-label": t("From"),
    value: state.from ? localInput(state.from) : localInput(new Date(Date.now() - 86400000).toISOString()) });
  const to = h("input", { type: "datetime-local", name: "to", "aria-label": t("To"),
    value: state.to ? localInput(state.to) : "" });
  const custom = h("span", { class: "custom-range", hidden: state.range !== "custom" }, from, "–", to);
  const read = () => select.value !== "custom" ? { range: select.value, from: "", to: "" } : {
    range: "custom",
    from: from.value ? new Date(from.value).toISOString() : "",
    to: to.value ? new Date(to.value).toISOString() : "",
  };
  return { select, custom, read };
}

/** Where traces stop arriving, say so when the server refuses new data for want of disk space. */
async function diskNotice(slot) {
  const disk = await api("/api/v1/server/disk").catch(() => null);
  if (!disk?.low) return;
  const org = ctx.organization?.id;
  // The admin is led to the figures; others are told only that data is refused.
  const link = ctx.me?.is_admin && org ? [" ", h("a", { href: `/organization/${encodeURIComponent(org)}/settings#server-disk`,
    "data-link": true, text: t("See the server's disk") })] : [];
  slot.replaceChildren(h("p", { class: "error", role: "alert" },
    t("This server's disk is nearly full: it refuses new traces, logs and metrics until space is freed. Senders retry for a while, then drop what they hold."),
    ...link));
}

export async function tracesPage(root) {
  const state = { range: "24h", ...params() };
  const hidden = new Set(state.hide !== undefined ? state.hide.split(",").filter(Boolean) : DEFAULT_HIDDEN);
  const columns = COLUMNS.filter(([key]) => !hidden.has(key));
  const sort = state.sort || "start_time";
  const order = state.order || "desc";
  const window_ = timeWindow(state);
  const query = { ...window_, has_error: state.errors === "1" ? "true" : undefined, limit: 50, cursor: state.cursor,
    sort, order };
  for (const [key] of FILTERS) query[key] = state[key];

  const go = (changes) => {
    setParams({ ...state, cursor: "", ...changes });
    tracesPage(root);
  };
  const inputs = {};
  const range = rangeControls(state, () => form.requestSubmit());
  const errorsBox = h("input", { type: "checkbox", name: "errors", checked: state.errors === "1" });
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const next = { ...range.read(), errors: errorsBox.checked ? "1" : "" };
    for (const [key, el] of Object.entries(inputs)) next[key] = el.value.trim();
    go(next);
  } }, range.select, range.custom);
  const more = h("details", { class: "more-filters", open: FILTERS.slice(6).some(([k]) => state[k]) },
    h("summary", { text: t("More filters") }));
  FILTERS.forEach(([key, label, field], i) => {
    const list = field ? h("datalist", { id: `suggest-${key}` }) : null;
    inputs[key] = h("input", { name: key, placeholder: label, "aria-label": label, value: state[key] || "",
      class: key === "search" || key === "traceql" ? "search" : "", list: list ? list.id : undefined,
      onfocus: list ? async () => {
        if (list.childElementCount) return;
        const values = field === "scores" ? await scoreSuggestions(window_)
          : (await api(`/api/v1/filters/${field}/values`, { query: { start: window_.start } }).catch(() => ({ values: [] }))).values;
        list.replaceChildren(...values.map((v) => h("option", { value: v })));
      } : undefined });
    (i < 6 ? form : more).append(inputs[key]);
    if (list) form.append(list);
  });
  const live = h("input", { type: "checkbox", name: "live", checked: state.live === "1",
    onchange: () => go({ live: live.checked ? "1" : "" }) });
  const chooser = h("details", { class: "columns", open: chooserOpen,
    ontoggle: (e) => { chooserOpen = e.target.open; } }, h("summary", { text: t("Columns") }),
    ...COLUMNS.map(([key, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: `col-${key}`,
      checked: !hidden.has(key), onchange: (e) => {
        if (e.target.checked) hidden.delete(key); else hidden.add(key);
        go({ hide: [...hidden].join(",") });
      } }), label)));
  // Export: the traces these filters and this sort select, whole inputs and outputs, as a file.
  const exportHref = (format) => {
    const params = new URLSearchParams({ project: ctx.project.id, format });
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "" && k !== "limit" && k !== "cursor") params.set(k, v);
    }
    return `/api/v1/traces/export?${params}`;
  };
  const exporter = h("details", { class: "columns export" }, h("summary", { text: t("Export") }),
    h("a", { href: exportHref("csv"), download: "", text: t("CSV (spreadsheets)") }),
    h("a", { href: exportHref("jsonl"), download: "", text: t("JSON Lines") }),
    h("span", { class: "muted small", text: t("Up to 10,000 traces") }));
  form.append(more, h("label", { class: "check" }, errorsBox, t("Errors only")), h("button", { type: "submit", text: t("Apply") }),
    h("label", { class: "check" }, live, t("Live")), chooser, exporter);
  clearTimeout(window.__thLive);
  if (state.live === "1" && !state.cursor) {
    // Live refresh: the first page again every 5 s while this page is shown.
    window.__thLive = setTimeout(() => { if (location.pathname === here("/traces")) tracesPage(root); }, 5000);
  }

  const headerCell = ([, label, sortKey]) => {
    if (!sortKey) return h("th", { text: label });
    const active = sort === sortKey;
    const next = active && order === "desc" ? "asc" : "desc";
    return h("th", { "aria-sort": active ? (order === "asc" ? "ascending" : "descending") : "none" },
      h("button", { type: "button", class: "sort", text: `${label}${active ? (order === "asc" ? " ▲" : " ▼") : ""}`,
        onclick: () => go({ sort: sortKey, order: next }) }));
  };
  // Bulk selection, for people who may score: chosen traces go into an annotation queue at once.
  const selecting = can("SCORE");
  const selected = new Set();
  const bulk = h("div", { class: "filters bulk", hidden: true });
  const showBulk = async () => {
    bulk.hidden = selected.size === 0;
    if (bulk.hidden) return;
    if (!bulk.dataset.ready) {
      bulk.dataset.ready = "1";
      const queues = await api("/api/public/annotation-queues", { query: { limit: 100 } }).catch(() => ({ data: [] }));
      const pick = h("select", { "aria-label": t("Annotation queue") }, ...queues.data.map((q) => h("option", { value: q.id, text: q.name })));
      const count = h("span", { class: "count" });
      const status = h("span", { class: "muted", role: "status" });
      bulk.replaceChildren(count, queues.data.length ? pick : h("span", { class: "muted", text: t("No annotation queue yet.") }),
        queues.data.length ? h("button", { type: "button", text: t("Add to queue"), onclick: async () => {
          const ids = [...selected];
          for (const id of ids) {
            await api(`/api/public/annotation-queues/${encodeURIComponent(pick.value)}/items`, { method: "POST",
              body: { objectId: id, objectType: "TRACE" } });
          }
          status.textContent = t("Added {n} to {queue}.", { n: ids.length, queue: pick.selectedOptions[0].text });
        } }) : "", status);
    }
    bulk.querySelector(".count").textContent = t("{n} selected", { n: selected.size });
  };
  const selectAll = h("input", { type: "checkbox", "aria-label": t("Select all traces"), onchange: (e) => {
    for (const box of table.querySelectorAll("tbody input.pick")) {
      box.checked = e.target.checked;
      if (e.target.checked) selected.add(box.value); else selected.delete(box.value);
    }
    showBulk();
  } });
  const pickCell = (row) => h("td", {}, h("input", { type: "checkbox", class: "pick", value: row.trace_id,
    "aria-label": t("Select trace {name}", { name: row.name || row.trace_id }), onchange: (e) => {
      if (e.target.checked) selected.add(row.trace_id); else selected.delete(row.trace_id);
      showBulk();
    } }));
  const body = h("tbody", {}, h("tr", {}, h("td", { colspan: columns.length + 1, class: "empty muted", text: t("Loading…") })));
  const table = h("table", { class: "traces" }, h("thead", {}, h("tr", {}, selecting ? h("th", {}, selectAll) : "",
    ...columns.map(headerCell))), body);
  const pager = h("div", { class: "pager" });
  const disk = h("div", {});
  root.replaceChildren(h("section", {}, traceTabs("traces"), h("h1", { text: t("Traces") }), disk, form, bulk, h("div", { class: "table-wrap" }, table), pager));
  diskNotice(disk); // beside the list, not before it

  let page;
  try {
    page = await api("/api/v1/traces", { query: { ...query, preview: "false" } }); // the list shows no input/output
  } catch (e) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: columns.length, class: "empty error", role: "alert",
      text: t("Could not load traces: {error}", { error: errorText(e) }) })));
    return;
  }
  if (!page.items.length) {
    const filtered = FILTERS.some(([k]) => state[k]) || state.errors === "1";
    body.replaceChildren(h("tr", {}, h("td", { colspan: columns.length, class: "empty" },
      h("p", { text: filtered ? t("No traces match in this range.") : t("No traces in this range yet.") }),
      filtered ? h("p", { class: "muted", text: t("Some filters are set: clear them or widen the time range.") })
        : h("div", { class: "first-trace" }, firstTraceHint()))));
  } else {
    body.replaceChildren(...page.items.map((row) => h("tr", { class: row.error_count ? "has-error" : "" },
      selecting ? pickCell(row) : "", ...columns.map(([, , , cell]) => cell(row)))));
    numericHeaders(table);
    fillScores(body);
  }
  if (state.cursor) {
    pager.append(h("button", { type: "button", text: t("First page"), onclick: () => go({ cursor: "" }) }));
  }
  if (page.next_cursor) {
    pager.append(h("button", { type: "button", text: t("Next page"), onclick: () => {
      setParams({ ...state, cursor: page.next_cursor }); tracesPage(root);
    } }));
  }
}
