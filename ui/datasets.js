// Datasets: test sets of inputs and expected outputs, their items (edit, archive, import, export),
// and the runs over them compared side by side, per item and in aggregate against a baseline run.
import { api } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { formatCost, formatCount, formatDuration, formatIso, h, table, tokenCount } from "/ui/dom.js";
import { errorText, t, word } from "/ui/i18n.js";
import { cellWithMedia } from "/ui/media.js";

function datasetPath(name, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [].concat(v)) if (x !== undefined && x !== "") query.append(k, x);
  const q = query.toString();
  return here(`/datasets/${encodeURIComponent(name)}${q ? `?${q}` : ""}`);
}

function show(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function parseJson(text, label) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch {
    // Plain text is a valid input or expected output: keep it as a string.
    if (label) return text;
    throw new Error(t("not valid JSON"));
  }
}

function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

/** The item editor: input, expected output and metadata as JSON (or text). */
function itemEditor(dataset, item, done, cancel) {
  const input = h("textarea", { "aria-label": t("Input"), rows: 4 });
  input.value = item ? show(item.input) : "";
  const expected = h("textarea", { "aria-label": t("Expected output"), rows: 3 });
  expected.value = item && item.expectedOutput !== null ? show(item.expectedOutput) : "";
  const metadata = h("textarea", { "aria-label": t("Metadata (JSON)"), rows: 2 });
  metadata.value = item && item.metadata ? JSON.stringify(item.metadata) : "";
  const error = errorLine();
  return h("form", { class: "card item-editor", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const body = { datasetName: dataset.name, input: parseJson(input.value, true),
        expectedOutput: parseJson(expected.value, true), metadata: metadata.value.trim() ? JSON.parse(metadata.value) : undefined };
      if (item) body.id = item.id;
      if (item && item.sourceTraceId) body.sourceTraceId = item.sourceTraceId;
      if (item && item.sourceObservationId) body.sourceObservationId = item.sourceObservationId;
      await api("/api/v1/dataset/items", { method: "PUT", body });
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("label", { class: "block" }, t("Input (JSON or text)"), input),
  h("label", { class: "block" }, t("Expected output (JSON or text)"), expected),
  h("label", { class: "block" }, t("Metadata (JSON, optional)"), metadata),
  h("div", { class: "filters" }, h("button", { type: "submit", text: item ? t("Save item") : t("Add item") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: cancel })),
  error);
}

function importForm(dataset, done) {
  const file = h("input", { type: "file", accept: ".jsonl,.csv,.json,.txt", "aria-label": t("File to import") });
  const error = errorLine();
  return h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const f = file.files[0];
    if (!f) { error.textContent = t("Choose a JSONL or CSV file."); return; }
    try {
      const text = await f.text();
      const format = f.name.toLowerCase().endsWith(".csv") ? "csv" : "jsonl";
      const doc = await api("/api/v1/dataset/import", { method: "POST", body: { datasetName: dataset.name, format, text } });
      done(doc.imported);
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, file, h("button", { type: "submit", text: t("Import") }), error);
}

export async function datasetsPage(root) {
  const doc = await api("/api/v1/datasets");
  const box = h("div", {});
  const name = h("input", { "aria-label": t("Dataset name"), placeholder: t("Name"), required: true });
  const description = h("input", { "aria-label": t("Description"), placeholder: t("Description (optional)") });
  const error = errorLine();
  root.replaceChildren(
    h("div", { class: "page-head" }, h("h1", { text: t("Datasets") })),
    can("WRITE_CONTENT") ? h("form", { class: "filters", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const created = await api("/api/v1/datasets", { method: "POST", body: { name: name.value.trim(), description: description.value } });
        go(datasetPath(created.name));
      } catch (err) {
        error.textContent = errorText(err);
      }
    } }, name, description, h("button", { type: "submit", text: t("New dataset") }), error) : "",
    box,
  );
  box.replaceChildren(doc.items.length
    ? table([t("Name"), t("Description"), t("Items"), t("Archived"), t("Runs"), t("Last run"), t("Created")], doc.items.map((d) => h("tr", {},
      h("td", {}, h("a", { href: datasetPath(d.name), "data-link": true, text: d.name })),
      h("td", { text: d.description || "" }), h("td", { text: formatCount(d.items) }), h("td", { text: formatCount(d.archived) }),
      h("td", { text: formatCount(d.runs) }), h("td", { text: d.lastRunAt ? formatIso(d.lastRunAt) : "–" }),
      h("td", { text: formatIso(d.createdAt) }))))
    : h("div", { class: "card empty" }, h("h2", { text: t("No datasets yet") }),
      h("p", { text: t("Create one here, add items from any trace with \"Add to dataset\", or from code: {code}.",
        { code: "langfuse.create_dataset(name=...), langfuse.create_dataset_item(dataset_name=..., input=..., expected_output=...)" }) })));
}

