// The trace view: nested tree with a waterfall, and the selected span's details.
import { api } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { addToDatasetDialog } from "/ui/datasets.js";
import { addToQueueDialog, annotateDialog, scoreList } from "/ui/annotations.js";
import { commentsSection } from "/ui/comments.js";
import { parseJson, partsOf, renderIo } from "/ui/chat.js";
import { formatCost, formatCount, formatDuration, formatTime, h, spanCount, spanDuration, tokenCount } from "/ui/dom.js";
import { eraseButton } from "/ui/erase.js";
import { errorText, formatMoney, t } from "/ui/i18n.js";
import { MEDIA_REF, useSharedMedia } from "/ui/media.js";
import { openInPlayground } from "/ui/playground.js";
import { reportedSkills, skillPath } from "/ui/skills.js";

const TYPE_ICON = { GENERATION: "✦", AGENT: "◆", TOOL: "⚙", RETRIEVER: "⌕", EMBEDDING: "≋", CHAIN: "⚭",
  EVENT: "•", TRACE: "▣", SPAN: "▭", GUARDRAIL: "◈", EVALUATOR: "✓" };

// JSON text written with ASCII escapes (Python's json.dumps, as the Langfuse SDKs write their
// attributes) shown with its characters, not as \uXXXX; any other value as it is.
function readable(value) {
  if (typeof value !== "string" || !/\\u[0-9a-fA-F]{4}/.test(value) || !/^\s*[[{"]/.test(value)) return value;
  const parsed = parseJson(value);
  return parsed === undefined ? value : JSON.stringify(parsed);
}

/** Attributes as a table; ``types`` (the row's ``*_attribute_types``) turns stored arrays and
 * maps, kept as OTLP/JSON AnyValues, back into plain JSON. */
function attributeTable(title, attrs, types) {
  const entries = Object.entries(attrs || {}).map(([k, v]) => [k, attributeText(v, types?.[k])]);
  if (!entries.length) return null;
  const rows = entries.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: v })));
  const filter = h("input", { placeholder: t("Filter attributes"), "aria-label": t("Filter {what}", { what: title }),
    oninput: () => rows.forEach((row, i) => {
      const [k, v] = entries[i];
      row.hidden = !`${k} ${v}`.toLowerCase().includes(filter.value.toLowerCase());
    }) });
  // A filter only where there is something to look for.
  return h("section", {}, h("h3", { text: title }), entries.length > 6 ? filter : null,
    h("table", { class: "attrs" }, h("tbody", {}, ...rows)));
}

// A generation's parameters (temperature, max tokens, ...), stored as one JSON object.
function modelParameters(text) {
  if (!text) return null;
  const parsed = parseJson(text);
  const entries = parsed && typeof parsed === "object" && !Array.isArray(parsed)
    ? Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])
    : [["", text]];
  return h("section", {}, h("h3", { text: t("Model parameters") }), h("table", { class: "attrs" }, h("tbody", {},
    ...entries.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: v }))))));
}

// Metadata values are stored as JSON text (strings quoted) or, from some exporters, as plain
// text: a string is shown without its quotes, anything else as compact JSON.
function metadataTable(metadata) {
  const shown = Object.entries(metadata || {}).map(([k, v]) => {
    const parsed = parseJson(v);
    return [k, parsed === undefined ? v : typeof parsed === "string" ? parsed : JSON.stringify(parsed)];
  });
  return attributeTable(t("Metadata"), Object.fromEntries(shown));
}

/** The page drawn again where it is (a score given or deleted). */
const redraw = () => go(location.pathname + location.search);

// OTLP event attributes are stored as OTLP JSON key-value lists.
function eventAttributes(text) {
  const list = parseJson(text);
  if (!Array.isArray(list)) return {};
  return Object.fromEntries(list.map((kv) => {
    const value = plainAnyValue(kv.value || {});
    return [kv.key, value !== null && typeof value === "object" ? JSON.stringify(value) : String(value)];
  }));
}

function events(span) {
  if (!span.event_names.length) return null;
  const items = span.event_names.map((name, i) => {
    const attrs = eventAttributes(span.event_attributes[i]);
    const at = span.event_times?.[i] ? ` +${formatDuration((span.event_times[i] - span.start_time) / 1e6)}` : "";
    if (name === "exception") {
      return h("li", { class: "exception" }, h("strong", { class: "err",
        text: `${attrs["exception.type"] || "exception"}: ${attrs["exception.message"] || ""}` }), h("span", { class: "muted", text: at }),
      attrs["exception.stacktrace"] ? h("pre", { text: attrs["exception.stacktrace"] }) : null);
    }
    return h("li", {}, h("strong", { text: name }), h("span", { class: "muted", text: at }), " ",
      h("code", { text: Object.entries(attrs).map(([k, v]) => `${k}=${v}`).join(" ") }));
  });
  return h("section", {}, h("h3", { text: t("Events") }), h("ul", { class: "events" }, ...items));
}

