// The playground: messages (a prompt version's, a generation's from a trace, or typed) with their
// {{variables}} filled, sent to a model through one of the project's connections. A run is a try:
// nothing is stored, and the answer shows beside what was sent.
import { api, apiLines } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { formatCount, formatDuration, h } from "/ui/dom.js";
import { errorText, t } from "/ui/i18n.js";
import { mediaElement } from "/ui/media.js";
import { messageRow, promptTabs, variablesOf } from "/ui/prompts.js";

const SEED = "th-playground";
const PARAMS = ["temperature", "max_tokens", "top_p"];
const MAX_MODELS = 4; // side by side, each as wide as it can still be read
const EMPTY = { messages: [{ role: "system", content: "" }, { role: "user", content: "" }] };

/** Open the playground with ``seed``: messages, and optionally model, params, variables and where
 * they came from (``from``: a label and a link). Kept for this tab only. */
export function openInPlayground(seed) {
  // Numbers, or numbers as text (langfuse 2.x sends a float parameter as a string).
  const number = (v) => (typeof v === "number" ? v : typeof v === "string" && v.trim() && Number.isFinite(Number(v)) ? Number(v) : null);
  const params = Object.fromEntries(PARAMS.map((k) => [k, number(seed.params?.[k])]).filter(([, v]) => v !== null));
  try {
    sessionStorage.setItem(SEED, JSON.stringify({ ...seed, params }));
  } catch {
    // Images inline as data too large for the tab's storage: the text goes, the images are counted out.
    const dropped = (seed.messages || []).reduce((n, m) => n + (m.images?.length || 0), 0);
    const messages = (seed.messages || []).map(({ images, ...m }) => m);
    sessionStorage.setItem(SEED, JSON.stringify({ ...seed, messages, params, leftOut: (seed.leftOut || 0) + dropped }));
  }
  go(here("/playground"));
}

// A message row with the images it carries: each shown, each removable; read() gives them too.
function withImages(row, images) {
  if (!images?.length) return row;
  const kept = [...images];
  const strip = h("div", { class: "media-strip playground-images" });
  const draw = () => strip.replaceChildren(...kept.map((image, i) => h("span", { class: "playground-image" },
    mediaElement(image, "", "image"),
    h("button", { type: "button", class: "link", text: t("Remove image"), onclick: () => { kept.splice(i, 1); draw(); } }))));
  draw();
  row.append(strip);
  const read = row.read;
  row.read = () => ({ ...read(), ...(kept.length ? { images: [...kept] } : {}) });
  return row;
}

// A tool's result (role tool): the id of the call it answers, and its text.
function toolResultRow(m, rows) {
  const id = h("input", { "aria-label": t("Tool call id"), value: m.tool_call_id || "", class: "tool-call-id" });
  const content = h("textarea", { "aria-label": t("Tool result"), rows: 2, oninput: rows.changed });
  content.value = m.content || "";
  const row = h("div", { class: "msg-edit tool-result" }, h("span", { class: "role", text: t("tool result") }), id, content,
    h("button", { type: "button", class: "link", text: t("Remove"), onclick: () => { row.remove(); rows.changed(); } }));
  row.read = () => ({ role: "tool", tool_call_id: id.value.trim(), content: content.value });
  return row;
}

// An assistant message that called tools: its text, and its calls as JSON ([{id, name, arguments}]).
function toolCallsRow(m, rows) {
  const content = h("textarea", { "aria-label": t("Message"), rows: 1, oninput: rows.changed });
  content.value = m.content || "";
  const calls = h("textarea", { "aria-label": t("Tool calls (JSON)"), rows: 6, class: "code" });
  calls.value = JSON.stringify(m.tool_calls, null, 2);
  const row = h("div", { class: "msg-edit tool-calls" }, h("span", { class: "role", text: t("assistant → tools") }), content, calls,
    h("button", { type: "button", class: "link", text: t("Remove"), onclick: () => { row.remove(); rows.changed(); } }));
  row.read = () => ({ role: "assistant", content: content.value, tool_calls: parseList(calls.value, t("Tool calls (JSON)")) });
  return row;
}

// A JSON list typed in a box; an error naming the box if it is not one.
function parseList(text, label) {
  if (!text.trim()) return [];
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!Array.isArray(value)) throw new Error(t("{label}: not a JSON list", { label }));
  return value;
}