function runPicker(name, runs, chosen) {
  const boxes = runs.map((r) => h("label", { class: "run-choice" },
    h("input", { type: "checkbox", value: r.name, checked: chosen.includes(r.name) }), ` ${r.name}`));
  return h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const picked = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    go(datasetPath(name, { tab: "compare", run: picked }));
  } }, ...boxes, h("button", { type: "submit", text: t("Compare") }));
}

function fmtSpread(s, format) {
  if (!s || s.mean === null || s.mean === undefined) return "–";
  const mean = format(s.mean);
  // A formatter may show nothing for zero (a cost of 0 is "–"): then there is no spread to show.
  if (s.n < 2 || s.stdev === null || mean === "–") return mean;
  return `${mean} ± ${s.stdev === 0 ? "0" : format(s.stdev)} (n=${s.n})`;
}

function fmtDelta(v, format) {
  if (v === null || v === undefined) return "";
  if (v === 0) return " (±0)";
  return ` (${v > 0 ? "+" : "−"}${format(Math.abs(v))})`;
}

const score = (x) => Number(x).toFixed(2);

function compareView(doc) {
  if (!doc.runs.length) return h("p", { class: "muted", text: t("No runs yet.") });
  const runs = doc.runs;
  const head = [t("Item"), t("Expected"), ...runs.map((r) => (r.id === doc.baseline ? t("{name} (baseline)", { name: r.name }) : r.name))];
  const cell = (c) => {
    const results = c.results;
    if (!results.length) return h("td", { class: "muted", text: t("not run") });
    return h("td", {}, ...results.map((r, i) => h("div", { class: "run-result" },
      results.length > 1 ? h("span", { class: "muted small", text: `#${i + 1} ` }) : null,
      h("a", { href: here(`/traces/${encodeURIComponent(r.traceId)}${r.observationId ? `?observation=${encodeURIComponent(r.observationId)}` : ""}`),
        "data-link": true, class: "output", text: show(r.output) }),
      h("div", { class: "muted small" }, [
        r.latencyMs !== null ? formatDuration(r.latencyMs) : null, r.tokens !== null ? tokenCount(r.tokens) : null,
        r.cost !== null ? formatCost(r.cost) : null,
        ...Object.entries(r.scores).map(([n, v]) => `${n} ${score(v)}`)].filter(Boolean).join(" · ")))),
    results.length > 1 ? h("div", { class: "spread small" }, ...Object.entries(c.summary.scores).filter(([, s]) => s.n)
      .map(([n, s]) => h("div", { text: `${n}: ${fmtSpread(s, score)}` })),
    h("div", { text: t("latency: {value}", { value: fmtSpread(c.summary.latencyMs, formatDuration) }) })) : null);
  };
  const itemRows = doc.items.map((item) => h("tr", {},
    cellWithMedia(show(item.input), "io-cell"), cellWithMedia(show(item.expectedOutput), "io-cell"),
    ...runs.map((r) => cell(item.runs[r.id]))));
  const aggregate = (label, pick, format) => h("tr", { class: "aggregate" }, h("th", { text: label }), h("td"),
    ...runs.map((r) => {
      const s = pick(doc.aggregates[r.id]);
      const d = r.id === doc.baseline ? null : pick(doc.deltas[r.id] ? { ...doc.deltas[r.id], scores: doc.deltas[r.id].scores } : null, true);
      return h("td", { text: `${fmtSpread(s, format)}${d !== null && d !== undefined ? fmtDelta(d, format) : ""}` });
    }));
  const pickMetric = (m) => (agg, delta) => (agg ? (delta ? agg[m] : agg[m]) : null);
  const pickScore = (n) => (agg, delta) => (agg ? (delta ? agg.scores[n] : agg.scores[n]) : null);
  return table(head, [
    ...itemRows,
    h("tr", { class: "aggregate" }, h("th", { text: t("Run items") }), h("td"), ...runs.map((r) => h("td", { text: String(doc.aggregates[r.id].runItems) }))),
    ...doc.scoreNames.map((n) => aggregate(t("{name} (mean)", { name: n }), pickScore(n), score)),
    // Scores of a whole run (an experiment's run evaluators).
    ...[...new Set(Object.values(doc.runScores || {}).flatMap((m) => Object.keys(m)))].sort().map((n) =>
      h("tr", { class: "aggregate" }, h("th", { text: t("{name} (run)", { name: n }) }), h("td"),
        ...runs.map((r) => h("td", { text: doc.runScores[r.id] && n in doc.runScores[r.id] ? score(doc.runScores[r.id][n]) : "–" })))),
    aggregate(t("Latency (mean)"), pickMetric("latencyMs"), formatDuration),
    aggregate(t("Tokens (mean)"), pickMetric("tokens"), (x) => formatCount(Math.round(x))),
    aggregate(t("Cost (mean)"), pickMetric("cost"), formatCost),
  ]);
}

