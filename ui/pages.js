// Sessions, users, dashboard and settings pages.
import { addToQueueDialog, annotateDialog, scoreList } from "/ui/annotations.js";
import { api } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { eraseButton } from "/ui/erase.js";
import { firstTraceHint } from "/ui/keys.js";
import { barChart, color } from "/ui/chart.js";
import { formatCost, formatCount, formatDuration, formatTime, h, pager, roleLabel, table, tokenCount, traceCount, traceLatency } from "/ui/dom.js";
import { fillScores, RANGES, rangeLabel } from "/ui/traces.js";
import { formatNumber, t, word } from "/ui/i18n.js";

const DAY = 86400;

function since(seconds) {
  return new Date(Date.now() - seconds * 1000).toISOString();
}

// The dashboard's ranges: those of the traces page from an hour up, so that its links keep the range.
const DASHBOARD_RANGES = ["1h", "24h", "7d", "30d"];

function rangePicker(current, onChange) {
  return h("select", { "aria-label": t("Time range"), onchange: (e) => onChange(e.target.value) },
    ...DASHBOARD_RANGES.map((key) =>
      h("option", { value: RANGES[key], selected: Number(current) === RANGES[key], text: rangeLabel(key) })));
}

// A turn's input or output as messages: a list of them, {messages: [...]}, or one message (an
// output such as OpenAI's choices[0].message), as the trace view reads them; else the text itself.
function messagesOf(text) {
  try {
    const value = JSON.parse(text);
    if (Array.isArray(value)) return value;
    if (value && Array.isArray(value.messages)) return value.messages;
    if (value && typeof value.role === "string" && ("content" in value || "parts" in value)) return [value];
  } catch { /* plain text */ }
  return text ? [{ content: text }] : [];
}

// A message's words: its text, its text blocks (OpenAI, Anthropic) or parts (GenAI), else its JSON.
function messageText(m) {
  if (typeof m.content === "string") return m.content;
  const blocks = Array.isArray(m.content) ? m.content : m.parts || [];
  const words = blocks.map((b) => (typeof b === "string" ? b : b?.text ?? b?.content ?? "")).filter(Boolean).join("\n");
  return words || JSON.stringify(m);
}

const PER_PAGE = 50;

/** A list over a time range (30 days by default), a page at a time, all kept in the URL: the
 * range picker, a search of the rows' ids (``searchLabel``), an order (``sorts``: [value, label]
 * pairs, the first the default), a table of ``endpoint``'s rows drawn by ``row(item, range)``
 * (``range`` is the traces page's name for it, for links), or ``empty``, and the pages. ``again``
 * draws it anew. */
async function rangeList(root, { path, endpoint, title, headers, row, empty, again, searchLabel, sorts = [] }) {
  const params = new URLSearchParams(location.search);
  const seconds = Number(params.get("seconds")) || 30 * DAY;
  const pageNumber = Math.max(1, Number(params.get("page")) || 1);
  const search = params.get("q") || "";
  const sort = sorts.some(([value]) => value === params.get("sort")) ? params.get("sort") : sorts[0]?.[0];
  const range = Object.keys(RANGES).find((key) => RANGES[key] === seconds) || "30d";
  // From the URL as it is when asked (a search typed while the last change still loads keeps it).
  const show = (next) => {
    const now = Object.fromEntries(new URLSearchParams(location.search));
    const query = Object.entries({ seconds, ...now, ...next }).filter(([, v]) => v !== "" && v !== undefined);
    history.pushState(null, "", here(`${path}?${new URLSearchParams(query)}`));
    root.firstElementChild?.setAttribute("aria-busy", "true"); // until the list for it is drawn
    again(root);
  };
  const page = await api(endpoint, { query: { start: since(seconds), limit: PER_PAGE, page: pageNumber,
    ...(search ? { search } : {}), ...(sort && sorts.length ? { sort } : {}) } });
  const box = h("input", { type: "search", value: search, placeholder: searchLabel, "aria-label": searchLabel, maxlength: 200 });
  root.replaceChildren(h("section", {},
    h("div", { class: "page-head" }, h("h1", { text: title }),
      rangePicker(seconds, (value) => show({ seconds: value, page: 1 })),
      h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); show({ q: box.value.trim(), page: 1 }); } }, box,
        h("button", { type: "submit", class: "secondary", text: t("Find") })),
      sorts.length ? h("select", { "aria-label": t("Order"), onchange: (e) => show({ sort: e.target.value, page: 1 }) },
        ...sorts.map(([value, label]) => h("option", { value, selected: value === sort, text: label }))) : null),
    page.items.length ? table(headers, page.items.map((item) => row(item, range)))
      : h("p", { class: "muted", text: search ? t("Nothing found for “{text}” in this range.", { text: search }) : empty }),
    pager(pageNumber, page.total, PER_PAGE, (n) => show({ page: n }))));
}

