// Evaluations: LLM-as-a-judge rules made from templates, and every execution's state, attempts and
// error, refreshed while the page is open, so nothing sits "pending" without a reason shown.
import { api } from "/ui/api.js";
import { can, here } from "/ui/context.js";
import { formatCost, formatCount, formatDuration, h, table } from "/ui/dom.js";
import { errorText, t, word } from "/ui/i18n.js";

const STATES = ["pending", "running", "done", "error"];

function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

function templateEditor(template, done, cancel) {
  const name = h("input", { "aria-label": t("Template name"), value: template ? t("{name} (copy)", { name: template.name }) : "", required: true });
  const prompt = h("textarea", { "aria-label": t("Judge prompt"), rows: 8 });
  prompt.value = template ? template.prompt : "";
  const type = h("select", { "aria-label": t("Score type") }, ...["numeric", "boolean", "categorical"].map((v) =>
    h("option", { value: v, text: word(v), selected: template && template.output.type === v })));
  const categories = h("input", { "aria-label": t("Categories"), placeholder: t("categories, comma-separated"),
    value: template && template.output.categories ? template.output.categories.join(", ") : "" });
  const reasoning = h("input", { type: "checkbox", "aria-label": t("Ask for reasoning"), checked: !template || template.output.reasoning });
  const error = errorLine();
  return h("form", { class: "card template-editor", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const output = { type: type.value, reasoning: reasoning.checked };
    if (type.value === "numeric") Object.assign(output, { min: 0, max: 1 });
    if (type.value === "categorical") output.categories = categories.value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      await api("/api/v1/evaluations/templates", { method: "PUT", body: { name: name.value, prompt: prompt.value, output } });
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, h("h3", { text: t("Evaluator template") }), h("div", { class: "filters" }, name, type, categories,
    h("label", {}, reasoning, " reasoning")), prompt,
  h("p", { class: "muted", text: t("Variables in {{double braces}} are filled from each evaluated object (input, output, metadata).") }),
  h("div", { class: "filters" }, h("button", { type: "submit", text: t("Save template") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: cancel })), error);
}

// What a rule evaluates, in words: its target and each part of its filter.
function ruleTarget(r) {
  const f = r.filter || {};
  if (r.target === "dataset") return t("runs of dataset {name}", { name: f.dataset });
  const list = (v) => (Array.isArray(v) ? v : [v]).join(", ");
  const parts = [word(r.target)];
  if (f.name && f.name.length) parts.push(t("named {names}", { names: list(f.name) }));
  if (f.type && f.type.length) parts.push(t("of type {types}", { types: list(f.type) }));
  if (f.model) parts.push(t("with model {model}", { model: f.model }));
  if (f.environment && f.environment.length) parts.push(t("in {environments}", { environments: list(f.environment) }));
  if (f.tags && f.tags.length) parts.push(t("tagged {tags}", { tags: list(f.tags) }));
  return parts.join(" ");
}

/** The form of a new rule, or (``rule``) of a rule to change: what the form does not show (its
 * mapping, other filters, where its judge is traced, whether it runs) is kept as it is. */
function ruleForm(templates, connections, done, cancel, rule = null) {
  const f = rule ? rule.filter || {} : {};
  const shown = (v) => (Array.isArray(v) ? v.join(", ") : v || "");
  const template = h("select", { "aria-label": t("Template") }, ...templates.map((tpl) => h("option", { value: tpl.id, text: templateName(tpl),
    selected: rule && tpl.id === rule.templateId })));
  const name = h("input", { "aria-label": t("Score name"), placeholder: t("score name, e.g. correctness"), required: true, value: rule ? rule.name : "" });
  const target = h("select", { "aria-label": t("Target") }, ...[["observation", t("New observations")], ["trace", t("New traces")],
    ["dataset", t("Runs of a dataset")]].map(([v, text]) => h("option", { value: v, text, selected: rule && rule.target === v })));
  const nameShown = rule ? shown(rule.target === "dataset" ? f.dataset : f.name) : "";
  const filterName = h("input", { "aria-label": t("Filter: name"), placeholder: t("name (any), or the dataset"), value: nameShown });
  const typeShown = shown(f.type);
  const types = ["GENERATION", "SPAN", "AGENT", "TOOL", "RETRIEVER", "CHAIN"];
  const filterType = h("select", { "aria-label": t("Filter: type") }, h("option", { value: "", text: t("any type") }),
    ...(typeShown && !types.includes(typeShown) ? [typeShown] : []).concat(types).map((v) => h("option", { value: v, text: v, selected: v === typeShown })));
  const sampling = h("input", { "aria-label": t("Sampling (%)"), type: "number", min: 1, max: 100, value: rule ? Math.round(rule.sampling * 100) : 100 });
  const delay = h("input", { "aria-label": t("Delay (seconds)"), type: "number", min: 0, value: rule ? rule.delaySeconds : 10 });
  const connection = h("select", { "aria-label": t("Judge connection") }, ...connections.map((c) => h("option", { value: c.provider, text: c.provider,
    selected: rule && c.provider === rule.provider })));
  const model = h("input", { "aria-label": t("Judge model"), required: true });
  const fillModel = () => { const c = connections.find((x) => x.provider === connection.value); model.value = c && c.models[0] || ""; };
  connection.addEventListener("change", fillModel);
  if (rule) model.value = rule.model; else fillModel();
  const existing = h("input", { type: "checkbox", "aria-label": t("Evaluate existing data too"), checked: Boolean(rule && rule.evaluateExisting) });
  const error = errorLine();
  return h("form", { class: "card rule-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    // A field left as shown keeps its value as stored (a list of names stays a list).
    let filter = { ...f };
    delete filter.dataset;
    delete filter.datasetId;
    if (filterName.value.trim() !== nameShown) filter.name = filterName.value.trim();
    if (!filterName.value.trim()) delete filter.name;
    if (filterType.value !== typeShown) filter.type = filterType.value;
    if (!filterType.value) delete filter.type;
    // For a dataset's runs the name field names the dataset.
    if (target.value === "dataset") filter = { dataset: filterName.value.trim(), ...(f.langfuse ? { langfuse: f.langfuse } : {}) };
    // A rule made through Langfuse's API keeps its conditions as given, to read back: not once changed here.
    if (filterName.value.trim() !== nameShown || filterType.value !== typeShown || target.value !== (rule && rule.target)) delete filter.langfuse;
    const kept = rule ? { id: rule.id, enabled: rule.enabled, mapping: rule.mapping, traceProject: rule.traceProject || undefined } : {};
    try {
      await api("/api/v1/evaluations/rules", { method: "PUT", body: { ...kept, name: name.value.trim(), templateId: template.value,
        target: target.value, filter, sampling: Number(sampling.value) / 100, delaySeconds: Number(delay.value),
        provider: connection.value, model: model.value.trim(), evaluateExisting: existing.checked } });
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, h("h3", { text: rule ? t("Change rule {name}", { name: rule.name }) : t("New evaluation rule") }),
  h("div", { class: "filters" }, template, name, target),
  h("div", { class: "filters" }, filterName, filterType, sampling, delay),
  h("div", { class: "filters" }, connection, model, h("label", {}, existing, t(" evaluate existing data too"))),
  h("div", { class: "filters" }, h("button", { type: "submit", text: rule ? t("Save rule") : t("Create rule") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: cancel })), error);
}

/** A rule's own buttons: change it, pause or resume it, delete it (its scores stay). */
function ruleActions(rule, templates, connections, formBox, again) {
  const error = errorLine();
  const run = async (action) => {
    error.textContent = "";
    try {
      await action();
      again();
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  return h("div", { class: "filters rule-actions" },
    h("button", { type: "button", class: "secondary", text: t("Change"), onclick: () =>
      formBox.replaceChildren(ruleForm(templates, connections, again, () => formBox.replaceChildren(), rule)) }),
    h("button", { type: "button", class: "secondary", text: rule.enabled ? t("Pause") : t("Resume"), onclick: () => run(() =>
      api("/api/v1/evaluations/rules", { method: "PUT", body: { ...rule, enabled: !rule.enabled, traceProject: rule.traceProject || undefined } })) }),
    h("button", { type: "button", class: "link danger", text: t("Delete rule"), onclick: () => {
      if (!window.confirm(t("Delete rule {name}? It judges nothing more; the scores it gave stay.", { name: rule.name }))) return;
      run(async () => {
        await api("/api/v1/evaluations/rules", { method: "DELETE", query: { id: rule.id } });
        history.replaceState(null, "", here("/evaluations"));
      });
    } }),
    error);
}

/** A template's name as shown: a built-in one's in the page's language. */
function templateName(tpl) {
  return tpl.builtin ? word(tpl.name) : tpl.name;
}

function counts(jobs) {
  return h("span", { class: "chips" }, ...STATES.filter((s) => jobs[s]).map((s) =>
    h("span", { class: `chip state-${s}`, text: `${formatCount(jobs[s])} ${word(s)}` })));
}

function jobRow(j, reload) {
  return h("tr", {},
    h("td", {}, h("span", { class: `chip state-${j.status}`, text: word(j.status) })),
    h("td", {}, h("a", { href: here(`/traces/${encodeURIComponent(j.traceId)}${j.observationId ? `?observation=${encodeURIComponent(j.observationId)}` : ""}`),
      "data-link": true, text: j.observationId || j.traceId })),
    h("td", { text: j.score === null ? "–" : String(j.score) }), h("td", { text: String(j.attempts) }),
    h("td", { text: j.inputTokens || j.outputTokens ? `${j.inputTokens} + ${j.outputTokens}` : "–" }),
    h("td", { text: j.cost === null ? "–" : formatCost(j.cost) }),
    h("td", { text: j.latencyMs ? formatDuration(j.latencyMs) : "–" }),
    h("td", { class: "error small", text: j.error || "" }),
    h("td", {}, can("MANAGE_SETTINGS") && ["error", "done"].includes(j.status) ? h("button", { type: "button", class: "link", text: t("Retry"),
      onclick: async () => { await api("/api/v1/evaluations/jobs/retry", { method: "POST", query: { id: j.id } }); reload(); } }) : null));
}

const PAGE = 100;
// The table reloads what it shows every few seconds; past this many rows it stops (Load more keeps working).
const MOST_REFRESHED = 1000;

/** A rule's executions, newest first, in pages, with a state filter kept in the URL. */
function jobsView(ruleId) {
  const body = h("div", {});
  const more = h("button", { type: "button", class: "secondary", text: t("Load more"), hidden: true });
  const state = h("select", { "aria-label": t("State") }, h("option", { value: "", text: t("All states") }),
    ...STATES.map((s) => h("option", { value: s, text: word(s) })));
  const inUrl = new URLSearchParams(location.search).get("state");
  state.value = STATES.includes(inUrl) ? inUrl : "";
  let shown = [];
  let cursor = null;
  let generation = 0; // answers to an older question (another filter, a reload since) are dropped
  const query = (extra) => ({ rule: ruleId, status: state.value, ...extra });
  const render = () => {
    body.replaceChildren(shown.length ? table([t("State"), t("Object"), t("Score"), t("Attempts"), t("Tokens"), t("Cost"), t("Latency"), t("Error"), ""],
      shown.map((j) => jobRow(j, reload)))
      : h("p", { class: "muted", text: state.value ? t("No executions in this state.")
        : t("No executions yet: new data matching the rule is picked up within seconds, after the rule's delay.") }));
    more.hidden = !cursor;
  };
  const reload = async (limit = PAGE) => {
    const asked = ++generation;
    const doc = await api("/api/v1/evaluations/jobs", { query: query({ limit }) });
    if (asked !== generation) return;
    [shown, cursor] = [doc.items, doc.next_cursor];
    render();
  };
  more.onclick = async () => {
    const asked = ++generation;
    more.disabled = true;
    try {
      const doc = await api("/api/v1/evaluations/jobs", { query: query({ limit: PAGE, cursor }) });
      if (asked !== generation) return;
      [shown, cursor] = [shown.concat(doc.items), doc.next_cursor];
      render();
    } finally {
      more.disabled = false;
    }
  };
  state.onchange = () => {
    const params = new URLSearchParams(location.search);
    if (state.value) params.set("state", state.value); else params.delete("state");
    history.replaceState(null, "", `${location.pathname}?${params}`);
    reload();
  };
  return {
    box: h("div", {}, h("div", { class: "filters" }, state), body, more),
    first: () => reload(),
    // What is shown, again: new executions on top, changed states in place.
    refresh: () => (more.disabled || shown.length > MOST_REFRESHED ? null : reload(Math.max(PAGE, shown.length))),
  };
}

let refresh = null;

export async function evaluationsPage(root) {
  clearTimeout(refresh);
  const [rules, templates, connections] = await Promise.all([api("/api/v1/evaluations/rules"),
    api("/api/v1/evaluations/templates"), api("/api/v1/llm-connections")]);
  const params = new URLSearchParams(location.search);
  const selected = rules.items.find((r) => r.id === params.get("rule")) || rules.items[0];
  const formBox = h("div", {});
  const jobs = selected ? jobsView(selected.id) : null;
  const again = () => evaluationsPage(root);
  const manage = can("MANAGE_SETTINGS");
  root.replaceChildren(
    h("nav", { class: "tabs", "aria-label": t("Evaluations") },
      h("a", { href: here("/evaluations"), "data-link": true, class: "active", "aria-current": "page", text: t("LLM-as-a-judge") }),
      h("a", { href: here("/annotation-queues"), "data-link": true, text: t("Annotation queues") })),
    h("div", { class: "page-head" }, h("h1", { text: t("Evaluations") }),
      manage && connections.items.length ? h("button", { type: "button", text: t("New rule"), onclick: () =>
        formBox.replaceChildren(ruleForm(templates.items, connections.items, again, () => formBox.replaceChildren())) }) : null),
    !connections.items.length ? h("p", { class: "muted" }, manage
      ? [t("LLM-as-a-judge needs a model connection: add one in Settings → Model connections."), " ",
        h("a", { href: here("/settings#model-connections"), "data-link": true, text: t("Settings") })]
      : t("LLM-as-a-judge needs a model connection, which an admin of this project adds in Settings.")) : "",
    formBox,
    rules.items.length ? table([t("Rule (score name)"), t("Template"), t("Target"), t("Judge"), t("Sampling"), t("Executions"), t("Status")], rules.items.map((r) => h("tr", { class: selected && r.id === selected.id ? "selected" : "" },
      h("td", {}, h("a", { href: `${here("/evaluations")}?rule=${encodeURIComponent(r.id)}`, "data-link": true, text: r.name })),
      h("td", { text: templateName(templates.items.find((tpl) => tpl.id === r.templateId) || { name: r.templateId }) }),
      h("td", { text: ruleTarget(r) }),
      h("td", { text: `${r.provider} / ${r.model}` }), h("td", { text: `${Math.round(r.sampling * 100)}%` }),
      h("td", { class: "rule-jobs", "data-rule": r.id }, counts(r.jobs)),
      h("td", {}, r.statusMessage ? h("span", { class: "error", text: r.statusMessage }) : h("span", { class: "muted", text: r.enabled ? t("active") : t("paused") })))))
      : h("div", { class: "card empty" }, h("h2", { text: t("No evaluation rules yet") }),
        h("p", { text: t("A rule runs a judge model over new traces or observations that match it and writes a score to each.") })),
    ...(jobs ? [h("h2", { text: t("Executions of {name}", { name: selected.name }) }),
      ...(manage ? [ruleActions(selected, templates.items, connections.items, formBox, again)] : []), jobs.box] : []),
    h("h2", { text: t("Evaluator templates") }),
    table([t("Template"), t("Score"), "", ""], templates.items.map((tpl) => h("tr", {},
      h("td", {}, h("div", { text: templateName(tpl) }),
        tpl.description ? h("div", { class: "muted", text: tpl.description }) : ""),
      h("td", { text: tpl.output.reasoning ? t("{type}, with reasoning", { type: word(tpl.output.type) }) : word(tpl.output.type) }),
      h("td", { class: "muted", text: tpl.builtin ? t("built-in") : t("this project, version {version}", { version: tpl.version }) }),
      h("td", {}, manage ? h("button", { type: "button", class: "link", text: t("Copy and edit"), onclick: () =>
        formBox.replaceChildren(templateEditor(tpl, again, () => formBox.replaceChildren())) }) : null)))),
  );
  if (jobs) {
    await jobs.first();
    // Executions change on their own: keep the table current while this page is shown.
    const tick = async () => {
      if (!document.body.contains(jobs.box)) return;
      await Promise.resolve(jobs.refresh()).catch(() => {});
      // The rules' counts of executions too, so that they agree with the table.
      const fresh = await api("/api/v1/evaluations/rules").catch(() => ({ items: [] }));
      for (const r of fresh.items) root.querySelector(`td.rule-jobs[data-rule="${CSS.escape(r.id)}"]`)?.replaceChildren(counts(r.jobs));
      refresh = setTimeout(tick, 2000);
    };
    refresh = setTimeout(tick, 2000);
  }
}
