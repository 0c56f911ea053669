// The trace view: nested tree with a waterfall, and the selected span's details.
import { api } from "/ui/api.js";
import { formatCost, formatCount, formatDuration, formatTime, h } from "/ui/dom.js";

const TYPE_ICON = { GENERATION: "✦", AGENT: "◆", TOOL: "⚙", RETRIEVER: "⌕", EMBEDDING: "≋", CHAIN: "⛓",
  EVENT: "•", TRACE: "▣", SPAN: "▭", GUARDRAIL: "⛨", EVALUATOR: "✓" };

function parseJson(text) {
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

function partsOf(message) {
  if (Array.isArray(message.parts)) return message.parts;
  const content = message.content;
  const parts = [];
  if (typeof content === "string") parts.push({ type: "text", content });
  else if (Array.isArray(content)) {
    for (const block of content) {
      if (typeof block === "string") parts.push({ type: "text", content: block });
      else if (block && (block.text || block.content)) parts.push({ type: "text", content: block.text || block.content });
      else if (block) parts.push({ type: block.type || "part", content: JSON.stringify(block) });
    }
  }
  for (const call of message.tool_calls || []) {
    const fn = call.function || call;
    parts.push({ type: "tool_call", name: fn.name, arguments: fn.arguments });
  }
  return parts;
}

// Messages (GenAI parts or OpenAI style) as a chat; anything else as formatted JSON or text.
function renderIo(label, text) {
  if (!text) return null;
  const value = parseJson(text);
  const messages = Array.isArray(value) && value.length && value.every((m) => m && typeof m.role === "string")
    ? value : value && Array.isArray(value.messages) ? value.messages : null;
  let body;
  if (messages) {
    body = h("div", { class: "chat" }, ...messages.map((m) => h("div", { class: `msg role-${m.role}` },
      h("div", { class: "role", text: m.role }),
      ...partsOf(m).map((p) => {
        if (p.type === "text" || p.type === "reasoning") return h("div", { class: `part ${p.type}`, text: p.content });
        if (p.type === "tool_call") {
          const args = typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}, null, 2);
          return h("div", { class: "part tool" }, h("strong", { text: `→ ${p.name}` }), h("pre", { text: args }));
        }
        if (p.type === "tool_call_response") {
          const response = typeof p.response === "string" ? p.response : JSON.stringify(p.response, null, 2);
          return h("div", { class: "part tool" }, h("strong", { text: "← result" }), h("pre", { text: response }));
        }
        if (p.type === "uri" || p.type === "blob") return h("div", { class: "part media", text: `[${p.modality || "media"}]` });
        return h("pre", { class: "part", text: JSON.stringify(p, null, 2) });
      }))));
  } else if (value !== undefined && typeof value === "object") {
    body = h("pre", { class: "json", text: JSON.stringify(value, null, 2) });
  } else {
    body = h("pre", { class: "text", text });
  }
  return h("section", { class: "io" }, h("h3", { text: label }), body);
}

function attributeTable(title, attrs) {
  const entries = Object.entries(attrs || {});
  if (!entries.length) return null;
  const rows = entries.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: v })));
  const filter = h("input", { placeholder: "Filter attributes", "aria-label": `Filter ${title}`,
    oninput: () => rows.forEach((row, i) => {
      const [k, v] = entries[i];
      row.hidden = !`${k} ${v}`.toLowerCase().includes(filter.value.toLowerCase());
    }) });
  return h("section", {}, h("h3", { text: title }), filter, h("table", { class: "attrs" }, h("tbody", {}, ...rows)));
}

function scoreList(scores) {
  if (!scores.length) return null;
  return h("section", {}, h("h3", { text: "Scores" }), h("ul", { class: "scores" }, ...scores.map((sc) =>
    h("li", {}, h("strong", { text: sc.name }), `: ${sc.data_type === "CATEGORICAL" ? sc.string_value : sc.value}`,
      sc.comment ? h("span", { class: "muted", text: ` — ${sc.comment}` }) : null))));
}

function detail(span, scores) {
  const usage = [
    ["Input tokens", formatCount(span.input_tokens)], ["Output tokens", formatCount(span.output_tokens)],
    ["Cache read", formatCount(span.cache_read_tokens)], ["Reasoning", formatCount(span.reasoning_tokens)],
    ["Cost", formatCost(span.total_cost)],
    ...Object.entries(span.cost_details || {}).filter(([k]) => k !== "total").map(([k, v]) => [`Cost: ${k}`, formatCost(v)]),
  ];
  const ttft = span.completion_start_time ? (span.completion_start_time - span.start_time) / 1e6 : null;
  return h("div", { class: "detail" },
    h("h2", {}, h("span", { class: "type", text: TYPE_ICON[span.observation_type] || "▭" }), ` ${span.name}`),
    h("p", { class: "muted" }, `${span.observation_type} · ${formatDuration((span.end_time - span.start_time) / 1e6)}`,
      span.model ? ` · ${span.model}` : "", ttft !== null ? ` · first token after ${formatDuration(ttft)}` : "",
      span.status_code === "ERROR" ? h("span", { class: "err", text: ` · error: ${span.status_message}` }) : ""),
    span.input_tokens || span.output_tokens || Number(span.total_cost)
      ? h("table", { class: "usage" }, h("tbody", {}, ...usage.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: v })))))
      : null,
    scoreList(scores),
    renderIo("Input", span.input),
    renderIo("Output", span.output),
    attributeTable("Span attributes", span.span_attributes),
    attributeTable("Resource attributes", span.resource_attributes),
    span.event_names.length ? h("section", {}, h("h3", { text: "Events" }), h("ul", {},
      ...span.event_names.map((name, i) => h("li", {}, h("strong", { text: name }), " ",
        h("code", { text: span.event_attributes[i] }))))) : null,
  );
}

