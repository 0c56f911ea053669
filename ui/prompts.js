// Prompts: the project's prompts in folders, each prompt's versions with labels, a diff between any
// two, a new version from an editor, "use this prompt" snippets, and what each version did in use.
import { api } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { formatCost, formatCount, formatDuration, formatIso, formatTime, h, roleLabel, table } from "/ui/dom.js";
import { snippet } from "/ui/keys.js";
import { errorText, t, word } from "/ui/i18n.js";
import { openInPlayground } from "/ui/playground.js";

const PROTECTED = new Set(["production"]);
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function promptPath(name, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const q = query.toString();
  return here(`/prompts/${encodeURIComponent(name)}${q ? `?${q}` : ""}`);
}

export function chips(labels, cls = "chip") {
  return h("span", { class: "chips" }, ...labels.map((l) => h("span", {
    class: `${cls}${l === "production" ? " production" : ""}${l === "latest" ? " latest" : ""}`, text: l })));
}

export function variablesOf(prompt) {
  const texts = typeof prompt === "string" ? [prompt] : prompt.filter((m) => m.role !== undefined).map((m) => m.content);
  const seen = [];
  for (const text of texts) for (const m of text.matchAll(VARIABLE)) if (!seen.includes(m[1])) seen.push(m[1]);
  return seen;
}

/** A prompt as lines of text: a chat prompt one block per message, for viewing and diffing. */
function asLines(prompt) {
  if (typeof prompt === "string") return prompt.split("\n");
  return prompt.flatMap((m) => (m.type === "placeholder"
    ? [`[${t("placeholder")}: ${m.name}]`]
    : [`[${m.role}]`, ...String(m.content).split("\n")]));
}

/** A line diff (longest common subsequence): [kind, line] with kind " ", "-" or "+". */
export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(["-", a[i++]]);
    else out.push(["+", b[j++]]);
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}

function diffView(a, b) {
  const rows = diffLines(asLines(a.prompt), asLines(b.prompt));
  const configA = JSON.stringify(a.config, null, 2);
  const configB = JSON.stringify(b.config, null, 2);
  const configRows = configA === configB ? [] : diffLines(configA.split("\n"), configB.split("\n"));
  const render = (list) => h("pre", { class: "diff" }, ...list.map(([kind, line]) => h("div", {
    class: kind === "+" ? "add" : kind === "-" ? "del" : "same", text: `${kind} ${line}` })));
  const changed = rows.filter(([k]) => k !== " ").length;
  return h("div", { class: "diff-view" },
    h("p", { class: "muted", text: changed === 1 ? t("1 changed line between version {a} and version {b}", { a: a.version, b: b.version })
      : changed ? t("{n} changed lines between version {a} and version {b}", { n: changed, a: a.version, b: b.version })
      : t("The prompt text of version {a} and version {b} is the same.", { a: a.version, b: b.version }) }),
    render(rows),
    configRows.length ? [h("h3", { text: t("Config") }), render(configRows)] : null);
}

function promptView(v) {
  const body = typeof v.prompt === "string"
    ? h("pre", { class: "io prompt-text", text: v.prompt })
    : h("div", { class: "chat" }, ...v.prompt.map((m) => (m.type === "placeholder"
      ? h("div", { class: "msg placeholder" }, h("span", { class: "role", text: t("placeholder") }), h("code", { text: m.name }))
      : h("div", { class: "msg" }, h("span", { class: "role", text: roleLabel(m.role) }), h("pre", { text: m.content })))));
  return h("div", {},
    body,
    v.resolved ? h("details", { class: "resolved" }, h("summary", { text: t("With referenced prompts resolved") }),
      typeof v.resolved === "string" ? h("pre", { class: "io", text: v.resolved }) : h("pre", { class: "io", text: JSON.stringify(v.resolved, null, 2) })) : null,
    v.resolveError ? h("p", { class: "error", text: v.resolveError }) : null,
    h("p", { class: "muted" },
      v.variables.length ? [t("Variables: "), ...v.variables.map((x) => h("code", { class: "var", text: x }))] : t("No variables"),
      v.placeholders.length ? [" · Placeholders: ", ...v.placeholders.map((x) => h("code", { class: "var", text: x }))] : ""),
    h("h3", { text: t("Config") }),
    h("pre", { class: "io", text: JSON.stringify(v.config, null, 2) }));
}