/** What the server's experiment on a run is doing: "" for a run made by a client. */
function experimentState(p) {
  if (!p) return "";
  const n = p.done + p.failed;
  if (p.state === "running") {
    return t("Running: {n} of {total}", { n, total: p.total }) + (p.resumed ? t(" · resumed after a restart") : "");
  }
  if (p.state === "failed") return t("Stopped: {reason}", { reason: p.errors[p.errors.length - 1] || "" });
  return t("Done: {n} of {total} · {failed} failed", { n, total: p.total, failed: p.failed });
}

/** Run a prompt version over the dataset with a model connection: no code, progress while it runs. */
async function experimentForm(name, again, activeItems) {
  if (!activeItems) {
    // Nothing to run over: say so, rather than a form whose Run can only fail.
    return h("p", { class: "muted experiment-form" }, t("An experiment runs over the dataset's active items, and it has none yet."), " ",
      h("a", { href: datasetPath(name, { tab: "items" }), "data-link": true, text: t("Add items") }));
  }
  const [prompts, connections] = await Promise.all([api("/api/v1/prompts"), api("/api/v1/llm-connections")]);
  if (!prompts.items.length || !connections.items.length) {
    return h("p", { class: "muted" }, t("To run an experiment from here, create a prompt (Prompts) and a model connection (Settings → Model connections)."),
      prompts.items.length ? null : [" ", h("a", { href: here("/prompts"), "data-link": true, text: t("Prompts") })],
      connections.items.length || !can("MANAGE_SETTINGS") ? null
        : [" ", h("a", { href: here("/settings#model-connections"), "data-link": true, text: t("Settings") })]);
  }
  const prompt = h("select", { "aria-label": t("Prompt") }, ...prompts.items.map((p) => h("option", { value: p.name, text: p.name })));
  const version = h("select", { "aria-label": t("Prompt version") });
  const fillVersions = () => {
    const p = prompts.items.find((x) => x.name === prompt.value);
    version.replaceChildren(...[...p.versions].reverse().map((v) => h("option", { value: v, text: t("version {v}", { v }) })));
  };
  prompt.addEventListener("change", fillVersions);
  fillVersions();
  const connection = h("select", { "aria-label": t("Model connection") },
    ...connections.items.map((c) => h("option", { value: c.provider, text: c.provider })));
  const models = h("datalist", { id: "experiment-models" });
  const model = h("input", { "aria-label": t("Model"), list: "experiment-models", required: true });
  const fillModels = () => {
    const c = connections.items.find((x) => x.provider === connection.value);
    models.replaceChildren(...c.models.map((m) => h("option", { value: m })));
    model.value = c.models[0] || "";
  };
  connection.addEventListener("change", fillModels);
  fillModels();
  const runName = h("input", { "aria-label": t("Run name"), placeholder: t("Run name (optional)") });
  const status = h("div", { class: "experiment-status", role: "status" });
  const error = errorLine();
  const poll = async (run) => {
    const doc = await api("/api/v1/dataset/experiments", { query: { name } });
    const p = doc.items.find((x) => x.runName === run) || { done: 0, failed: 0, total: 0, state: "running", errors: [] };
    status.replaceChildren(h("progress", { max: p.total || 1, value: p.done + p.failed }),
      h("span", { text: ` ${t("{n} of {total} items · {failed} failed", { n: p.done + p.failed, total: p.total, failed: p.failed })}${p.state === "done" ? t(" · finished") : ""}` }),
      ...p.errors.map((e) => h("p", { class: "error small", text: e })),
      p.state === "done" ? h("a", { href: datasetPath(name, { tab: "compare", run }), "data-link": true, text: t(" Compare this run") }) : "");
    if (p.state === "running") {
      if (status.isConnected) setTimeout(() => poll(run), 700);
    } else again();
  };
  return h("form", { class: "card experiment-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const started = await api("/api/v1/dataset/experiments", { method: "POST", body: { datasetName: name,
        promptName: prompt.value, promptVersion: Number(version.value), provider: connection.value, model: model.value.trim(),
        runName: runName.value.trim() || undefined } });
      again();
      poll(started.runName);
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("h3", { text: t("Run an experiment") }),
  h("p", { class: "muted", text: t("Each active item fills the prompt's {{variables}} (an object's keys, or {{input}}), the model answers, and every call is traced in a new run.") }),
  h("div", { class: "filters" }, prompt, version, connection, model, models, runName, h("button", { type: "submit", text: t("Run") })),
  status, error);
}