export async function tracePage(root, traceId, project) {
  root.replaceChildren(h("p", { class: "muted", text: "Loading trace…" }));
  const doc = await api(`/api/v1/traces/${encodeURIComponent(traceId)}`, { query: { project } });
  const spans = doc.spans;
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_span_id && byId.has(s.parent_span_id) && s.parent_span_id !== s.span_id) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else roots.push(s);
  }
  const t0 = Math.min(...spans.map((s) => s.start_time));
  const t1 = Math.max(...spans.map((s) => s.end_time), t0 + 1);
  const ordered = [];
  const walk = (s, depth) => {
    ordered.push([s, depth]);
    for (const c of (children.get(s.span_id) || []).sort((a, b) => a.start_time - b.start_time)) walk(c, depth + 1);
  };
  roots.sort((a, b) => (a.observation_type === "TRACE" ? -1 : 0) - (b.observation_type === "TRACE" ? -1 : 0)
    || a.start_time - b.start_time).forEach((s) => walk(s, 0));

  const panel = h("aside", { class: "panel" });
  const rows = ordered.map(([s, depth]) => {
    const left = ((s.start_time - t0) / (t1 - t0)) * 100;
    const width = Math.max(0.4, ((s.end_time - s.start_time) / (t1 - t0)) * 100);
    const row = h("div", { class: `row${s.status_code === "ERROR" || s.level === "ERROR" ? " has-error" : ""}`,
      role: "treeitem", tabindex: "-1", "data-span": s.span_id },
      h("div", { class: "label", style: `padding-left:${depth * 16 + 6}px` },
        h("span", { class: "type", title: s.observation_type, text: TYPE_ICON[s.observation_type] || "▭" }),
        h("span", { class: "name", text: s.name || s.span_id }),
        s.total_tokens ? h("span", { class: "tokens", text: formatCount(s.total_tokens) }) : null,
        Number(s.total_cost) ? h("span", { class: "cost", text: formatCost(s.total_cost) }) : null),
      h("div", { class: "track" }, h("div", { class: `bar type-${s.observation_type}`,
        style: `left:${left}%;width:${width}%`, title: formatDuration((s.end_time - s.start_time) / 1e6) },
        // time to first token: a tick inside the generation's bar
        s.completion_start_time && s.end_time > s.start_time ? h("i", { class: "ttft", title: "first token",
          style: `left:${Math.min(100, ((s.completion_start_time - s.start_time) / (s.end_time - s.start_time)) * 100)}%` })
          : null)),
      h("div", { class: "dur", text: formatDuration((s.end_time - s.start_time) / 1e6) }));
    row.addEventListener("click", () => select(s.span_id));
    return row;
  });
  const tree = h("div", { class: "tree", role: "tree", tabindex: "0" }, ...rows);
  let current = 0;
  function select(spanId) {
    current = ordered.findIndex(([s]) => s.span_id === spanId);
    rows.forEach((r, i) => r.classList.toggle("selected", i === current));
    const span = ordered[current][0];
    const isRoot = current === 0;
    panel.replaceChildren(detail(span, doc.scores.filter((sc) => sc.observation_id === span.span_id
      || (isRoot && !sc.observation_id))));
    history.replaceState(null, "", `${location.pathname}?span=${encodeURIComponent(spanId)}`);
  }
  tree.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "j") select(ordered[Math.min(ordered.length - 1, current + 1)][0].span_id);
    else if (event.key === "ArrowUp" || event.key === "k") select(ordered[Math.max(0, current - 1)][0].span_id);
    else return;
    event.preventDefault();
  });

  const totalCost = spans.reduce((sum, s) => sum + Number(s.total_cost || 0), 0);
  const totalTokens = spans.reduce((sum, s) => sum + Number(s.total_tokens || 0), 0);
  root.replaceChildren(h("section", { class: "trace" },
    h("p", {}, h("a", { href: "/traces", "data-link": true, text: "← Traces" })),
    h("h1", { text: ordered[0][0].name || traceId }),
    h("p", { class: "muted" }, `${formatTime(t0)} · ${formatDuration((t1 - t0) / 1e6)} · ${spans.length} spans · `
      + `${formatCount(totalTokens)} tokens · ${formatCost(totalCost)}`),
    h("div", { class: "split" }, tree, panel)));
  const wanted = new URLSearchParams(location.search).get("span");
  select(wanted && byId.has(wanted) ? wanted : ordered[0][0].span_id);
}