function useSnippets(name, v) {
  const py = JSON.stringify(name);
  const vars = v.variables.map((x) => `${x}="..."`).join(", ");
  const compile = v.type === "chat"
    ? `messages = prompt.compile(${vars}${v.placeholders.length ? `${vars ? ", " : ""}${v.placeholders.map((p) => `${p}=[]`).join(", ")}` : ""})`
    : `text = prompt.compile(${vars})`;
  const label = v.labels.includes("production") ? "" : `, version=${v.version}`;
  return h("div", { class: "snippets" },
    snippet(t("Python, langfuse 3.x-5.x"), `from langfuse import get_client\n\nlangfuse = get_client()\n`
      + `prompt = langfuse.get_prompt(${py}${v.type === "chat" ? ', type="chat"' : ""}${label})\n${compile}\n`
      + `# link the generation to this version:\nwith langfuse.start_as_current_observation(as_type="generation", name="llm", prompt=prompt):\n    ...`),
    snippet(t("Python, langfuse 2.x"), `from langfuse import Langfuse\n\nlangfuse = Langfuse()\n`
      + `prompt = langfuse.get_prompt(${py}${v.type === "chat" ? ', type="chat"' : ""}${label})\n${compile}\n`
      + `langfuse.trace(name="app").generation(name="llm", prompt=prompt)`),
    snippet(t("JavaScript, langfuse 3.x"), `import { Langfuse } from "langfuse";\n\nconst langfuse = new Langfuse();\n`
      + `const prompt = await langfuse.getPrompt(${py}${label ? `, ${v.version}` : ""}${v.type === "chat" ? ', { type: "chat" }' : ""});\n` // code, not text
      + `const compiled = prompt.compile({ ${v.variables.map((x) => `${x}: "..."`).join(", ")} });`), // code, not text
    snippet(t("Any OpenTelemetry instrumentation"), `span.set_attribute("gen_ai.prompt.name", ${py})\n`
      + `span.set_attribute("gen_ai.prompt.version", ${v.version})`));
}

/** A prompt's or a skill's tags (the same on every version), editable by those who write: saved
 * to ``route`` (its PUT takes the name and {tags}). */
export function tagEditor(route, name, tags, done) {
  if (!can("WRITE_CONTENT")) return chips(tags, "chip tag");
  const input = h("input", { "aria-label": t("Tags"), value: tags.join(", "), placeholder: t("tags, comma-separated") });
  const error = h("span", { class: "error", role: "alert" });
  return h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await api(route, { method: "PUT", query: { name }, body: { tags: input.value.split(",").map((s) => s.trim()).filter(Boolean) } });
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, input, h("button", { type: "submit", text: t("Save tags") }), error);
}

/** A version's labels, editable by those who may (moving "production" asks first, admins only):
 * ``save(labels)`` stores them; ``ask`` words the confirmation for the thing labelled. */