export async function datasetPage(root, name) {
  const params = new URLSearchParams(location.search);
  const tab = params.get("tab") || "items";
  const doc = await api("/api/v1/dataset", { query: { name } });
  const d = doc.dataset;
  const again = () => datasetPage(root, name);
  const active = doc.items.some((i) => i.status === "ACTIVE"); // what an experiment runs over
  const editBox = h("div", {});
  const notice = h("p", { class: "muted", role: "status" });
  const writable = can("WRITE_CONTENT");
  const tabs = [["items", t("Items ({n})", { n: doc.items.filter((i) => i.status === "ACTIVE").length })], ["runs", t("Runs ({n})", { n: doc.runs.length })],
    ["compare", t("Compare runs")]];
  let body;
  if (tab === "runs") {
    const runsBox = h("div", {});
    let experiments = new Map();
    const renderRuns = ({ runs, scoreNames }) => {
      // The tab's count follows the list: an experiment started here adds a run.
      const runsTab = root.querySelector('nav.tabs a[data-tab="runs"]');
      if (runsTab) runsTab.textContent = t("Runs ({n})", { n: runs.length });
      renderRunList(runs, scoreNames);
    };
    const loadRuns = () => api("/api/v1/dataset/runs", { query: { name } });
    // Each run with its numbers, as the comparison computes them: a team reads here which run did best.
    const renderRunList = (runs, scoreNames) => {
      const runScoreNames = [...new Set(runs.flatMap((r) => Object.keys(r.runScores || {})))].sort();
      const number = (v, format) => (v === null || v === undefined ? "–" : format(v));
      runsBox.replaceChildren(runs.length ? table([t("Run"), t("Created"), t("Run items"),
        ...scoreNames.map((n) => t("{name} (mean)", { name: n })), ...runScoreNames.map((n) => t("{name} (run)", { name: n })),
        t("Latency (mean)"), t("Tokens (mean)"), t("Cost (total)"), t("Experiment"), ""], runs.map((r) => h("tr", {},
        h("td", {}, h("a", { href: datasetPath(name, { tab: "compare", run: r.name }), "data-link": true, text: r.name }),
          r.description ? h("div", { class: "muted small", text: r.description }) : null),
        h("td", { text: formatIso(r.createdAt) }), h("td", { class: "num", text: formatCount(r.runItems) }),
        ...scoreNames.map((n) => h("td", { class: "num", text: number(r.scores[n], score) })),
        ...runScoreNames.map((n) => h("td", { class: "num", text: number((r.runScores || {})[n], score) })),
        h("td", { class: "num", text: number(r.latencyMs, formatDuration) }),
        h("td", { class: "num", text: number(r.tokens, (x) => formatCount(Math.round(x))) }),
        h("td", { class: "num", text: formatCost(r.totalCost) }),
        h("td", { class: "experiment-state", text: experimentState(experiments.get(r.name)) }),
        h("td", {}, writable ? h("button", { type: "button", class: "link", text: t("Delete"), onclick: async () => {
          if (!window.confirm(t("Delete run {name}? Its traces stay.", { name: r.name }))) return;
          await api("/api/v1/dataset/runs", { method: "DELETE", query: { name, run: r.name } });
          again();
        } }) : null))))
        : h("p", { class: "muted", text: formAbove ? t("No runs yet. Run one above, or run your application over the items with the Langfuse SDK (dataset.run_experiment(...) in 3.x and later, item.link(...) in 2.x).") : t("No runs yet.") }));
    };
    // Experiments the server runs show their state; while one runs (here, in another tab, or
    // picked up again after a restart) the list follows it.
    const loadExperiments = async () =>
      new Map((await api("/api/v1/dataset/experiments", { query: { name } })).items.map((p) => [p.runName, p]));
    // The form first: the empty list's text says "Run one above" only when a form is above
    // (someone who may write, active items, a prompt and a model connection to run them with).
    const [firstRuns, firstExperiments, runner] = await Promise.all([loadRuns(), loadExperiments(),
      writable ? experimentForm(name, () => refreshRuns(), active) : null]);
    const formAbove = runner instanceof HTMLFormElement;
    experiments = firstExperiments;
    renderRuns(firstRuns);
    // Refreshes overlap (the follower below, the form when its experiment ends): only the newest
    // one started may draw, or an older answer ("running") could replace a newer one ("done").
    let newest = 0;
    const refreshRuns = async () => {
      const mine = ++newest;
      const [runs, latest] = await Promise.all([loadRuns(), loadExperiments()]);
      if (mine !== newest) return;
      experiments = latest;
      renderRuns(runs);
    };
    const follow = async () => {
      if (!runsBox.isConnected) return;
      if ([...experiments.values()].some((p) => p.state === "running")) await refreshRuns();
      setTimeout(follow, 1500);
    };
    setTimeout(follow, 1500);
    body = h("div", {}, runner, runsBox);
  } else if (tab === "compare" && !doc.runs.length) {
    // Nothing to pick or compare: no Compare button over an empty list, but where runs come from.
    body = h("p", { class: "muted" }, t("No runs to compare yet: a run comes from an experiment or from the Langfuse SDK. "),
      h("a", { href: datasetPath(name, { tab: "runs" }), "data-link": true, text: t("Go to Runs") }));
  } else if (tab === "compare") {
    const chosen = params.getAll("run");
    const compare = await api("/api/v1/dataset/compare", { query: { name, run: chosen } });
    body = h("div", {}, runPicker(name, doc.runs, chosen.length ? chosen : compare.runs.map((r) => r.name)),
      h("p", { class: "muted", text: t("The first run chosen is the baseline: the other runs show their difference to it. A run may repeat an item: each repetition is listed, with the mean and spread.") }),
      compareView(compare));
  } else {
    body = h("div", {},
      writable ? h("div", { class: "filters" },
        h("button", { type: "button", text: t("Add item"), onclick: () => editBox.replaceChildren(itemEditor(d, null, again, () => editBox.replaceChildren())) }),
        importForm(d, (n) => { notice.textContent = n === 1 ? t("Imported 1 item.") : t("Imported {n} items.", { n }); setTimeout(again, 600); })) : null,
      h("div", { class: "filters" }, t("Export: "),
        ...[["jsonl", "JSONL"], ["csv", "CSV"], ["openai", t("OpenAI fine-tuning JSONL")]].map(([fmt, label]) =>
          h("a", { href: `/api/v1/dataset/export?${new URLSearchParams({ name, format: fmt, project: new URL(location.href).pathname.split("/")[2] })}`,
            download: true, text: label }))),
      notice, editBox,
      doc.items.length ? table([t("Input"), t("Expected output"), t("Source"), t("Status"), t("Updated"), ""], doc.items.map((item) => h("tr", { class: item.status === "ARCHIVED" ? "archived" : "" },
        cellWithMedia(show(item.input), "io-cell"), cellWithMedia(show(item.expectedOutput), "io-cell"),
        h("td", {}, item.sourceTraceId ? h("a", { href: here(`/traces/${encodeURIComponent(item.sourceTraceId)}${item.sourceObservationId ? `?observation=${encodeURIComponent(item.sourceObservationId)}` : ""}`),
          "data-link": true, text: t("trace") }) : "–"),
        h("td", { text: word(item.status) }), h("td", { text: formatIso(item.updatedAt) }),
        h("td", {}, writable ? [
          h("button", { type: "button", class: "link", text: t("Edit"), onclick: () => editBox.replaceChildren(itemEditor(d, item, again, () => editBox.replaceChildren())) }),
          h("button", { type: "button", class: "link", text: item.status === "ACTIVE" ? t("Archive") : t("Restore"), onclick: async () => {
            await api("/api/v1/dataset/items", { method: "PUT", body: { datasetName: d.name, id: item.id, status: item.status === "ACTIVE" ? "ARCHIVED" : "ACTIVE" } });
            again();
          } })] : null))))
        : h("p", { class: "muted", text: t("No items yet.") }));
  }
  root.replaceChildren(
    h("nav", { class: "crumbs" }, h("a", { href: here("/datasets"), "data-link": true, text: t("Datasets") })),
    h("div", { class: "page-head" }, h("h1", { text: d.name }), d.description ? h("span", { class: "muted", text: d.description }) : null,
      writable ? h("button", { type: "button", class: "link danger", text: t("Delete dataset"), onclick: async () => {
        const n = doc.items.length;
        if (!window.confirm(n === 0 ? t("Delete dataset {name}? Traces of its runs stay.", { name })
          : n === 1 ? t("Delete dataset {name} and its item? Traces of its runs stay.", { name })
          : t("Delete dataset {name} and its {n} items? Traces of its runs stay.", { name, n }))) return;
        await api("/api/v1/dataset", { method: "DELETE", query: { name } });
        go(here("/datasets"));
      } }) : null),
    h("nav", { class: "tabs", "aria-label": t("Dataset") }, ...tabs.map(([key, label]) => h("a", { href: datasetPath(name, { tab: key }),
      "data-link": true, "data-tab": key, class: key === tab ? "active" : "", "aria-current": key === tab ? "page" : undefined, text: label }))),
    body,
  );
}