const SEVERITY = [[21, "FATAL"], [17, "ERROR"], [13, "WARN"], [9, "INFO"], [5, "DEBUG"], [1, "TRACE"]];
export function severityName(record) {
  if (record.severity_text) return record.severity_text;
  const found = SEVERITY.find(([n]) => record.severity_number >= n);
  return found ? found[1] : "";
}

// An attribute stored with its OTLP type (arrays and kvlists as OTLP/JSON) shown as plain JSON.
function plainAnyValue(v) {
  if (!v || typeof v !== "object") return v;
  if ("arrayValue" in v) return (v.arrayValue.values || []).map(plainAnyValue);
  if ("kvlistValue" in v) return Object.fromEntries((v.kvlistValue.values || []).map((kv) => [kv.key, plainAnyValue(kv.value)]));
  // int64s come as strings in OTLP/JSON: numbers again where a double holds them exactly
  if ("intValue" in v) return Number.isSafeInteger(Number(v.intValue)) ? Number(v.intValue) : v.intValue;
  return v.stringValue ?? v.doubleValue ?? v.boolValue ?? v.bytesValue ?? null;
}
function attributeText(value, type) {
  if (type !== "array" && type !== "kvlist") return readable(value);
  const parsed = parseJson(value);
  return parsed ? JSON.stringify(plainAnyValue(parsed)) : value;
}

function logList(records, span) {
  if (!records.length) return null;
  const items = records.map((r) => h("li", { class: r.severity_number >= 17 ? "exception" : "" },
    h("strong", { class: r.severity_number >= 17 ? "err" : "", text: r.event_name || severityName(r) || "log" }),
    h("span", { class: "muted", text: ` +${formatDuration((r.time - span.start_time) / 1e6)}` }), " ",
    r.body ? h("span", { text: r.body.length > 500 ? `${r.body.slice(0, 500)}…` : r.body }) : null,
    Object.keys(r.log_attributes).length ? h("code", { class: "log-attrs",
      text: Object.entries(r.log_attributes).map(([k, raw]) => {
        const v = attributeText(raw, r.log_attribute_types[k]);
        return `${k}=${v.length > 200 ? `${v.slice(0, 200)}…` : v}`;
      }).join(" ") })
      : null));
  return h("section", {}, h("h3", { text: t("Logs ({n})", { n: records.length }) }), h("ul", { class: "events logs" }, ...items));
}

const PLAYGROUND_ROLES = new Set(["system", "developer", "user", "assistant"]);

// A message part's image, as the playground sends it (a URL, a data URL, or a file of the trace's
// media reference), or null: OpenAI's and Anthropic's blocks and the GenAI conventions' parts.
function imageOf(p) {
  let value;
  let image = false;
  if (p.type === "media") [value, image] = [p.value, p.label === "image" || String(p.mime || "").startsWith("image/")];
  else if (p.type === "uri") [value, image] = [p.uri, p.modality === "image" || String(p.mime_type || "").startsWith("image/")];
  else if (p.type === "blob" && String(p.mime_type || "").startsWith("image/")) [value, image] = [`data:${p.mime_type};base64,${p.content}`, true];
  value = String(value ?? "");
  const ref = [...value.matchAll(MEDIA_REF)][0];
  if (ref) return ref[1].startsWith("image/") && ref[0] === value ? value : null;
  return (image || value.startsWith("data:image/")) && /^(https?:\/\/|data:image\/)/.test(value) ? value : null;
}

const asText = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));