/** Sessions of the range's traces, the newest first. */
export async function sessionsPage(root) {
  await rangeList(root, {
    path: "/sessions", endpoint: "/api/v1/sessions", title: t("Sessions"), again: sessionsPage, searchLabel: t("Find a session"),
    headers: [t("Session"), t("Started"), t("Duration"), t("Traces"), t("Users"), t("Tokens"), t("Cost"), t("Environment")],
    empty: t("No sessions yet: set session.id (or a Langfuse sessionId) on your spans."),
    row: (s, range) => h("tr", {},
      h("td", {}, h("a", { href: here(`/sessions/${encodeURIComponent(s.id)}`), "data-link": true, text: s.id })),
      h("td", { text: formatTime(s.created_at) }),
      h("td", { class: "num", text: formatDuration((s.last_at - s.created_at) / 1e6) }),
      h("td", { class: "num", text: formatCount(s.traces) }),
      h("td", {}, ...s.users.flatMap((user, i) => [i ? ", " : "", h("a", { "data-link": true, text: user,
        href: here(`/traces?${new URLSearchParams({ user_id: user, range })}`) })])),
      h("td", { class: "num", text: formatCount(s.total_tokens) }),
      h("td", { class: "num", text: formatCost(s.total_cost) }),
      h("td", { text: s.environment })),
  });
}

/** One session: its traces in order as turns of a conversation, each with its input, output and
 * scores, a page at a time; the counts are the whole session's. */
/** The page drawn again where it is (a score given or deleted). */
const redraw = () => go(location.pathname + location.search);