export function labelEditor(v, versions, save, ask) {
  const may = can("WRITE_CONTENT");
  const mayProtected = can("MANAGE_PROTECTED_LABELS");
  if (!may) return chips(v.labels);
  const own = v.labels.filter((l) => l !== "latest");
  const input = h("input", { "aria-label": t("Labels"), value: own.join(", "), placeholder: t("production, staging") });
  const error = h("span", { class: "error", role: "alert" });
  return h("form", { class: "filters labels-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const next = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    const added = next.filter((l) => !own.includes(l));
    const removed = own.filter((l) => !next.includes(l));
    const touched = [...added, ...removed].filter((l) => PROTECTED.has(l));
    if (touched.length) {
      if (!mayProtected) {
        error.textContent = t("Only admins and owners may move {labels}.", { labels: touched.join(", ") });
        return;
      }
      const holder = versions.find((o) => o.version !== v.version && o.labels.includes("production"));
      if (!window.confirm(ask(added.includes("production"), holder))) return;
    }
    try {
      await save(next);
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, input, h("button", { type: "submit", text: t("Save labels") }), error);
}

function promptLabels(name, v, versions, done) {
  return labelEditor(v, versions, async (labels) => {
    await api("/api/v1/prompt/labels", { method: "PUT", query: { name, version: v.version }, body: { labels } });
    done();
  }, (moving, holder) => (moving
    ? (holder ? t("Move \"production\" to version {v} (from version {from})? SDKs fetching the production prompt get this version after their cache expires (60 s by default).", { v: v.version, from: holder.version }) : t("Move \"production\" to version {v}? SDKs fetching the production prompt get this version after their cache expires (60 s by default).", { v: v.version }))
    : t("Take \"production\" off version {v}? SDKs asking for the production prompt will get \"not found\" until another version has it.", { v: v.version })));
}

/** The versions of a prompt or a skill, newest first, the one shown marked; ``pathOf(v)`` links each. */
export function versionList(versions, selected, pathOf) {
  return h("aside", { class: "versions", "aria-label": t("Versions") }, ...versions.map((v) => h("a", {
    href: pathOf(v), "data-link": true,
    class: `version${v.version === selected.version ? " active" : ""}`,
    "aria-current": v.version === selected.version ? "true" : undefined },
  h("strong", { text: `v${v.version}` }), " ", chips(v.labels),
  h("div", { class: "muted small", text: v.commitMessage || "" }),
  h("div", { class: "muted small", text: `${v.createdBy} · ${formatIso(v.createdAt)}` }))));
}

export function messageRow(m, rows) {
  const row = h("div", { class: "msg-edit" });
  const remove = h("button", { type: "button", class: "link", text: t("Remove"), onclick: () => { row.remove(); rows.changed(); } });
  if (m.type === "placeholder") {
    const name = h("input", { "aria-label": t("Placeholder name"), value: m.name || "", placeholder: t("history"), oninput: rows.changed });
    row.dataset.kind = "placeholder";
    row.append(h("span", { class: "role", text: t("placeholder") }), name, remove);
    row.read = () => ({ type: "placeholder", name: name.value.trim() });
  } else {
    const role = h("select", { "aria-label": t("Role"), onchange: rows.changed },
      ...["system", "user", "assistant", "developer"].map((r) => h("option", { value: r, text: roleLabel(r), selected: r === (m.role || "user") })));
    const content = h("textarea", { "aria-label": t("Message"), rows: 3, oninput: rows.changed });
    content.value = m.content || "";
    row.append(role, content, remove);
    row.read = () => ({ role: role.value, content: content.value });
  }
  return row;
}

/** The editor of a new prompt or a new version: text or chat, config as JSON, labels, message. */
function editor({ name = "", type = "text", prompt = "", config = {}, fixedName = false }, done, cancel) {
  const nameInput = h("input", { "aria-label": t("Prompt name"), value: name, placeholder: t("folder/prompt-name"), required: true,
    disabled: fixedName });
  const typeSelect = h("select", { "aria-label": t("Prompt type"), disabled: fixedName, onchange: () => render() },
    h("option", { value: "text", text: t("Text"), selected: type === "text" }),
    h("option", { value: "chat", text: t("Chat"), selected: type === "chat" }));
  const text = h("textarea", { "aria-label": t("Prompt text"), rows: 8, oninput: () => showVariables() });
  text.value = typeof prompt === "string" ? prompt : "";
  const messages = h("div", { class: "messages" });
  messages.changed = () => showVariables();
  for (const m of (Array.isArray(prompt) ? prompt : [{ role: "system", content: "" }])) messages.append(messageRow(m, messages));
  const chatBox = h("div", {}, messages,
    h("button", { type: "button", class: "link", text: t("+ Message"), onclick: () => { messages.append(messageRow({ role: "user" }, messages)); } }),
    h("button", { type: "button", class: "link", text: t("+ Placeholder"), onclick: () => { messages.append(messageRow({ type: "placeholder" }, messages)); } }));
  const configInput = h("textarea", { "aria-label": t("Config (JSON)"), rows: 4 });
  configInput.value = JSON.stringify(config, null, 2);
  const labels = h("input", { "aria-label": t("Labels of the new version"), placeholder: t("labels, comma-separated (e.g. staging)") });
  const commit = h("input", { "aria-label": t("Commit message"), placeholder: t("What changed (optional)"), maxlength: 500 });
  const found = h("p", { class: "muted variables" });
  const error = h("p", { class: "error", role: "alert" });
  const body = h("div", {});
  const read = () => (typeSelect.value === "text" ? text.value : [...messages.children].map((row) => row.read()));
  function showVariables() {
    const vars = variablesOf(read());
    found.replaceChildren(...(vars.length ? [t("Variables found: "), ...vars.map((x) => h("code", { class: "var", text: x }))]
      : [t("No {{variables}} yet.")]));
  }
  function render() {
    body.replaceChildren(typeSelect.value === "text" ? text : chatBox);
    showVariables();
  }
  render();
  return h("form", { class: "card prompt-editor", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    let parsed;
    try {
      parsed = configInput.value.trim() ? JSON.parse(configInput.value) : {};
    } catch (err) {
      error.textContent = t("Config is not valid JSON: {error}", { error: errorText(err) });
      return;
    }
    const labelList = labels.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (labelList.includes("production") && !window.confirm(t("Give the new version the production label? SDKs fetching the production prompt will get it."))) return;
    try {
      const doc = await api("/api/v1/prompts", { method: "POST", body: { name: nameInput.value.trim(), type: typeSelect.value,
        prompt: read(), config: parsed, labels: labelList, commitMessage: commit.value || undefined } });
      done(doc);
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("div", { class: "filters" }, nameInput, typeSelect),
  body, found,
  h("label", { class: "block" }, t("Config (JSON, e.g. model and temperature)"), configInput),
  h("div", { class: "filters" }, labels, commit),
  h("div", { class: "filters" }, h("button", { type: "submit", text: fixedName ? t("Save new version") : t("Create prompt") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: cancel })),
  error);
}

/** The tabs of the prompts' pages: the prompts, the agents' skills, and the playground to try prompts in. */
export function promptTabs(active) {
  return h("nav", { class: "tabs", "aria-label": t("Prompts") }, ...[["prompts", t("Versioned prompts")], ["skills", t("Skills")],
    ["playground", t("Playground")]].map(
    ([key, label]) => h("a", { href: here(`/${key}`), "data-link": true, class: key === active ? "active" : undefined,
      "aria-current": key === active ? "page" : undefined, text: label })));
}

export async function promptsPage(root) {
  const params = new URLSearchParams(location.search);
  const folder = params.get("folder") || "";
  const search = params.get("q") || "";
  const doc = await api("/api/v1/prompts");
  const tags = [...new Set(doc.items.flatMap((p) => p.tags))].sort();
  const labels = [...new Set(doc.items.flatMap((p) => p.labels))].sort();
  const tag = params.get("tag") || "";
  const label = params.get("label") || "";
  const setParam = (key, value) => {
    const next = new URLSearchParams(location.search);
    if (value) next.set(key, value); else next.delete(key);
    go(`${location.pathname}${next.toString() ? `?${next}` : ""}`);
  };
  const matches = doc.items.filter((p) => (!search || p.name.toLowerCase().includes(search.toLowerCase()))
    && (!tag || p.tags.includes(tag)) && (!label || p.labels.includes(label)));
  // Searching or filtering shows every match; otherwise one folder level at a time.
  const flat = Boolean(search || tag || label);
  const prefix = folder ? `${folder}/` : "";
  const folders = new Map();
  const here_ = [];
  for (const p of matches) {
    if (flat) { here_.push(p); continue; }
    if (!p.name.startsWith(prefix)) continue;
    const rest = p.name.slice(prefix.length);
    if (rest.includes("/")) {
      const sub = rest.split("/")[0];
      folders.set(sub, (folders.get(sub) || 0) + 1);
    } else here_.push(p);
  }
  const crumbs = folder.split("/").filter(Boolean);
  const newBox = h("div", {});
  root.replaceChildren(
    promptTabs("prompts"),
    h("div", { class: "page-head" }, h("h1", { text: t("Prompts") }),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("New prompt"), onclick: () => {
        newBox.replaceChildren(editor({ name: prefix }, (created) => go(promptPath(created.name)), () => newBox.replaceChildren()));
      } }) : null),
    newBox,
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); setParam("q", e.target.elements.q.value.trim()); } },
      h("input", { name: "q", "aria-label": t("Search prompts"), placeholder: t("Search by name"), value: search }),
      h("select", { "aria-label": t("Tag"), onchange: (e) => setParam("tag", e.target.value) },
        h("option", { value: "", text: t("All tags") }), ...tags.map((v) => h("option", { value: v, text: v, selected: v === tag }))),
      h("select", { "aria-label": t("Label"), onchange: (e) => setParam("label", e.target.value) },
        h("option", { value: "", text: t("All labels") }), ...labels.map((l) => h("option", { value: l, text: l, selected: l === label }))),
      h("button", { type: "submit", text: t("Search") })),
    flat ? "" : h("nav", { class: "crumbs", "aria-label": t("Folder") },
      h("a", { href: here("/prompts"), "data-link": true, text: t("All prompts") }),
      ...crumbs.map((c, i) => [" / ", h("a", { href: `${here("/prompts")}?folder=${encodeURIComponent(crumbs.slice(0, i + 1).join("/"))}`,
        "data-link": true, text: c })])),
    doc.items.length === 0
      ? h("div", { class: "card empty" }, h("h2", { text: t("No prompts yet") }),
        h("p", { text: t("Create one here, or from code: langfuse.create_prompt(name=..., prompt=..., labels=[\"production\"]). Fetch it with langfuse.get_prompt(name) from any Langfuse SDK pointed at this host.") }))
      : table([t("Name"), t("Type"), t("Versions"), t("Labels"), t("Tags"), t("Updated")], [
        ...[...folders.entries()].sort().map(([sub, n]) => h("tr", { class: "folder" },
          h("td", {}, h("a", { href: `${here("/prompts")}?folder=${encodeURIComponent(prefix + sub)}`, "data-link": true },
            // Drawn in CSS: an emoji needs a colour-emoji font, which many Linux desktops lack.
            h("span", { class: "folder-icon", "aria-hidden": "true" }), `${sub}/`)),
          h("td", { class: "muted", text: t("folder") }), h("td", { text: n === 1 ? t("1 prompt") : t("{n} prompts", { n }) }), h("td"), h("td"), h("td"))),
        ...here_.map((p) => h("tr", {},
          h("td", {}, h("a", { href: promptPath(p.name), "data-link": true, text: flat ? p.name : p.name.slice(prefix.length) })),
          h("td", { text: word(p.type) }),
          h("td", { text: String(p.versions.length) }),
          h("td", {}, chips(p.labels)),
          h("td", {}, chips(p.tags, "chip tag")),
          h("td", { text: formatIso(p.lastUpdatedAt) }))),
      ]),
  );
}