// A message as the playground's: its text and, in a user message, its images; an assistant's tool
// calls (OpenAI's tool_calls, Anthropic's tool_use blocks, the GenAI conventions' tool_call parts);
// tool results (OpenAI's tool messages, Anthropic's tool_result blocks, tool_call_response parts)
// as tool messages. Returns the messages and how many parts it cannot send (audio, documents).
function seedMessages(m) {
  const blocks = Array.isArray(m.content) ? m.content.filter((b) => b && typeof b === "object") : [];
  const results = [
    ...blocks.filter((b) => b.type === "tool_result").map((b) => ({ id: b.tool_use_id, content: Array.isArray(b.content)
      ? b.content.map((c) => c.text ?? asText(c)).join("\n") : asText(b.content) })),
    ...(m.parts || []).filter((p) => p.type === "tool_call_response").map((p) => ({ id: p.id, content: asText(p.response) })),
  ];
  const parts = partsOf({ ...m, content: Array.isArray(m.content) ? m.content.filter((b) => !["tool_result", "tool_use"].includes(b?.type)) : m.content });
  const calls = [
    ...parts.filter((p) => p.type === "tool_call").map((p) => ({ id: p.id, name: p.name, arguments: asText(p.arguments ?? {}) })),
    ...blocks.filter((b) => b.type === "tool_use").map((b) => ({ id: b.id, name: b.name, arguments: asText(b.input ?? {}) })),
  ].map((c, i) => ({ ...c, id: String(c.id || `call_${i + 1}`), name: String(c.name || "") }));
  const text = parts.filter((p) => p.type === "text").map((p) => String(p.content ?? "")).join("\n");
  if (m.role === "tool") {
    return { messages: [{ role: "tool", tool_call_id: String(m.tool_call_id || m.id || results[0]?.id || ""), content: text || results[0]?.content || "" }],
      leftOut: 0 };
  }
  const role = PLAYGROUND_ROLES.has(m.role) ? m.role : "user";
  const images = role === "user" ? parts.map(imageOf).filter(Boolean) : [];
  const sentCalls = role === "assistant" ? calls : []; // calls go in assistant messages only
  const kept = parts.filter((p) => p.type === "text" || p.type === "tool_call" || p.type === "tool_call_response").length
    + images.length - (calls.length - sentCalls.length);
  const out = results.map((r) => ({ role: "tool", tool_call_id: String(r.id || ""), content: r.content }));
  if (text || images.length || sentCalls.length || !out.length) {
    out.push({ role, content: text, ...(images.length ? { images } : {}), ...(sentCalls.length ? { tool_calls: sentCalls } : {}) });
  }
  return { messages: out, leftOut: parts.length - kept };
}

// Langfuse's LangChain handler for JavaScript sends a tool's result with the tool's name in place
// of a role: a tool message answering the call of that name in the assistant message before it.
function namedResults(list) {
  let calls = [];
  return list.map((m) => {
    if (m.role === "assistant") calls = partsOf(m).filter((p) => p.type === "tool_call");
    else if (m.role !== "tool" && !PLAYGROUND_ROLES.has(m.role)) {
      const call = calls.find((c) => c.name === m.role);
      if (call) return { ...m, role: "tool", tool_call_id: call.id };
    }
    return m;
  });
}

// The tools a generation offered its model, as {name, description, parameters}: from its input
// ({messages, tools}), its model parameters, or the GenAI conventions' gen_ai.tool.definitions.
function toolsOf(span, value, params) {
  const attrs = span.span_attributes || {};
  const listed = [value?.tools, value?.functions, params?.tools, parseJson(params?.tools), parseJson(attrs["gen_ai.tool.definitions"])]
    .find((v) => Array.isArray(v) && v.length) || [];
  return listed.map((tool) => tool?.function || tool).filter((fn) => fn && typeof fn.name === "string")
    .map((fn) => ({ name: fn.name, description: fn.description || "", parameters: fn.parameters || fn.input_schema || { type: "object", properties: {} } }));
}

// A generation as the playground's starting point: its messages (seedMessages), tools, model and
// parameters. What it cannot send (audio, documents) is counted, so that the playground says so.
function playgroundSeed(span) {
  if (span.observation_type !== "GENERATION" || !span.input) return null;
  const value = parseJson(span.input);
  const list = Array.isArray(value) ? value : value && Array.isArray(value.messages) ? value.messages : null;
  let messages;
  let leftOut = 0;
  if (list && list.length && list.every((m) => m && typeof m.role === "string")) {
    messages = namedResults(list).flatMap((m) => {
      const seeded = seedMessages(m);
      leftOut += seeded.leftOut;
      return seeded.messages;
    });
  } else if (value === undefined || typeof value === "string") {
    messages = [{ role: "user", content: value === undefined ? span.input : value }];
  } else return null;
  const params = parseJson(span.model_parameters);
  const tools = toolsOf(span, value, params);
  const { tools: _, ...sampling } = params && typeof params === "object" ? params : {};
  return { messages, model: span.request_model || span.model, params: sampling, ...(tools.length ? { tools } : {}),
    leftOut, from: { label: span.name, href: here(`/traces/${encodeURIComponent(span.trace_id)}?span=${encodeURIComponent(span.span_id)}`) } };
}

/** A span's detail; ``trace``: the trace's input and output its client set apart from its spans'
 * (shown on the trace's first span, where they differ from its own); ``countedOn``: the spans its
 * usage and cost are counted on, as [span, show] (a model call's record not counted, otlp_receiver.nested_calls). */