export async function sessionPage(root, id) {
  const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
  const doc = await api(path);
  const turn = (trace) => h("div", { class: "turn card" },
    h("p", { class: "muted" }, h("a", { href: here(`/traces/${encodeURIComponent(trace.trace_id)}`), "data-link": true,
      text: trace.name || trace.trace_id }), ` · ${formatTime(trace.start_time)} · ${formatDuration(traceLatency(trace))} · `
      + `${tokenCount(trace.total_tokens)} · ${formatCost(trace.total_cost)}`),
    h("div", { class: "score-cell", "data-trace": trace.trace_id }),
    ...[["in", trace.input], ["out", trace.output]].flatMap(([side, text]) => messagesOf(text).map((m) =>
      h("div", { class: `msg role-${m.role || side}` }, h("div", { class: "role", text: m.role ? roleLabel(m.role) : side === "in" ? t("input") : t("output") }),
        h("div", { class: "part", text: messageText(m) })))));
  const replay = h("div", { class: "replay" });
  const more = h("button", { type: "button", class: "secondary", text: t("Load more") });
  let cursor = null;
  const show = (page) => {
    replay.append(...page.traces.map(turn));
    fillScores(replay);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.onclick = async () => {
    more.disabled = true;
    try {
      show(await api(path, { query: { cursor } }));
    } finally {
      more.disabled = false;
    }
  };
  // Each user's traces over the session's time.
  const during = { range: "custom", from: new Date(doc.created_at / 1e6).toISOString(),
    to: new Date(doc.last_at / 1e6 + 1000).toISOString() };
  const users = doc.users.flatMap((user, i) => [i ? ", " : "", h("a", { "data-link": true, text: user,
    href: here(`/traces?${new URLSearchParams({ user_id: user, ...during })}`) })]);
  root.replaceChildren(h("section", {}, h("p", {}, h("a", { href: here("/sessions"), "data-link": true, text: t("← Sessions") })),
    h("div", { class: "page-head" }, h("h1", { text: t("Session {id}", { id }) }),
      can("SCORE") ? h("button", { type: "button", class: "secondary", text: t("Annotate"),
        onclick: () => annotateDialog({ session: id }, doc.scores, redraw) }) : null,
      can("SCORE") ? h("button", { type: "button", class: "secondary", text: t("Add to queue"),
        onclick: () => addToQueueDialog({ session: id }) }) : null,
      eraseButton("sessions", id, t("Delete the session {id} ({traces}), with the spans, scores and logs, for good?",
        { id, traces: traceCount(doc.trace_count) }),
        (n) => go(here("/sessions"), t("The session {id} is deleted ({traces}).", { id, traces: traceCount(n) })))),
    h("p", { class: "muted session-totals" },
      [traceCount(doc.trace_count), tokenCount(doc.total_tokens), formatCost(doc.total_cost),
        formatDuration((doc.last_at - doc.created_at) / 1e6)].join(" · "),
      ...(users.length ? [" · ", ...users] : [])),
    scoreList(doc.scores, true, redraw),
    replay, more));
  show(doc);
}

/** Users of the range's traces, the most recently seen first. */
export async function usersPage(root) {
  await rangeList(root, {
    path: "/users", endpoint: "/api/v1/users", title: t("Users"), again: usersPage, searchLabel: t("Find a user"),
    sorts: [["last_seen", t("Last seen first")], ["total_cost", t("Highest cost first")], ["traces", t("Most traces first")],
      ["total_tokens", t("Most tokens first")]],
    headers: [t("User"), t("Traces"), t("Tokens"), t("Cost"), t("First seen"), t("Last seen"), ""],
    empty: t("No users yet: set user.id on your spans."),
    row: (u, range) => h("tr", {},
      h("td", {}, h("a", { href: here(`/traces?${new URLSearchParams({ user_id: u.user_id, range })}`), "data-link": true,
        text: u.user_id })),
      h("td", { class: "num", text: formatCount(u.traces) }), h("td", { class: "num", text: formatCount(u.total_tokens) }),
      h("td", { class: "num", text: formatCost(u.total_cost) }), h("td", { text: formatTime(u.first_seen) }),
      h("td", { text: formatTime(u.last_seen) }),
      // A user's erasure (GDPR): every trace of theirs, of any time, not only this range's.
      h("td", {}, eraseButton("users", u.user_id, t("Delete every trace of the user {id}, of any time, for good?",
        { id: u.user_id }), (n) => go(location.pathname + location.search,
        t("The data of the user {id} is deleted ({traces}).", { id: u.user_id, traces: traceCount(n) })),
      t("Delete data")))),
  });
}

function seriesBy(items, value) {
  const keys = new Map();
  for (const p of items) {
    if (!keys.has(p.key)) keys.set(p.key, new Map());
    keys.get(p.key).set(p.bucket, (keys.get(p.key).get(p.bucket) || 0) + value(p));
  }
  return [...keys].map(([key, points]) => ({ key, points }));
}

export async function dashboardPage(root, seconds = Number(new URLSearchParams(location.search).get("seconds")) || DAY) {
  const interval = seconds <= DAY ? 3600 : seconds <= 7 * DAY ? 6 * 3600 : DAY;
  const start = since(seconds);
  const query = { start, interval };
  const range = DASHBOARD_RANGES.find((key) => RANGES[key] === seconds) || "24h";
  const tracesLink = (params, text = t("View traces →")) => h("a", { class: "more", "data-link": true, text,
    href: here(`/traces?${new URLSearchParams({ range, ...params })}`) });
  root.replaceChildren(h("section", { class: "dashboard" }, h("h1", { text: t("Dashboard") }),
    h("p", { class: "muted", text: t("Loading…") })));
  const [all, byModel, byType, users, topTraces, scores] = await Promise.all([
    api("/api/v1/metrics/timeseries", { query }),
    api("/api/v1/metrics/timeseries", { query: { ...query, group_by: "model", observation_type: "GENERATION" } }),
    api("/api/v1/metrics/timeseries", { query: { ...query, group_by: "observation_type" } }),
    api("/api/v1/users", { query: { start, sort: "total_cost", limit: 5 } }),
    api("/api/v1/traces", { query: { start, sort: "total_cost", order: "desc", limit: 5, preview: "false" } }),
    api("/api/v1/scores/summary", { query: { start } }),
  ]);
  // Every bucket of the range, so that the bars stand where their time is.
  const buckets = [];
  const first = Math.floor((Date.now() / 1000 - seconds) / interval) * interval;
  for (let b = first; b <= Date.now() / 1000; b += interval) buckets.push(b);
  const sum = (items, f) => items.reduce((acc, p) => acc + Number(f(p) || 0), 0);
  const spans = sum(all.items, (p) => p.spans);
  const errors = sum(all.items, (p) => p.errors);
  const cost = sum(byModel.items, (p) => p.total_cost);
  const totals = [
    [t("Traces"), formatCount(sum(all.items, (p) => p.traces))], [t("Observations"), formatCount(spans)],
    [t("Tokens"), formatCount(sum(all.items, (p) => p.total_tokens))], [t("Cost"), formatCost(cost)],
    [t("Error rate"), spans ? formatNumber(errors / spans, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }) : "–"],
  ];
  const one = (key, f) => [{ key, points: new Map(all.items.map((p) => [p.bucket, f(p)])) }];
  const costByModel = seriesBy(byModel.items, (p) => Number(p.total_cost));
  const tokensByModel = seriesBy(byModel.items, (p) => p.total_tokens);
  const latencyRows = (items, param) => {
    const groups = new Map();
    for (const p of items) {
      const g = groups.get(p.key) || { spans: 0, p50: 0, p90: 0, p95: 0, p99: 0, ttft: null };
      g.spans += p.spans;
      // the worst bucket of the range: a cautious summary
      [g.p50, g.p90, g.p95, g.p99] = [0, 1, 2, 3].map((i) => Math.max([g.p50, g.p90, g.p95, g.p99][i], p.latency_ms[i]));
      if (p.ttft_ms !== null) g.ttft = Math.max(g.ttft || 0, p.ttft_ms);
      groups.set(p.key, g);
    }
    return [...groups].map(([key, g]) => h("tr", {},
      h("td", {}, key && param ? tracesLink({ [param]: key }, key) : key || "–"),
      h("td", { class: "num", text: formatCount(g.spans) }),
      ...[g.p50, g.p90, g.p95, g.p99].map((v) => h("td", { class: "num", text: formatDuration(v) })),
      h("td", { class: "num", text: g.ttft === null ? "–" : formatDuration(g.ttft) })));
  };
  const legend = (series, param) => h("p", { class: "legend" }, ...series.map((s, i) => h("span", {},
    h("i", { style: `background:${color(i)}` }), " ", s.key && param ? tracesLink({ [param]: s.key }, s.key) : s.key || "–")));
  const card = (title, link, ...content) => h("div", { class: "card" },
    h("div", { class: "card-head" }, h("h3", { text: title }), link), ...content);
  const empty = !spans;
  root.replaceChildren(h("section", { class: "dashboard" },
    h("div", { class: "head" }, h("h1", { text: t("Dashboard") }),
      rangePicker(seconds, (value) => {
        history.pushState(null, "", here(`/dashboard?seconds=${value}`));
        dashboardPage(root, Number(value));
      })),
    empty ? h("div", { class: "card first-trace" }, h("p", { text: t("No data in this range yet.") }), firstTraceHint()) : null,
    h("div", { class: "totals" }, ...totals.map(([label, value]) => h("div", { class: "card stat" },
      h("div", { class: "muted", text: label }), h("div", { class: "value", "data-stat": label, text: value })))),
    h("div", { class: "grid" },
      card(t("Traces over time"), tracesLink({}), barChart(buckets, one("traces", (p) => p.traces), { format: formatCount })),
      card(t("Observations over time"), tracesLink({}), barChart(buckets, one("observations", (p) => p.spans), { format: formatCount })),
      card(t("Cost by model"), tracesLink({ sort: "total_cost" }), barChart(buckets, costByModel, { format: formatCost }),
        legend(costByModel, "model")),
      card(t("Tokens by model"), tracesLink({ sort: "total_tokens" }), barChart(buckets, tokensByModel, { format: formatCount }),
        legend(tokensByModel, "model")),
      card(t("Error rate"), tracesLink({ errors: "1" }), barChart(buckets,
        one("errors", (p) => (p.spans ? (100 * p.errors) / p.spans : 0)), { format: (v) => `${v.toFixed(1)}%` })),
      card(t("Scores"), null, scores.items.length
        // Each score opens the traces that have it (a category, those that have that value).
        ? table([t("Score"), t("Type"), t("Count"), t("Mean"), t("Min"), t("Max")], scores.items.map((sc) => h("tr", {},
          h("td", {}, sc.data_type === "CATEGORICAL" ? sc.name : tracesLink({ score: `${sc.name}>=${sc.min}` }, sc.name)),
          h("td", { text: word(sc.data_type) }), h("td", { class: "num", text: formatCount(sc.count) }),
          ...(sc.data_type === "CATEGORICAL"
            ? [h("td", { colspan: 3 }, ...sc.top_values.flatMap((v, i) => [i ? ", " : "", tracesLink({ score: `${sc.name}=${v}` }, v)]))]
            : [sc.mean, sc.min, sc.max].map((v) => h("td", { class: "num", text: Number(v).toFixed(3) }))))))
        : h("p", { class: "muted", text: t("No scores yet: send them with the Langfuse SDK or API.") })),
      card(t("Latency by model (generations)"), null,
        table([t("Model"), t("Calls"), "p50", "p90", "p95", "p99", "TTFT"], latencyRows(byModel.items, "model"))),
      card(t("Latency by observation type"), null,
        table([t("Type"), t("Spans"), "p50", "p90", "p95", "p99", "TTFT"], latencyRows(byType.items, null))),
      card(t("Top users by cost"), h("a", { href: here("/users"), "data-link": true, class: "more", text: t("All users →") }),
        table([t("User"), t("Traces"), t("Tokens"), t("Cost")], users.items.map((u) => h("tr", {}, h("td", {}, tracesLink({ user_id: u.user_id }, u.user_id)),
            h("td", { class: "num", text: formatCount(u.traces) }), h("td", { class: "num", text: formatCount(u.total_tokens) }),
            h("td", { class: "num", text: formatCost(u.total_cost) }))))),
      card(t("Top traces by cost"), tracesLink({ sort: "total_cost" }),
        table([t("Trace"), t("Latency"), t("Tokens"), t("Cost")], topTraces.items.map((row) => h("tr", {},
          h("td", {}, h("a", { href: here(`/traces/${encodeURIComponent(row.trace_id)}`), "data-link": true, text: row.name || row.trace_id })),
          h("td", { class: "num", text: formatDuration(traceLatency(row)) }),
          h("td", { class: "num", text: formatCount(row.total_tokens) }),
          h("td", { class: "num", text: formatCost(row.total_cost) }))))),
    ),
  ));
}