/** Per version: the observations that used it, their latency, tokens, cost and mean scores
 * (``metrics`` of a prompt's or a skill's metrics route); ``pathOf(v)`` links each version. */
/** A metrics table's rows: the stored ``versions`` (oldest first) and the versions only reported
 * (deleted, or not stored here: marked), by number, then reports that named no version. */
export function usageRows(versions, metrics) {
  const stored = new Set(versions.map((v) => String(v.version)));
  const elsewhere = metrics.versions.filter((m) => m.version !== "" && !stored.has(String(m.version)))
    .map((m) => ({ version: m.version, notStored: true }));
  const byName = metrics.versions.some((m) => m.version === "") ? [{ version: "" }] : [];
  return [...versions, ...elsewhere].sort((a, b) => Number(a.version) - Number(b.version)).concat(byName);
}

export function metricsTable(metrics, versions, selected, pathOf, empty) {
  if (!metrics.versions.length) return h("p", { class: "muted", text: empty });
  const scoreNames = [...new Set(metrics.versions.flatMap((m) => Object.keys(m.scores || {})))].sort();
  const byVersion = new Map(metrics.versions.map((m) => [String(m.version), m]));
  const rows = versions.filter((v) => byVersion.has(String(v.version))).map((v) => {
    const m = byVersion.get(String(v.version));
    const lat = m.latency_ms || [];
    return h("tr", { class: v.version === selected ? "selected" : "" },
      // "" is a report that named no version (a skill reported by name alone)
      v.version === "" ? h("td", { text: t("any version") }) : h("td", {}, h("a", { href: pathOf(v), "data-link": true, text: `v${v.version}` }),
        v.notStored ? h("span", { class: "muted", text: ` · ${t("not stored")}` }) : null),
      h("td", { text: formatCount(m.observations) }), h("td", { text: formatCount(m.traces) }),
      h("td", { text: lat.length ? formatDuration(lat[0]) : "–" }), h("td", { text: lat.length ? formatDuration(lat[1]) : "–" }),
      h("td", { text: formatCount(m.input_tokens) }), h("td", { text: formatCount(m.output_tokens) }),
      h("td", { text: formatCost(m.total_cost) }),
      h("td", { text: m.observations ? formatCost(Number(m.total_cost) / Number(m.observations)) : "–" }),
      ...scoreNames.map((s) => h("td", { text: m.scores && m.scores[s] ? `${Number(m.scores[s].mean).toFixed(2)} (${m.scores[s].n})` : "–" })));
  });
  return table([t("Version"), t("Observations"), t("Traces"), "p50", "p95", t("Input tokens"), t("Output tokens"), t("Cost"), t("Cost / call"),
    ...scoreNames.map((s) => t("{name} (mean, n)", { name: s }))], rows);
}