function detail(span, scores, records = [], trace = {}, countedOn = [], allScores = scores) {
  const costs = span.cost_details || {};
  const n = (x) => Number(x || 0);
  // The tokens each kind of cost is charged for, and the kind's name in the reader's language.
  // Counts are inclusive, costs are not (as pricing.compute_cost and Langfuse charge them): input
  // is charged without the cached tokens, output without reasoning when that has a price of its own.
  const charged = {
    input: [Math.max(0, n(span.input_tokens) - n(span.cache_read_tokens) - n(span.cache_write_tokens)), t("Input")],
    output: [Math.max(0, n(span.output_tokens) - ("reasoning" in costs ? n(span.reasoning_tokens) : 0)), t("Output")],
    cache_read: [n(span.cache_read_tokens), t("Cache read")],
    cache_write: [n(span.cache_write_tokens), t("Cache write")],
    reasoning: [n(span.reasoning_tokens), t("Reasoning")],
  };
  const counted = (span.span_attributes || {})["tracehouse.usage.counted"];
  const usage = [
    [t("Input tokens"), formatCount(span.input_tokens)], [t("Output tokens"), formatCount(span.output_tokens)],
    // Cache reads and writes and reasoning only for the models and calls that have them.
    ...(Number(span.cache_read_tokens) ? [[t("Cache read"), formatCount(span.cache_read_tokens)]] : []),
    ...(Number(span.cache_write_tokens) ? [[t("Cache write"), formatCount(span.cache_write_tokens)]] : []),
    ...(Number(span.reasoning_tokens) ? [[t("Reasoning"), formatCount(span.reasoning_tokens)]] : []),
    // Tokens the call did not report (streamed without usage), counted here on its messages.
    ...(counted ? [[t("Counted"), t("by Tracehouse with {how}: the call reported no usage", { how: counted })]] : []),
    [t("Cost"), formatCost(span.total_cost)],
    // Each cost with the price it implies per million tokens: the rate that was applied.
    ...Object.entries(costs).filter(([k]) => k !== "total").map(([k, v]) => {
      const [tokens, kind] = Object.hasOwn(charged, k) ? charged[k] : [0, k];  // a client's own kind, as sent
      const rate = tokens ? ` ${t("at {price} / 1M tokens", { price: formatMoney((Number(v) / tokens) * 1e6) })}` : "";
      return [t("Cost: {kind}", { kind }), `${formatCost(v)}${rate}`];
    }),
  ];
  const ttft = span.completion_start_time ? (span.completion_start_time - span.start_time) / 1e6 : null;
  const skills = reportedSkills(span.span_attributes);
  return h("div", { class: "detail" },
    h("div", { class: "detail-head" },
      h("h2", {}, h("span", { class: "type", text: TYPE_ICON[span.observation_type] || "▭" }), ` ${span.name}`),
      h("span", { class: "filters" },
        can("SCORE") && !sharedView ? h("button", { type: "button", class: "secondary", text: t("Annotate"),
          onclick: () => annotateDialog(span, allScores, redraw) }) : null,
        can("SCORE") ? h("button", { type: "button", class: "secondary", text: t("Add to queue"),
          onclick: () => addToQueueDialog(span) }) : null,
        can("WRITE_CONTENT") ? h("button", { type: "button", class: "secondary", text: t("Add to dataset"),
          onclick: () => addToDatasetDialog(span) }) : null,
        !sharedView && playgroundSeed(span) ? h("button", { type: "button", class: "secondary", text: t("Open in playground"),
          onclick: () => openInPlayground(playgroundSeed(span)) }) : null)),
    h("p", { class: "muted" }, `${span.observation_type} · ${spanDuration(span)}`,
      span.model ? ` · ${span.model}` : "", ttft !== null ? ` · ${t("first token after {time}", { time: formatDuration(ttft) })}` : "",
      // Langfuse's levels: ERROR is shown as the error it is; WARNING and DEBUG by name, with
      // the status message any level may carry.
      span.level === "WARNING" || span.level === "DEBUG"
        ? h("span", { class: span.level === "WARNING" ? "warn" : "", text: ` · ${t("level {level}", { level: span.level })}` }) : "",
      span.version ? ` · ${t("version {v}", { v: span.version })}` : "",
      span.status_code === "ERROR" ? h("span", { class: "err", text: ` · ${t("error: {message}", { message: span.status_message })}` })
        : span.status_message ? ` · ${span.status_message}` : ""),
    span.prompt_name ? h("p", { class: "prompt-link" }, t("Prompt: "),
      h("a", { href: here(`/prompts/${encodeURIComponent(span.prompt_name)}${span.prompt_version ? `?version=${encodeURIComponent(span.prompt_version)}` : ""}`),
        "data-link": true, text: `${span.prompt_name}${span.prompt_version ? ` · ${t("version {v}", { v: span.prompt_version })}` : ""}` })) : null,
    skills.length ? h("p", { class: "skills-link" }, t("Skills available: "),
      ...skills.flatMap((s, k) => [k ? ", " : "", h("a", { href: skillPath(s.name, { version: s.version }), "data-link": true,
        text: s.version ? `${s.name} · ${t("version {v}", { v: s.version })}` : s.name })])) : null,
    span.input_tokens || span.output_tokens || Number(span.total_cost)
      ? h("table", { class: "usage" }, h("tbody", {}, ...usage.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: v })))))
      : null,
    countedOn.length ? h("p", { class: "muted counted-on" }, t("This call has another record: its usage and cost are counted once, on "),
      ...countedOn.flatMap(([other, show], k) => [k ? ", " : "", h("a", { text: other.name,
        href: here(`/traces/${encodeURIComponent(other.trace_id)}?span=${encodeURIComponent(other.span_id)}`),
        onclick: (event) => { event.preventDefault(); show(); } })])) : null,
    scoreList(scores, !sharedView, redraw),
    trace.trace_input != null && trace.trace_input !== span.input ? renderIo(t("Trace input"), trace.trace_input) : null,
    trace.trace_output != null && trace.trace_output !== span.output ? renderIo(t("Trace output"), trace.trace_output) : null,
    renderIo(t("Input"), span.input),
    renderIo(t("Output"), span.output),
    modelParameters(span.model_parameters),
    metadataTable(span.metadata),
    sharedView ? null : commentsSection(span),
    attributeTable(t("Span attributes"), span.span_attributes, span.span_attribute_types),
    attributeTable(t("Resource attributes"), span.resource_attributes, span.resource_attribute_types),
    attributeTable(`${t("Scope attributes")}${span.scope_name ? ` (${span.scope_name}${span.scope_version ? ` ${span.scope_version}` : ""})` : ""}`,
      span.scope_attributes, span.scope_attribute_types),
    events(span),
    logList(records, span),
  );
}