/** "Add to dataset" from the trace view: the observation's input and output prefilled, editable. */
export async function addToDatasetDialog(span) {
  const doc = await api("/api/v1/datasets");
  const pick = h("select", { "aria-label": t("Dataset") }, ...doc.items.map((d) => h("option", { value: d.name, text: d.name })));
  const fresh = h("input", { "aria-label": t("New dataset name"), placeholder: t("or a new dataset's name") });
  const parse = (text) => { try { return JSON.parse(text); } catch { return text; } };
  const input = h("textarea", { "aria-label": t("Input"), rows: 4 });
  input.value = span.input || "";
  const expected = h("textarea", { "aria-label": t("Expected output"), rows: 3 });
  expected.value = span.output || "";
  const error = errorLine();
  const dialog = h("dialog", { class: "card add-to-dataset" });
  dialog.append(h("form", { method: "dialog", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      let datasetName = fresh.value.trim() || pick.value;
      if (!datasetName) throw new Error(t("Choose a dataset or name a new one."));
      if (fresh.value.trim()) datasetName = (await api("/api/v1/datasets", { method: "POST", body: { name: datasetName } })).name;
      await api("/api/v1/dataset/items", { method: "PUT", body: { datasetName, input: parse(input.value), expectedOutput: parse(expected.value),
        sourceTraceId: span.trace_id, sourceObservationId: span.parent_span_id || span.observation_type !== "TRACE" ? span.span_id : undefined } });
      dialog.close();
      dialog.remove();
      go(datasetPath(datasetName));
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("h2", { text: t("Add to dataset") }),
  h("div", { class: "filters" }, pick, fresh),
  h("label", { class: "block" }, t("Input"), input),
  h("label", { class: "block" }, t("Expected output (edit it to what it should have been)"), expected),
  h("div", { class: "filters" }, h("button", { type: "submit", text: t("Add to dataset") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: () => { dialog.close(); dialog.remove(); } })),
  error));
  document.body.append(dialog);
  dialog.showModal();
}