export async function promptPage(root, name) {
  const params = new URLSearchParams(location.search);
  const [doc, metrics] = await Promise.all([
    api("/api/v1/prompt", { query: { name } }),
    api("/api/v1/prompt/metrics", { query: { name, days: params.get("days") || 30 } }),
  ]);
  if (!doc.versions.length) return unstoredPromptPage(root, name, metrics, params.get("version"));
  const versions = doc.versions; // newest first
  const asked = params.get("version");
  const selected = versions.find((v) => String(v.version) === asked) || versions[0];
  // A trace's link to a version deleted since: the newest, said so.
  const missing = asked && String(selected.version) !== asked ? asked : null;
  const compareWith = versions.find((v) => String(v.version) === params.get("compare"));
  const again = () => promptPage(root, name);
  // "production" is the admins' to take away, with its version or its prompt.
  const mayDelete = (list) => can("WRITE_CONTENT") && (can("MANAGE_PROTECTED_LABELS") || !list.some((v) => v.labels.includes("production")));
  const deleteVersion = async () => {
    if (!window.confirm(t("Delete version {v} of {name}? SDKs asking for it will get \"not found\".", { v: selected.version, name }))) return;
    await api("/api/v1/prompt", { method: "DELETE", query: { name, version: selected.version } });
    go(versions.length > 1 ? promptPath(name) : here("/prompts"));
  };
  const deletePrompt = async () => {
    const ask = versions.length === 1 ? t("Delete {name}? SDKs asking for it will get \"not found\".", { name })
      : t("Delete {name} and its {n} versions? SDKs asking for it will get \"not found\".", { name, n: versions.length });
    if (!window.confirm(ask)) return;
    await api("/api/v1/prompt", { method: "DELETE", query: { name } });
    go(here("/prompts"));
  };
  const editBox = h("div", {});
  const linked = h("div", {}, h("p", { class: "muted", text: t("Loading observations…") }));
  const folder = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "";
  const compareSelect = h("select", { "aria-label": t("Compare with version"), onchange: (e) => go(promptPath(name, { version: selected.version, compare: e.target.value })) },
    h("option", { value: "", text: t("Compare with…") }),
    ...versions.filter((v) => v.version !== selected.version).map((v) => h("option", { value: v.version, text: t("version {v}", { v: v.version }),
      selected: compareWith && v.version === compareWith.version })));
  root.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": t("Folder") },
      h("a", { href: here("/prompts"), "data-link": true, text: t("Prompts") }),
      ...(folder ? folder.split("/").map((c, i, all) => [" / ", h("a", { href: `${here("/prompts")}?folder=${encodeURIComponent(all.slice(0, i + 1).join("/"))}`,
        "data-link": true, text: c })]) : [])),
    h("div", { class: "page-head" }, h("h1", { text: name }),
      h("span", { class: "muted", text: versions.length === 1
        ? (selected.type === "chat" ? t("chat prompt · 1 version") : t("text prompt · 1 version"))
        : selected.type === "chat" ? t("chat prompt · {n} versions", { n: versions.length })
          : t("text prompt · {n} versions", { n: versions.length }) }),
      chips(selected.tags, "chip tag"),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("New version"), onclick: () => {
        editBox.replaceChildren(editor({ name, type: selected.type, prompt: selected.prompt, config: selected.config, fixedName: true },
          (created) => go(promptPath(name, { version: created.version })), () => editBox.replaceChildren()));
      } }) : null,
      h("button", { type: "button", class: "secondary", text: t("Open in playground"), onclick: () => openInPlayground({
        messages: typeof selected.prompt === "string" ? [{ role: "user", content: selected.prompt }] : selected.prompt,
        // Langfuse's convention: a version's config may name its model and parameters.
        model: typeof selected.config?.model === "string" ? selected.config.model : "", params: selected.config || {},
        from: { label: `${name} · ${t("version {v}", { v: selected.version })}`, href: promptPath(name, { version: selected.version }) },
        prompt: { name, type: selected.type, config: selected.config || {} },
      }) }),
      mayDelete(versions) ? h("button", { type: "button", class: "link danger", text: t("Delete prompt"), onclick: deletePrompt }) : null),
    ...(missing ? [h("p", { class: "card unstored", text: t("Version {v} of {name} is not stored here (deleted): this is version {newest}, the newest.", { v: missing, name, newest: selected.version }) })] : []),
    editBox,
    h("div", { class: "prompt-layout" },
      versionList(versions, selected, (v) => promptPath(name, { version: v.version })),
      h("section", { class: "version-detail" },
        h("div", { class: "filters" }, h("h2", { text: t("Version {v}", { v: selected.version }) }),
          versions.length > 1 ? compareSelect : null, // nothing to compare one version with
          versions.length > 1 && mayDelete([selected])
            ? h("button", { type: "button", class: "link danger", text: t("Delete this version"), onclick: deleteVersion }) : null),
        compareWith ? diffView(compareWith, selected) : promptView(selected),
        h("h3", { text: t("Labels") }),
        promptLabels(name, selected, versions, again),
        h("h3", { text: t("Tags") }),
        h("p", { class: "muted", text: t("Tags are the prompt's: the same on every version.") }),
        tagEditor("/api/v1/prompt/tags", name, selected.tags, again),
        h("h3", { text: t("Use this prompt") }),
        useSnippets(name, selected))),
    h("h2", { text: t("In use (last {days} days)", { days: metrics.days }) }),
    h("p", { class: "muted", text: t("Observations of any type linked to each version, their latency, tokens, cost and scores: compare versions here.") }),
    metricsTable(metrics, usageRows([...versions].reverse(), metrics), selected.version, (v) => promptPath(name, { version: v.version }),
      t("No observation used {name} in the last {days} days. Link one with prompt=... in the Langfuse SDKs, or the gen_ai.prompt.name and gen_ai.prompt.version span attributes.", { name, days: metrics.days })),
    h("h2", { text: t("Observations that used version {v}", { v: selected.version }) }),
    linked,
  );
  await showLinked(linked, name, selected.version);
}