function rowFor(m, rows) {
  if (m.role === "tool") return toolResultRow(m, rows);
  if (m.tool_calls?.length) return toolCallsRow(m, rows);
  return withImages(messageRow(m, rows), m.images);
}

function numberInput(label, value, attrs) {
  return h("label", { class: "param" }, label, h("input", { type: "number", "aria-label": label, value: value ?? "", ...attrs }));
}

export async function playgroundPage(root) {
  let seed;
  try {
    seed = JSON.parse(sessionStorage.getItem(SEED) || "null") || EMPTY;
  } catch {
    seed = EMPTY;
  }
  const connections = (await api("/api/v1/llm-connections")).items;
  const values = new Map(Object.entries(seed.variables || {}));
  const messages = h("div", { class: "messages" });
  const variablesBox = h("div", { class: "variables-box" });
  // A prompt's placeholders (message lists its SDK fills at run time) stay in place, so that a
  // version saved from here keeps them, but have no text to send.
  const edited = () => [...messages.children].map((row) => row.read());
  // A system (or developer) message left empty is not sent: it tells the model nothing, and
  // some providers refuse an empty text.
  const blank = (m) => (m.role === "system" || m.role === "developer") && !m.content.trim() && !m.images?.length;
  const read = () => edited().filter((m) => m.role && !blank(m));
  messages.changed = () => showVariables();
  const placeholders = (seed.messages || []).filter((m) => m.type === "placeholder").length;
  for (const m of seed.messages || []) messages.append(rowFor(m, messages));
  // The functions the model may call, as the generation offered them ([{name, description, parameters}]).
  const toolsBox = h("textarea", { "aria-label": t("Tools (JSON)"), rows: 10, class: "code" });
  toolsBox.value = seed.tools?.length ? JSON.stringify(seed.tools, null, 2) : "";
  const toolsSection = h("details", { class: "tools", open: Boolean(seed.tools?.length) },
    h("summary", { text: seed.tools?.length ? t("Tools ({n})", { n: seed.tools.length }) : t("Tools") }),
    h("p", { class: "muted small", text: t("Functions the model may call: a JSON list of {name, description, parameters}.") }),
    toolsBox);

  function showVariables() {
    let list;
    try {
      list = read();
    } catch { // a tool call's JSON being typed need not parse yet: the texts are enough here
      list = [...messages.children].map((row) => ({ role: "user", content: row.querySelector("textarea")?.value || "" }));
    }
    const names = variablesOf(list);
    variablesBox.replaceChildren(...(names.length ? [h("h3", { text: t("Variables") }), ...names.map((name) =>
      h("label", { class: "block" }, h("code", { class: "var", text: name }), valueBox(name)))] : []));
  }
  function valueBox(name) {
    const box = h("textarea", { rows: 1, "aria-label": name, oninput: (e) => values.set(name, e.target.value) });
    box.value = values.get(name) || "";
    return box;
  }
  showVariables();

  // The models the messages are sent to: the first, and any added to compare side by side, each
  // with its connection, parameters and output.
  const panels = [];
  const panelsBox = h("div", { class: "model-panels" });
  const outputs = h("div", { class: "playground-outputs" });
  const addPanel = (chosen) => {
    const panel = modelPanel(connections, chosen, panels.length, () => {
      panels.splice(panels.indexOf(panel), 1);
      panel.controls.remove();
      panel.output.remove();
      compareButton.hidden = panels.length >= MAX_MODELS;
    });
    panels.push(panel);
    panelsBox.append(panel.controls);
    outputs.append(panel.output);
    compareButton.hidden = panels.length >= MAX_MODELS;
  };
  const compareButton = h("button", { type: "button", class: "link", text: t("+ Compare with another model"),
    onclick: () => addPanel({ provider: panels[0]?.read().provider }) });
  const error = h("p", { class: "error", role: "alert" });
  const runButton = h("button", { type: "submit", text: t("Run") });
  addPanel({ provider: seed.provider, model: seed.model, params: seed.params });
  for (const other of seed.compare || []) addPanel(other);
  const first = () => panels[0].read();

  // What was tried, kept as the prompt's next version: its messages, and its config with the
  // model and parameters chosen here (Langfuse's convention for a version's model settings).
  async function saveVersion() {
    error.textContent = "";
    const { name, type, config } = seed.prompt;
    let messagesNow;
    try {
      messagesNow = edited();
    } catch (err) { // a tool call's JSON that does not parse
      error.textContent = err.message;
      return;
    }
    let prompt = messagesNow;
    if (type === "text") {
      if (messagesNow.length !== 1 || messagesNow[0].role !== "user") {
        error.textContent = t("A text prompt's version is one user message.");
        return;
      }
      prompt = messagesNow[0].content;
    }
    const { model, params: chosen } = first();
    const nextConfig = { ...(config || {}), ...(model ? { model } : {}) };
    for (const key of PARAMS) {
      if (key in chosen) nextConfig[key] = chosen[key];
      else delete nextConfig[key];
    }
    try {
      const doc = await api("/api/v1/prompts", { method: "POST", body: { name, type, prompt, config: nextConfig,
        commitMessage: t("From the playground") } });
      go(here(`/prompts/${encodeURIComponent(name)}?version=${doc.version}`));
    } catch (err) {
      error.textContent = errorText(err);
    }
  }

  // The next turn of an agent's loop: the model's calls as its message, an empty result for each
  // to fill in (what the tool would answer), then Run again.
  function continueWith(doc) {
    const calls = doc.toolCalls.map((c, i) => ({ id: c.id || `call_${i + 1}`, name: c.name, arguments: c.arguments }));
    messages.append(toolCallsRow({ role: "assistant", content: doc.answer || "", tool_calls: calls }, messages));
    const results = calls.map((c) => toolResultRow({ tool_call_id: c.id, content: "" }, messages));
    messages.append(...results);
    for (const panel of panels) panel.output.replaceChildren();
    results[0].querySelector("textarea").focus();
  }

  async function run(e) {
    e.preventDefault();
    error.textContent = "";
    let sent;
    let tools;
    try {
      sent = read();
      tools = parseList(toolsBox.value, t("Tools (JSON)"));
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    const variables = Object.fromEntries(variablesOf(sent).filter((n) => values.has(n)).map((n) => [n, values.get(n)]));
    const [head, ...compare] = panels.map((p) => p.read());
    // Kept, so that a reload or a look elsewhere comes back to what was tried.
    try {
      sessionStorage.setItem(SEED, JSON.stringify({ ...seed, messages: edited(), variables, provider: head.provider,
        model: head.model, params: head.params, compare, tools }));
    } catch { /* more than the tab keeps (large images): this try is not kept, the run goes on */ }
    runButton.disabled = true;
    try {
      // Every model at once: a comparison waits for the slowest only.
      await Promise.all(panels.map((panel) => runOne(panel, { messages: sent, variables, tools })));
    } finally {
      runButton.disabled = false;
    }
  }

  async function runOne(panel, { messages: sent, variables, tools }) {
    const { provider, model, params: chosen } = panel.read();
    const output = panel.output;
    // Side by side, each answer says which model it is from.
    const heading = () => h("h3", { text: panels.length > 1 ? `${t("Output")} · ${provider} / ${model}` : t("Output") });
    output.replaceChildren(h("p", { class: "muted", text: t("Waiting for the model…") }));
    try {
      // The answer streams in as the model writes it; the last line is the whole answer or the error.
      const writing = h("pre", { class: "text answer writing" });
      let doc = null;
      await apiLines("/api/v1/playground", { method: "POST", body: { provider, model,
        messages: sent, variables, params: chosen, ...(tools.length ? { tools } : {}), stream: true } }, (line) => {
        if (line.type === "text") {
          if (!writing.isConnected) output.replaceChildren(h("section", { class: "card" }, heading(), writing));
          writing.textContent += line.text;
        } else {
          doc = line;
        }
      });
      if (!doc) throw new Error(t("The answer stopped before its end: run again."));
      output.replaceChildren(doc.ok
        ? h("section", { class: "card" }, heading(),
          doc.answer || !doc.toolCalls?.length ? h("pre", { class: "text answer", text: doc.answer }) : "",
          doc.toolCalls?.length ? h("div", { class: "tool-calls-made" }, h("h4", { text: t("Tool calls") }),
            ...doc.toolCalls.map((c) => h("pre", { class: "text tool-call", text: `${c.name}(${c.arguments})` })),
            h("button", { type: "button", class: "secondary", text: t("Add these calls and their results"),
              onclick: () => continueWith(doc) })) : "",
          h("p", { class: "muted", text: `${doc.model} · ${t("{input} → {output} tokens", { input: formatCount(doc.inputTokens),
            output: formatCount(doc.outputTokens) })} · ${formatDuration(doc.latencyMs)}` }))
        : h("p", { class: "error", role: "alert", text: t("The model answered with an error: {error}", { error: doc.error }) }));
    } catch (err) {
      output.replaceChildren(h("p", { class: "error", role: "alert", text: errorText(err) }));
    }
  }

  const mayRun = can("WRITE_CONTENT");
  // root.replaceChildren is the DOM's own: a null child would show as "null", so "" instead.
  root.replaceChildren(
    promptTabs("playground"),
    h("div", { class: "page-head" }, h("h1", { text: t("Playground") }),
      h("button", { type: "button", class: "secondary", text: t("Start over"), onclick: () => {
        sessionStorage.removeItem(SEED);
        playgroundPage(root);
      } })),
    seed.from ? h("p", { class: "muted" }, t("From "), h("a", { href: seed.from.href, "data-link": true, text: seed.from.label })) : "",
    placeholders ? h("p", { class: "muted", text: t("The prompt's placeholders ({n}) are not sent: add messages in their place to try them.", { n: placeholders }) }) : "",
    seed.leftOut ? h("p", { class: "muted", text: t("Left out of the generation: {n} part(s) (audio, documents, or images too large for this tab).", { n: seed.leftOut }) }) : "",
    !connections.length ? h("p", { class: "muted" }, t("The playground needs a model connection: add one in Settings → Model connections."),
      can("MANAGE_SETTINGS") ? [" ", h("a", { href: here("/settings#model-connections"), "data-link": true, text: t("Settings") })] : null) : "",
    !mayRun ? h("p", { class: "muted", text: t("Your role in this project cannot run models.") }) : "",
    h("form", { class: "card playground", onsubmit: run },
      h("h3", { text: t("Messages") }), messages,
      h("button", { type: "button", class: "link", text: t("+ Message"), onclick: () => {
        messages.append(messageRow({ role: "user" }, messages));
        showVariables();
      } }),
      variablesBox,
      toolsSection,
      h("h3", { text: t("Model") }),
      panelsBox,
      connections.length ? compareButton : "",
      h("div", { class: "filters" },
        mayRun && connections.length ? runButton : null,
        mayRun && seed.prompt ? h("button", { type: "button", class: "secondary", onclick: saveVersion,
          text: t("Save as a new version of {name}", { name: seed.prompt.name }) }) : null),
      error),
    outputs,
  );
}

/** One model to send the messages to: its connection, model and parameters (``chosen``: provider,
 * model, params), and where its answer shows; the ``n``th (from 0) may be removed. */
function modelPanel(connections, chosen, n, remove) {
  const connection = h("select", { "aria-label": n ? t("Model connection {n}", { n: n + 1 }) : t("Model connection") },
    ...connections.map((c) => h("option", { value: c.provider, text: c.provider, selected: c.provider === chosen.provider })));
  const models = h("datalist", { id: `playground-models-${n}` });
  const model = h("input", { "aria-label": n ? t("Model {n}", { n: n + 1 }) : t("Model"), list: models.id, required: true,
    value: chosen.model || "" });
  const fillModels = (keep) => {
    const c = connections.find((x) => x.provider === connection.value);
    models.replaceChildren(...(c ? c.models : []).map((m) => h("option", { value: m })));
    if (!keep || !model.value) model.value = (c && c.models[0]) || model.value;
  };
  connection.addEventListener("change", () => fillModels(false));
  fillModels(true);
  const params = chosen.params || {};
  const boxes = [["temperature", numberInput(t("Temperature"), params.temperature, { min: 0, max: 2, step: 0.1 })],
    ["max_tokens", numberInput(t("Max tokens"), params.max_tokens, { min: 1, step: 1 })],
    ["top_p", numberInput(t("Top p"), params.top_p, { min: 0, max: 1, step: 0.05 })]];
  const controls = h("div", { class: "filters model-panel" }, connections.length ? connection : null, model, models,
    ...boxes.map(([, box]) => box),
    n ? h("button", { type: "button", class: "link", text: t("Remove"), onclick: remove }) : null);
  const read = () => ({
    provider: connection.value,
    model: model.value.trim(),
    params: Object.fromEntries(boxes.map(([key, box]) => [key, box.querySelector("input").value])
      .filter(([, v]) => v !== "").map(([key, v]) => [key, Number(v)])),
  });
  return { controls, output: h("div", { class: "playground-output", role: "status" }), read };
}