const CHUNK = 150; // rows rendered per animation frame: a large trace paints its first screen at once
let sharedView = false; // a public trace read signed out: no comments or actions

/** The public trace at this path, for someone signed out; null when there is none. */
export async function sharedTrace(path) {
  const m = path.match(/^\/project\/([^/]+)\/traces\/([^/]+)\/?$/);
  if (!m) return null;
  const [project, traceId] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
  try {
    const doc = await api(`/api/v1/public/traces/${encodeURIComponent(project)}/${encodeURIComponent(traceId)}`);
    return { project, traceId, doc };
  } catch {
    return null;
  }
}

// Share: a public link anyone can open without signing in, on or off.
async function shareDialog(traceId) {
  const state = await api(`/api/v1/traces/${encodeURIComponent(traceId)}/share`);
  const link = `${location.origin}${here(`/traces/${encodeURIComponent(traceId)}`)}`;
  const box = h("input", { type: "checkbox", "aria-label": t("Public: anyone with the link can see this trace"), checked: state.public });
  const linkLine = h("pre", { class: "snippet-text", text: link });
  const note = h("p", { class: "muted small" });
  const error = h("p", { class: "error", role: "alert" });
  const show = (doc) => {
    linkLine.hidden = !doc.public;
    note.textContent = doc.by_client ? t("Its client sent it as public (Langfuse's public=True); this choice wins over that.") : "";
  };
  show(state);
  box.addEventListener("change", async () => {
    error.textContent = "";
    try {
      show(await api(`/api/v1/traces/${encodeURIComponent(traceId)}/share`, { method: "PUT", body: { public: box.checked } }));
    } catch (err) {
      box.checked = !box.checked;
      error.textContent = errorText(err);
    }
  });
  const dialog = h("dialog", { class: "card add-to-dataset share-dialog" },
    h("h2", { text: t("Share this trace") }),
    h("label", {}, box, " ", t("Public: anyone with the link can see this trace")),
    h("p", { class: "muted small", text: t("They see its spans, inputs, outputs and scores; nothing else of the project.") }),
    linkLine, note, error,
    h("div", { class: "filters" },
      h("button", { type: "button", class: "secondary", text: t("Copy link"), onclick: () => navigator.clipboard?.writeText(link) }),
      h("button", { type: "button", class: "link", text: t("Close"), onclick: () => { dialog.close(); dialog.remove(); } })));
  document.body.append(dialog);
  dialog.showModal();
}

/** The trace view. ``shared``: a public trace of project ``shared.project`` read by someone
 * signed out (its spans and scores only; no logs, comments or actions). */