/** A prompt this project does not hold (deleted whole, or the app's own), as a trace links to one
 * its observations used: their use per version, and (for those who write) an editor to create it. */
function unstoredPromptPage(root, name, metrics, asked) {
  const reported = metrics.versions.map((m) => String(m.version)).filter((v) => v !== "")
    .sort((a, b) => Number(b) - Number(a));
  const shown = reported.includes(asked) ? asked : reported[0];
  const editBox = h("div", {});
  const linked = h("div", {}, h("p", { class: "muted", text: t("Loading observations…") }));
  root.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": t("Folder") }, h("a", { href: here("/prompts"), "data-link": true, text: t("Prompts") })),
    h("div", { class: "page-head" }, h("h1", { text: name }),
      h("span", { class: "muted", text: t("not stored in this project") }),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("Create it here"), onclick: () => {
        editBox.replaceChildren(editor({ name }, (created) => go(promptPath(created.name, { version: created.version })),
          () => editBox.replaceChildren()));
      } }) : null),
    h("p", { class: "card unstored", text: t("This project holds no prompt named {name}: it was deleted, or the app has it from elsewhere. The observations that used it are below; create it here to version it and serve it to the SDKs.", { name }) }),
    editBox,
    h("h2", { text: t("In use (last {days} days)", { days: metrics.days }) }),
    metricsTable(metrics, usageRows([], metrics), shown ?? null, (v) => promptPath(name, { version: v.version }),
      t("No observation used {name} in the last {days} days. Link one with prompt=... in the Langfuse SDKs, or the gen_ai.prompt.name and gen_ai.prompt.version span attributes.", { name, days: metrics.days })),
    ...(shown === undefined ? [] : [h("h2", { text: t("Observations that used version {v}", { v: shown }) }), linked]),
  );
  if (shown !== undefined) return showLinked(linked, name, shown);
}

/** The newest observations that used one version of a prompt, into ``linked``. */
async function showLinked(linked, name, version) {
  const rows = await api("/api/v1/prompt/observations", { query: { name, version } });
  linked.replaceChildren(rows.items.length
    ? table([t("Time"), t("Observation"), t("Type"), t("Model"), t("Latency"), t("Tokens"), t("Cost")], rows.items.map((r) => h("tr", {},
      h("td", { text: formatTime(r.start_ns) }),
      h("td", {}, h("a", { href: here(`/traces/${encodeURIComponent(r.trace_id)}?observation=${encodeURIComponent(r.span_id)}`), "data-link": true, text: r.name })),
      h("td", { text: r.observation_type }), h("td", { text: r.model || "–" }),
      h("td", { text: formatDuration(Number(r.duration_ns) / 1e6) }), h("td", { text: formatCount(r.total_tokens) }),
      h("td", { text: formatCost(r.total_cost) }))))
    : h("p", { class: "muted", text: t("None yet.") }));
}