export async function tracePage(root, traceId, shared = null) {
  performance.mark("th-trace-start");
  sharedView = Boolean(shared);
  useSharedMedia(shared ? shared.doc.media || {} : null);
  root.replaceChildren(h("p", { class: "muted", text: t("Loading trace…") }));
  const [doc, logDoc] = shared ? [shared.doc, { items: [] }] : await Promise.all([
    api(`/api/v1/traces/${encodeURIComponent(traceId)}`),
    // The trace's log records (events of GenAI calls, application logs); a trace shows without them.
    api(`/api/v1/traces/${encodeURIComponent(traceId)}/logs`).catch(() => ({ items: [] })),
  ]);
  if (!root.isConnected) return; // the user moved on while it loaded: the address is theirs now
  const spans = doc.spans;
  const logsBySpan = new Map();
  for (const record of logDoc.items) {
    const key = spans.some((s) => s.span_id === record.span_id) ? record.span_id : "";
    if (!logsBySpan.has(key)) logsBySpan.set(key, []);
    logsBySpan.get(key).push(record);
  }
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_span_id && byId.has(s.parent_span_id) && s.parent_span_id !== s.span_id) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else roots.push(s);
  }
  const t0 = spans.reduce((m, s) => Math.min(m, s.start_time), Infinity);
  const t1 = Math.max(spans.reduce((m, s) => Math.max(m, s.end_time), -Infinity), t0 + 1);
  const ordered = []; // [span, depth, parent index]
  const walk = (s, depth, parent) => {
    const index = ordered.length;
    ordered.push([s, depth, parent]);
    for (const c of (children.get(s.span_id) || []).sort((a, b) => a.start_time - b.start_time)) walk(c, depth + 1, index);
  };
  roots.sort((a, b) => (a.observation_type === "TRACE" ? -1 : 0) - (b.observation_type === "TRACE" ? -1 : 0)
    || a.start_time - b.start_time).forEach((s) => walk(s, 0, -1));

  // The waterfall shows [view0, view1] of the trace (fractions); zoom narrows it around the selection.
  let view0 = 0;
  let view1 = 1;
  const collapsed = new Set();
  const panel = h("aside", { class: "panel", "aria-label": t("Selected span") });
  const rows = new Array(ordered.length);
  const bars = new Array(ordered.length);
  const place = (i) => {
    const s = ordered[i][0];
    const span = view1 - view0;
    const left = (((s.start_time - t0) / (t1 - t0)) - view0) / span * 100;
    const width = Math.max(0.3, ((s.end_time - s.start_time) / (t1 - t0)) / span * 100);
    bars[i].style.left = `${left}%`;
    bars[i].style.width = `${width}%`;
  };
  const makeRow = (i) => {
    const [s, depth] = ordered[i];
    const hasChildren = children.has(s.span_id);
    const duration = spanDuration(s);
    const bar = h("div", { class: `bar type-${s.observation_type}`,
      title: `${s.name} · ${duration}${s.model ? ` · ${s.model}` : ""}${s.total_tokens ? ` · ${tokenCount(s.total_tokens)}` : ""}` },
      // time to first token: a tick inside the generation's bar
      s.completion_start_time && s.end_time > s.start_time ? h("i", { class: "ttft", title: t("first token"),
        style: `left:${Math.min(100, ((s.completion_start_time - s.start_time) / (s.end_time - s.start_time)) * 100)}%` })
        : null,
      // its log records: a mark each, where it happened within the span
      ...(logsBySpan.get(s.span_id) || []).map((r) => h("i", {
        class: `log-mark${r.severity_number >= 17 ? " err" : ""}`, title: r.event_name || r.body.slice(0, 80),
        style: `left:${s.end_time > s.start_time
          ? Math.max(0, Math.min(100, ((r.time - s.start_time) / (s.end_time - s.start_time)) * 100)) : 0}%` })));
    bars[i] = bar;
    place(i);
    const row = h("div", { class: `row${s.status_code === "ERROR" || s.level === "ERROR" ? " has-error" : ""}`,
      role: "treeitem", tabindex: "-1", "data-span": s.span_id, "aria-level": depth + 1,
      "aria-expanded": hasChildren ? "true" : undefined },
      h("div", { class: "label", style: `padding-left:${depth * 14 + 4}px` },
        hasChildren ? h("button", { type: "button", class: "twisty", "aria-label": t("Collapse or expand"), text: "▾",
          onclick: (e) => { e.stopPropagation(); toggle(i); } }) : h("span", { class: "twisty" }),
        h("span", { class: "type", title: s.observation_type, text: TYPE_ICON[s.observation_type] || "▭" }),
        h("span", { class: "name", text: s.name || s.span_id }),
        s.status_code === "ERROR" || s.level === "ERROR" ? h("span", { class: "err", title: t("error"), text: "!" })
          : s.level === "WARNING" ? h("span", { class: "warn", title: s.status_message || t("warning"), text: "!" }) : null,
        s.total_tokens ? h("span", { class: "tokens", text: formatCount(s.total_tokens) }) : null,
        Number(s.total_cost) ? h("span", { class: "cost", text: formatCost(s.total_cost) }) : null),
      h("div", { class: "track" }, bar),
      h("div", { class: "dur", text: duration }));
    row.addEventListener("click", () => select(i));
    row.hidden = !visible(i);
    rows[i] = row;
    return row;
  };
  const axis = h("div", { class: "axis-row" }, h("div", { class: "label muted", text: spanCount(spans.length) }),
    h("div", { class: "ticks" }), h("div"));
  const drawAxis = () => {
    const ticks = axis.children[1];
    const span = (t1 - t0) * (view1 - view0);
    const label = (ns) => (ns > 0 ? formatDuration(ns / 1e6) : "0"); // code, not text
    ticks.replaceChildren(...[0, 0.25, 0.5, 0.75].map((f) => h("span", { style: `left:${f * 100}%`,
      text: label((t1 - t0) * view0 + span * f) })));
  };
  drawAxis();
  const tree = h("div", { class: "tree", role: "tree", tabindex: "0", "aria-label": t("Spans") }, axis);

  function visible(i) {
    for (let p = ordered[i][2]; p >= 0; p = ordered[p][2]) if (collapsed.has(p)) return false;
    return true;
  }
  function toggle(i, open) {
    const isOpen = !collapsed.has(i);
    if (open === isOpen) return;
    if (isOpen) collapsed.add(i); else collapsed.delete(i);
    rows[i]?.setAttribute("aria-expanded", String(!isOpen));
    const twisty = rows[i]?.querySelector("button.twisty");
    if (twisty) twisty.textContent = isOpen ? "▸" : "▾";
    rows.forEach((row, j) => { if (row) row.hidden = !visible(j); });
  }
  function zoom(factor) {
    const s = ordered[current][0];
    const mid = ((s.start_time + s.end_time) / 2 - t0) / (t1 - t0);
    const width = Math.min(1, Math.max(0.002, (view1 - view0) * factor));
    view0 = Math.max(0, Math.min(1 - width, mid - width / 2));
    view1 = view0 + width;
    redraw();
  }
  function zoomTo(i) {
    const s = ordered[i][0];
    const a = (s.start_time - t0) / (t1 - t0);
    const b = (s.end_time - t0) / (t1 - t0);
    const pad = Math.max((b - a) * 0.05, 0.001);
    view0 = Math.max(0, a - pad);
    view1 = Math.min(1, Math.max(b + pad, view0 + 0.002));
    redraw();
  }
  function redraw() {
    rows.forEach((row, i) => { if (row) place(i); });
    drawAxis();
    zoomLabel.textContent = `${Math.round(1 / (view1 - view0))}×`;
  }
  let current = 0;
  function select(i) {
    current = i;
    rows.forEach((r, j) => r?.classList.toggle("selected", j === current));
    rows[current]?.scrollIntoView({ block: "nearest" });
    const span = ordered[current][0];
    const records = [...(logsBySpan.get(span.span_id) || []), ...(current === 0 ? logsBySpan.get("") || [] : [])];
    // A model call's record not counted: the records it is counted on, to go to.
    const countedOn = ((span.span_attributes || {})["tracehouse.usage.counted_in"] || "").split(",")
      .map((id) => ordered.findIndex(([s]) => s.span_id === id)).filter((j) => j >= 0)
      .map((j) => [ordered[j][0], () => select(j)]);
    panel.replaceChildren(detail(span, doc.scores.filter((sc) => sc.observation_id === span.span_id
      || (current === 0 && !sc.observation_id)), records, current === 0 ? doc : {}, countedOn, doc.scores));
    history.replaceState(null, "", `${location.pathname}?span=${encodeURIComponent(span.span_id)}`);
  }
  const step = (delta) => {
    for (let j = current + delta; j >= 0 && j < ordered.length; j += delta) if (visible(j)) return select(j);
  };
  tree.addEventListener("keydown", (event) => {
    const k = event.key;
    if (k === "ArrowDown" || k === "j") step(1);
    else if (k === "ArrowUp" || k === "k") step(-1);
    else if (k === "ArrowLeft" || k === "h") {
      if (children.has(ordered[current][0].span_id) && !collapsed.has(current)) toggle(current, false);
      else if (ordered[current][2] >= 0) select(ordered[current][2]);
    } else if (k === "ArrowRight" || k === "l") toggle(current, true);
    else if (k === "Home") select(0);
    else if (k === "End") { for (let j = ordered.length - 1; j >= 0; j--) if (visible(j)) { select(j); break; } }
    else if (k === "+" || k === "=") zoom(0.5);
    else if (k === "-") zoom(2);
    else if (k === "0") zoom(Infinity);
    else if (k === "z") zoomTo(current);
    else return;
    event.preventDefault();
  });

  const zoomLabel = h("span", { class: "muted zoom-level", text: "1×" });
  const toolbar = h("div", { class: "toolbar" },
    h("button", { type: "button", text: t("Zoom in"), title: t("Zoom in around the selected span (+)"), onclick: () => zoom(0.5) }),
    h("button", { type: "button", text: t("Zoom out"), title: t("Zoom out (−)"), onclick: () => zoom(2) }),
    h("button", { type: "button", text: t("Zoom to span"), title: t("Fit the selected span (z)"), onclick: () => zoomTo(current) }),
    h("button", { type: "button", text: t("Reset"), title: t("The whole trace (0)"), onclick: () => zoom(Infinity) }),
    zoomLabel,
    h("span", { class: "muted keys", text: t("Keys: ↑↓ or j/k move · ←→ collapse/expand · + − z 0 zoom") }));
  const totalCost = spans.reduce((sum, s) => sum + Number(s.total_cost || 0), 0);
  const totalTokens = spans.reduce((sum, s) => sum + Number(s.total_tokens || 0), 0);
  // The trace's user, session, environment, release and tags, as the list says them (any span may
  // carry them; the summary keeps the greatest value): links to the user's traces and the session.
  const greatest = (key) => spans.map((s) => s[key] || "").reduce((a, b) => (b > a ? b : a), "");
  const [user, session, environment, release] = ["user_id", "session_id", "environment", "release"].map(greatest);
  const tags = [...new Set(spans.flatMap((s) => s.tags || []))].sort();
  const fact = (label, value) => [h("span", { class: "muted", text: t("{label}: ", { label }) }), value];
  const facts = [
    user && fact(t("User"), h("a", { href: here(`/traces?user_id=${encodeURIComponent(user)}&range=30d`),
      "data-link": true, text: user })),
    session && fact(t("Session"), h("a", { href: here(`/sessions/${encodeURIComponent(session)}`), "data-link": true,
      text: session })),
    environment && environment !== "default" && fact(t("Environment"), environment),  // "default": none given
    release && fact(t("Release"), release),
    tags.length && fact(t("Tags"), h("span", {}, ...tags.map((tag) => h("a", { class: "tag", "data-link": true,
      href: here(`/traces?tags=${encodeURIComponent(tag)}&range=30d`), text: tag })))),
  ].filter(Boolean).map((parts) => h("span", { class: "fact" }, ...parts));
  root.replaceChildren(h("section", { class: "trace" },
    shared ? h("p", { class: "muted shared-banner" }, t("A shared trace: anyone with its link can see it. "),
      h("a", { href: "/", text: t("Sign in") }))
      : h("p", {}, h("a", { href: here("/traces"), "data-link": true, text: t("← Traces") })),
    h("div", { class: "page-head" }, h("h1", { text: ordered[0][0].name || traceId }),
      !shared && can("WRITE_CONTENT") ? h("button", { type: "button", class: "secondary", text: t("Share"),
        onclick: () => shareDialog(traceId).catch(() => {}) }) : null,
      shared ? null : eraseButton("traces", traceId,
        t("Delete the trace {name}? Its spans, scores and logs are removed for good.", { name: ordered[0][0].name || traceId }),
        () => go(here("/traces"), t("The trace {name} is deleted.", { name: ordered[0][0].name || traceId })))),
    h("p", { class: "muted" }, `${formatTime(t0)} · ${formatDuration((t1 - t0) / 1e6)} · ${spanCount(spans.length)} · `
      + `${tokenCount(totalTokens)} · ${formatCost(totalCost)}`),
    facts.length ? h("p", { class: "trace-facts" }, ...facts) : null,
    toolbar,
    h("div", { class: "split" }, tree, panel)));
  // ?observation= is Langfuse's spelling (links from the prompt page, Dify); ?span= ours.
  const query = new URLSearchParams(location.search);
  const wanted = query.get("span") || query.get("observation");
  const wantedIndex = Math.max(0, ordered.findIndex(([s]) => s.span_id === wanted));
  // First screen now, the rest in chunks: a trace of thousands of spans stays responsive.
  const firstChunk = Math.max(CHUNK, wantedIndex + 1);
  tree.append(...ordered.slice(0, firstChunk).map((_, i) => makeRow(i)));
  select(wantedIndex);
  tree.focus({ preventScroll: true });
  requestAnimationFrame(() => {
    performance.mark("th-trace-first-paint");
    document.body.dataset.traceFirstPaintMs = String(Math.round(
      performance.measure("th-trace", "th-trace-start", "th-trace-first-paint").duration));
  });
  for (let start = firstChunk; start < ordered.length; start += CHUNK) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    if (!tree.isConnected) return; // the user moved on
    tree.append(...ordered.slice(start, start + CHUNK).map((_, j) => makeRow(start + j)));
  }
  tree.dataset.complete = "true";
}
