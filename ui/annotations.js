// Annotation queues: score configs, queues of traces and observations for people to score, and a
// working view made for the keyboard: the object on the left, the queue's scores on the right,
// a comment, and "complete and next" (Ctrl+Enter); j / k move between items.
import { api } from "/ui/api.js";
import { renderIo } from "/ui/chat.js";
import { can, ctx, go, here } from "/ui/context.js";
import { formatCount, h, pager, scoreText, table } from "/ui/dom.js";
import { errorText, t, word } from "/ui/i18n.js";

function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

async function publicApi(path, options = {}) {
  // The queue API is Langfuse's (/api/public/...); people call it with their session like any route.
  return api(path, options);
}

/** Every item of a paged Langfuse list (``data`` and ``meta.totalPages``), ``limit`` at a time:
 * a queue with more items than a page still shows, counts and reaches all of them. */
async function allPages(path, limit = 100) {
  const items = [];
  for (let page = 1, pages = 1; page <= pages; page += 1) {
    const doc = await publicApi(path, { query: { limit, page } });
    items.push(...doc.data);
    pages = doc.meta.totalPages;
  }
  return items;
}

/** The form that adds a score config and changes one: "Change" fills it with the config's name,
 * range or categories and description. Its type stays, and a category kept keeps its value, so
 * the scores already given with it keep their meaning. */
function configForm(done) {
  const name = h("input", { "aria-label": t("Score name"), placeholder: t("score name"), maxlength: 35, required: true });
  const type = h("select", { "aria-label": t("Score type") }, ...["NUMERIC", "BOOLEAN", "CATEGORICAL"].map((v) => h("option", { value: v, text: word(v) })));
  const min = h("input", { "aria-label": t("Minimum"), type: "number", step: "any", placeholder: t("min") });
  const max = h("input", { "aria-label": t("Maximum"), type: "number", step: "any", placeholder: t("max") });
  const categories = h("input", { "aria-label": t("Categories"), placeholder: t("categories, comma-separated") });
  const about = h("input", { "aria-label": t("Score description"), placeholder: t("what it means, for those who score (optional)"), maxlength: 2000 });
  const error = errorLine();
  const submit = h("button", { type: "submit", text: t("Add score config") });
  const cancel = h("button", { type: "button", class: "link", text: t("Cancel"), hidden: true, onclick: () => edit(null) });
  // Which config the form changes, named as it was (the name field may be changing it too).
  const changing = h("span", { class: "muted", hidden: true });
  let editing = null;
  function edit(config) {
    editing = config;
    changing.textContent = config ? t("Changing the score config {name}:", { name: config.name }) : "";
    changing.hidden = !config;
    name.value = config ? config.name : "";
    type.value = config ? config.dataType : "NUMERIC";
    type.disabled = Boolean(config);
    min.value = config?.minValue ?? "";
    max.value = config?.maxValue ?? "";
    categories.value = config?.dataType === "CATEGORICAL" ? (config.categories || []).map((x) => x.label).join(", ") : "";
    about.value = config?.description || "";
    submit.textContent = config ? t("Save") : t("Add score config");
    cancel.hidden = !config;
    error.textContent = "";
    if (config) name.focus();
  }
  // Labels to categories: those the config had keep their values, new ones count on from the largest.
  const categoriesOf = (labels) => {
    const had = new Map((editing?.categories || []).map((x) => [x.label, x.value]));
    let next = Math.max(-1, ...had.values()) + 1;
    return labels.map((label) => ({ label, value: had.has(label) ? had.get(label) : next++ }));
  };
  const form = h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = { name: name.value.trim(), description: about.value.trim() };
    if (!editing) body.dataType = type.value;
    if (type.value === "NUMERIC") {
      // A bound cleared when changing a config is no bound (absent, it would stay as it was).
      if (min.value !== "" || editing) body.minValue = min.value === "" ? null : Number(min.value);
      if (max.value !== "" || editing) body.maxValue = max.value === "" ? null : Number(max.value);
    }
    if (type.value === "CATEGORICAL") {
      body.categories = categoriesOf(categories.value.split(",").map((s) => s.trim()).filter(Boolean));
    }
    try {
      if (editing) await publicApi(`/api/public/score-configs/${encodeURIComponent(editing.id)}`, { method: "PATCH", body });
      else await publicApi("/api/public/score-configs", { method: "POST", body });
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, changing, name, type, min, max, categories, about, submit, cancel, error);
  return { form, edit };
}

export async function annotationQueuesPage(root) {
  const [configs, queues] = (await Promise.all([allPages("/api/public/score-configs"), allPages("/api/public/annotation-queues")]))
    .map((data) => ({ data }));
  const again = () => annotationQueuesPage(root);
  const configEditor = configForm(again);
  const active = configs.data.filter((c) => !c.isArchived);
  // The project's people: whom a queue is assigned to, by name; those who may score can be assigned.
  const { members, nameOf } = await projectPeople();
  const assignable = can("MANAGE_MEMBERS") ? members.filter((m) => !["VIEWER", "NONE"].includes(m.role)) : [];
  const queueName = h("input", { "aria-label": t("Queue name"), placeholder: t("queue name"), required: true });
  const queueAbout = h("input", { "aria-label": t("Queue description"), placeholder: t("what to look for (optional)"), maxlength: 2000 });
  const error = errorLine();
  // One form makes a queue and changes one: "Change" fills it with the queue's name, description and
  // score configs (an archived one it still offers too, so keeping it is a choice).
  let editing = null;
  const pickFor = (c) => h("label", { class: "run-choice" }, h("input", { type: "checkbox", value: c.id }), ` ${c.name}`);
  const pickBox = h("span", {});
  const assignBox = h("span", { class: "queue-assignees" });
  const submit = h("button", { type: "submit", text: t("Create queue") });
  const cancel = h("button", { type: "button", class: "link", text: t("Cancel"), hidden: true, onclick: () => edit(null) });
  const changing = h("span", { class: "muted", hidden: true });
  function edit(queue) {
    editing = queue;
    changing.textContent = queue ? t("Changing the queue {name}:", { name: queue.name }) : "";
    changing.hidden = !queue;
    const offered = queue ? configs.data.filter((c) => !c.isArchived || queue.scoreConfigIds.includes(c.id)) : active;
    pickBox.replaceChildren(...offered.map(pickFor));
    queueName.value = queue ? queue.name : "";
    queueAbout.value = queue ? queue.description || "" : "";
    for (const box of pickBox.querySelectorAll("input")) box.checked = Boolean(queue && queue.scoreConfigIds.includes(box.value));
    assignBox.replaceChildren(...(assignable.length ? [t("Assign to:"), ...assignable.map((m) => h("label", { class: "run-choice" },
      h("input", { type: "checkbox", value: m.user_id, "aria-label": t("Assign to {name}", { name: m.name || m.email }),
        checked: Boolean(queue && queue.assignees.includes(m.user_id)) }), ` ${m.name || m.email}`))] : []));
    submit.textContent = queue ? t("Save") : t("Create queue");
    cancel.hidden = !queue;
    error.textContent = "";
    if (queue) queueName.focus();
  }
  edit(null);
  const queueRows = (list) => table([t("Queue"), t("Scores"), t("Progress"), t("Assigned to"), "", ""], list.map((q) => h("tr", {},
      h("td", {}, h("a", { href: here(`/annotation-queues/${encodeURIComponent(q.id)}`), "data-link": true, text: q.name })),
      h("td", { text: q.scoreConfigIds.map((id) => (configs.data.find((c) => c.id === id) || { name: id }).name).join(", ") }),
      h("td", {}, h("progress", { max: q.items || 1, value: q.completed }), ` ${t("{done} of {total} done", { done: formatCount(q.completed), total: formatCount(q.items) })}`),
      h("td", { text: q.assignees.length ? q.assignees.map(nameOf).join(", ") : "–" }),
      h("td", { class: "muted", text: q.description || "" }),
      h("td", {}, can("WRITE_CONTENT") ? h("span", {},
        h("button", { type: "button", class: "link", text: t("Change"), "aria-label": t("Change the queue {name}", { name: q.name }), onclick: () => edit(q) }), " ",
        h("button", { type: "button", class: "link danger", text: t("Delete"), onclick: async () => {
          if (!window.confirm(t("Delete the queue {name}? Its items go with it; the scores given in it stay.", { name: q.name }))) return;
          await api("/api/v1/annotation-queues", { method: "DELETE", query: { id: q.id } });
          again();
        } })) : null))));
  // Someone a queue is assigned to sees theirs alone, if they like (kept for the visit).
  const queueBox = h("div", {});
  const mine = ctx.me && queues.data.some((q) => q.assignees.includes(ctx.me.id));
  const showQueues = (only) => queueBox.replaceChildren(
    ...(mine ? [h("label", { class: "run-choice" }, h("input", { type: "checkbox", checked: only, "aria-label": t("Only queues assigned to me"),
      onchange: (e) => { sessionStorage.setItem("queues-mine", e.target.checked ? "1" : ""); showQueues(e.target.checked); } }),
    ` ${t("Only queues assigned to me")}`)] : []),
    queueRows(only ? queues.data.filter((q) => q.assignees.includes(ctx.me.id)) : queues.data));
  showQueues(Boolean(mine && sessionStorage.getItem("queues-mine")));
  root.replaceChildren(
    h("nav", { class: "tabs", "aria-label": t("Evaluations") },
      h("a", { href: here("/evaluations"), "data-link": true, text: t("LLM-as-a-judge") }),
      h("a", { href: here("/annotation-queues"), "data-link": true, class: "active", "aria-current": "page", text: t("Annotation queues") })),
    h("div", { class: "page-head" }, h("h1", { text: t("Annotation queues") })),
    queues.data.length ? queueBox : h("p", { class: "muted", text: t("No queue yet. Add traces to a queue from any trace with \"Add to queue\".") }),
    can("WRITE_CONTENT") && active.length ? h("form", { class: "filters", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      const ids = [...pickBox.querySelectorAll("input")].filter((i) => i.checked).map((i) => i.value);
      const body = { name: queueName.value.trim(), description: queueAbout.value.trim(), scoreConfigIds: ids };
      const chosen = [...assignBox.querySelectorAll("input")].filter((i) => i.checked).map((i) => i.value);
      try {
        const saved = editing ? await api("/api/v1/annotation-queues", { method: "PUT", query: { id: editing.id }, body })
          : await publicApi("/api/public/annotation-queues", { method: "POST", body });
        // Assignments are Langfuse's own calls, one person at a time: the difference is sent.
        const path = `/api/public/annotation-queues/${encodeURIComponent(saved.id)}/assignments`;
        const had = saved.assignees.filter((id) => assignable.some((m) => m.user_id === id));
        for (const userId of chosen.filter((id) => !had.includes(id))) await publicApi(path, { method: "POST", body: { userId } });
        for (const userId of had.filter((id) => !chosen.includes(id))) await publicApi(path, { method: "DELETE", body: { userId } });
        again();
      } catch (err) {
        error.textContent = errorText(err);
      }
    } }, changing, queueName, queueAbout, pickBox, assignBox, submit, cancel, error) : "",
    h("h2", { text: t("Score configs") }),
    configs.data.length ? table([t("Score"), t("Type"), t("Range or categories"), ""], configs.data.map((c) => h("tr", { class: c.isArchived ? "archived" : "" },
      h("td", {}, c.name, c.description ? h("div", { class: "muted small", text: c.description }) : ""), h("td", { text: word(c.dataType) }),
      h("td", { text: c.dataType === "NUMERIC" ? t("{min} to {max}", { min: c.minValue ?? "−∞", max: c.maxValue ?? "∞" }) : (c.categories || []).map((x) => x.label).join(", ") }),
      h("td", {}, can("WRITE_CONTENT") ? h("span", {},
        h("button", { type: "button", class: "link", text: t("Change"), "aria-label": t("Change the score config {name}", { name: c.name }),
          onclick: () => configEditor.edit(c) }), " ",
        h("button", { type: "button", class: "link", text: c.isArchived ? t("Restore") : t("Archive"), onclick: async () => {
          await publicApi(`/api/public/score-configs/${encodeURIComponent(c.id)}`, { method: "PATCH", body: { isArchived: !c.isArchived } });
          again();
        } })) : null))))
      : h("p", { class: "muted", text: t("No score config yet: a queue scores with one or more of them.") }),
    can("WRITE_CONTENT") ? configEditor.form : "",
  );
}

function control(config, value, onChange) {
  if (config.dataType === "NUMERIC") {
    const input = h("input", { type: "number", step: "any", "aria-label": config.name, min: config.minValue ?? undefined,
      max: config.maxValue ?? undefined, value: value ?? "", oninput: (e) => onChange(e.target.value === "" ? undefined : Number(e.target.value)) });
    return input;
  }
  const options = config.categories || [];
  return h("div", { class: "choices", role: "radiogroup", "aria-label": config.name }, ...options.map((o, i) => h("button", {
    type: "button", class: `choice${value === (config.dataType === "BOOLEAN" ? o.value : o.label) ? " chosen" : ""}`,
    "aria-pressed": String(value === (config.dataType === "BOOLEAN" ? o.value : o.label)),
    text: `${i + 1} ${o.label}`, onclick: () => onChange(config.dataType === "BOOLEAN" ? o.value : o.label) })));
}

/** One score to give: its name, what it means, and its control; ``values`` holds the choice (a
 * choice among categories draws the controls again through ``rerender``). */
function scoreControl(config, values, rerender) {
  return h("div", { class: "score-control" }, h("label", { text: config.name }),
    config.description ? h("p", { class: "muted small", text: config.description }) : "",
    control(config, values[config.id], (v) => { values[config.id] = v; if (config.dataType !== "NUMERIC") rerender(); }));
}

/** The project's people (to name whom a queue is assigned to and who completed an item), and a
 * function naming one by id; none where the list cannot be read. */
async function projectPeople() {
  const members = ctx.project ? (await api(`/api/v1/projects/${encodeURIComponent(ctx.project.id)}/members`)
    .catch(() => ({ data: [] }))).data : [];
  const nameOf = (id) => { const m = members.find((x) => x.user_id === id); return m ? m.name || m.email : id; };
  return { members, nameOf };
}

function showValue(text) {
  if (!text) return "–";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

export async function annotationQueuePage(root, queueId) {
  const [queue, configs, items] = await Promise.all([
    publicApi(`/api/public/annotation-queues/${encodeURIComponent(queueId)}`),
    allPages("/api/public/score-configs"),
    // A thousand at a time (the API's most for items): a queue of thousands opens in a few reads.
    allPages(`/api/public/annotation-queues/${encodeURIComponent(queueId)}/items`, 1000),
  ]);
  const configsOf = queue.scoreConfigIds.map((id) => configs.find((c) => c.id === id)).filter(Boolean);
  const params = new URLSearchParams(location.search);
  let index = Math.max(0, items.findIndex((i) => i.id === params.get("item")));
  if (!params.get("item")) index = Math.max(0, items.findIndex((i) => i.status === "PENDING"));
  const item = items[index];
  const done = items.filter((i) => i.status === "COMPLETED").length;
  const head = h("div", { class: "page-head" }, h("h1", { text: queue.name }),
    h("progress", { max: items.length || 1, value: done }), h("span", { class: "muted", text: t("{done} of {total} done", { done, total: items.length }) }));
  const back = h("p", {}, h("a", { href: here("/annotation-queues"), "data-link": true, text: t("← Annotation queues") }));
  // What the queue asks its people to look for, as its maker wrote it.
  const about = queue.description ? h("p", { class: "queue-about", text: queue.description }) : "";
  if (!item) {
    root.replaceChildren(back, head, about, h("p", { class: "muted" },
      t("The queue is empty. Add traces, observations or sessions to it with \"Add to queue\" on their pages."), " ",
      h("a", { href: here("/traces"), "data-link": true, text: t("Traces") })));
    return;
  }
  const mayScore = can("SCORE");
  const move = (to) => { if (items[to]) go(`${location.pathname}?item=${encodeURIComponent(items[to].id)}`); };
  const values = {};
  // A completed item shows what was given (one score per item and config, so ids are known):
  // completing it again changes those scores rather than starting blank.
  const given = item.status !== "COMPLETED" ? [] : (await api(
    `/api/v1/annotation-queues/${encodeURIComponent(queueId)}/items/${encodeURIComponent(item.id)}/scores`)).scores;
  for (const score of given) {
    const config = configsOf.find((c) => c.id === score.configId);
    if (config) values[config.id] = config.dataType === "CATEGORICAL" ? score.stringValue : score.value;
  }
  const object = h("div", { class: "card annotation-object" }, h("p", { class: "muted", text: t("Loading…") }));
  const comment = h("textarea", { "aria-label": t("Comment"), rows: 3, placeholder: t("comment (optional)") });
  comment.value = given.find((score) => score.comment)?.comment || "";
  const error = errorLine();
  const controls = h("div", { class: "annotation-scores" });
  const renderControls = () => controls.replaceChildren(...configsOf.map((c) => scoreControl(c, values, renderControls)));
  renderControls();
  const submit = async () => {
    error.textContent = "";
    const scores = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    try {
      await publicApi(`/api/public/annotation-queues/${encodeURIComponent(queueId)}/items/${encodeURIComponent(item.id)}/annotate`,
        { method: "POST", body: { scores, comment: comment.value } });
      const next = items.findIndex((i, n) => n > index && i.status === "PENDING");
      if (next >= 0) move(next); else annotationQueuePage(root, queueId);
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  root.replaceChildren(back, head, about,
    h("p", { class: "muted small", text: mayScore ? t("Keys: 1-9 choose a category of the first categorical score · Ctrl+Enter complete and next · j / k next / previous") : t("Keys: j / k next / previous") }),
    h("div", { class: "annotation-layout" }, object,
      h("div", { class: "card" },
        h("p", { class: "muted", text: t("Item {n} of {total} · {type} · {status}", { n: index + 1, total: items.length, type: objectKind(item.objectType), status: item.status === "COMPLETED" ? t("completed") : t("pending") }) }),
        // Someone who may not score (a viewer) reads the queue: no scores to give, nothing to complete.
        ...(mayScore ? [controls, comment] : [h("p", { class: "muted read-only", text: t("You can read this queue; scoring its items needs the Member role or above.") })]),
        h("div", { class: "filters" },
          mayScore ? h("button", { type: "button", text: t("Complete and next"), onclick: submit }) : null,
          h("button", { type: "button", class: "link", text: t("Previous"), disabled: index === 0, onclick: () => move(index - 1) }),
          h("button", { type: "button", class: "link", text: t("Skip"), disabled: index >= items.length - 1, onclick: () => move(index + 1) })),
        error)),
    itemList(queueId, items, index, mayScore, () => annotationQueuePage(root, queueId)));
  const onKey = (e) => {
    if (!document.body.contains(object)) { document.removeEventListener("keydown", onKey); return; }
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (mayScore && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); return; }
    if (typing) return;
    if (e.key === "j") move(index + 1);
    else if (e.key === "k") move(index - 1);
    else if (mayScore && /^[1-9]$/.test(e.key)) {
      const c = configsOf.find((x) => x.dataType !== "NUMERIC");
      const o = c && (c.categories || [])[Number(e.key) - 1];
      if (o) { values[c.id] = c.dataType === "BOOLEAN" ? o.value : o.label; renderControls(); }
    }
  };
  document.addEventListener("keydown", onKey);
  if (item.objectType === "SESSION") {
    object.replaceChildren(await sessionObject(item.objectId));
    return;
  }
  // The object: a trace's input and output (or the observation's), with a link to all of it.
  const doc = await api(`/api/v1/traces/${encodeURIComponent(item.traceId || item.objectId)}`).catch(() => ({ spans: [] }));
  const observation = item.objectType === "OBSERVATION";
  const span = observation ? doc.spans.find((s) => s.span_id === item.objectId)
    : doc.spans.find((s) => !s.parent_span_id) || doc.spans[0];
  object.replaceChildren(span ? h("div", {},
    h("h2", {}, h("a", { href: here(`/traces/${encodeURIComponent(span.trace_id)}${observation ? `?observation=${encodeURIComponent(span.span_id)}` : ""}`),
      "data-link": true, text: span.name })),
    // As the trace view shows them: chat messages as a chat, with their media.
    renderIo(t("Input"), observation ? span.input : doc.input) || h("p", { class: "muted", text: t("No input") }),
    renderIo(t("Output"), observation ? span.output : doc.output) || h("p", { class: "muted", text: t("No output") }))
    : h("p", { class: "muted", text: t("This object is not stored (any more).") }));
}

// Rows of a queue's item list shown at once (their names are read a page at a time too).
const ITEMS_PER_PAGE = 100;

/** Every item of a queue, folded away until asked for, a hundred at a time (opening at the
 * current item's page): where each stands, who completed it, a way to open any of them, and (for
 * those who may score) to take one out of the queue. */
function itemList(queueId, items, index, mayScore, again) {
  const body = h("div", {});
  const details = h("details", { class: "queue-items" }, h("summary", { text: t("All items ({n})", { n: formatCount(items.length) }) }), body);
  let people = null; // the project's people, read once for every page
  const show = async (pageNumber) => {
    const first = (pageNumber - 1) * ITEMS_PER_PAGE;
    people ||= projectPeople();
    const [{ nameOf }, named] = await Promise.all([people,
      api(`/api/v1/annotation-queues/${encodeURIComponent(queueId)}/item-names`, { query: { page: pageNumber, limit: ITEMS_PER_PAGE } })
        .catch(() => ({ names: {} }))]);
    const rows = items.slice(first, first + ITEMS_PER_PAGE).map((i, k) => {
      const n = first + k;
      return h("tr", { class: n === index ? "current" : "" },
        h("td", { text: String(n + 1) }), h("td", { text: objectKind(i.objectType) }),
        h("td", {}, h("a", { href: `${location.pathname}?item=${encodeURIComponent(i.id)}`, "data-link": true,
          text: named.names[i.objectId] || i.objectId, title: i.objectId })),
        h("td", { text: i.status === "COMPLETED" ? t("completed") : t("pending") }),
        h("td", { text: i.completedBy ? nameOf(i.completedBy) : "–" }),
        h("td", {}, mayScore ? h("button", { type: "button", class: "link danger", text: t("Remove"),
          "aria-label": t("Remove item {n} from the queue", { n: n + 1 }), onclick: async () => {
            if (!window.confirm(t("Remove this {kind} from the queue? Scores given on it stay.", { kind: objectKind(i.objectType) }))) return;
            await api(`/api/public/annotation-queues/${encodeURIComponent(queueId)}/items/${encodeURIComponent(i.id)}`, { method: "DELETE" });
            if (n === index) history.replaceState(null, "", location.pathname);
            again();
          } }) : ""));
    });
    body.replaceChildren(table(["#", t("Kind"), t("Object"), t("Status"), t("Completed by"), ""], rows),
      pager(pageNumber, items.length, ITEMS_PER_PAGE, show) || "");
  };
  details.addEventListener("toggle", () => {
    if (details.open && !body.childElementCount) show(Math.floor(index / ITEMS_PER_PAGE) + 1);
  });
  return details;
}

/** What a queue item is, in words. */
function objectKind(type) {
  return { TRACE: t("trace"), OBSERVATION: t("observation"), SESSION: t("session") }[type] || type;
}

/** A session in the queue: each of its traces' input and output, in order, linked. */
async function sessionObject(id) {
  const doc = await api(`/api/v1/sessions/${encodeURIComponent(id)}`, { query: { limit: 1000 } }).catch(() => null);
  if (!doc || !doc.traces.length) return h("p", { class: "muted", text: t("This session is not stored (any more).") });
  return h("div", {},
    h("h2", {}, h("a", { href: here(`/sessions/${encodeURIComponent(id)}`), "data-link": true, text: t("Session {id}", { id }) })),
    doc.next_cursor ? h("p", { class: "muted", text: t("Its first {n} traces of {total}: the session's page has them all.",
      { n: formatCount(doc.traces.length), total: formatCount(doc.trace_count) }) }) : null,
    ...doc.traces.flatMap((turn) => [
      h("h3", {}, h("a", { href: here(`/traces/${encodeURIComponent(turn.trace_id)}`), "data-link": true, text: turn.name || turn.trace_id })),
      h("pre", { class: "io", text: `${showValue(turn.input)}\n→ ${showValue(turn.output)}` }),
    ]));
}

/** "Add to queue" from the trace view (a span) or a session page ({ session: id }). */
export async function addToQueueDialog(span) {
  const queues = { data: await allPages("/api/public/annotation-queues") };
  if (!queues.data.length) {
    window.alert(t("No annotation queue yet: create one under Annotation."));
    return;
  }
  const pick = h("select", { "aria-label": t("Queue") }, ...queues.data.map((q) => h("option", { value: q.id, text: q.name })));
  const whole = h("input", { type: "checkbox", "aria-label": t("The whole trace"), checked: !span.parent_span_id });
  const target = () => (span.session ? { objectId: span.session, objectType: "SESSION" }
    : whole.checked ? { objectId: span.trace_id, objectType: "TRACE" } : { objectId: span.span_id, objectType: "OBSERVATION" });
  const error = errorLine();
  const dialog = h("dialog", { class: "card add-to-dataset" });
  dialog.append(h("form", { method: "dialog", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await publicApi(`/api/public/annotation-queues/${encodeURIComponent(pick.value)}/items`, { method: "POST",
        body: target() });
      dialog.close();
      dialog.remove();
      go(here(`/annotation-queues/${encodeURIComponent(pick.value)}`));
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, h("h2", { text: t("Add to annotation queue") }), h("div", { class: "filters" }, pick, span.session ? null : h("label", {}, whole, t(" the whole trace"))),
  h("div", { class: "filters" }, h("button", { type: "submit", text: t("Add to queue") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: () => { dialog.close(); dialog.remove(); } })), error));
  document.body.append(dialog);
  dialog.showModal();
}

// Who gave a score: the API (an SDK, the app's user feedback), a person (in a queue or on the
// object's page), or an LLM judge (an evaluation rule).
const SCORE_SOURCES = { API: () => t("API"), ANNOTATION: () => t("a person"), EVAL: () => t("an LLM judge") };

/** A trace's, an observation's or a session's scores; with ``deletable``, a score a person gave
 * has a × for those who score (the API's and a judge's are deleted through the API); ``done``
 * redraws the page after. */
export function scoreList(scores, deletable, done) {
  if (!scores.length) return null;
  const mayDelete = (sc) => deletable && sc.source === "ANNOTATION" && can("SCORE");
  return h("section", {}, h("h3", { text: t("Scores") }), h("ul", { class: "scores" }, ...scores.map((sc) =>
    h("li", {}, h("strong", { text: sc.name }),
      `: ${scoreText(sc)}`,
      SCORE_SOURCES[sc.source] ? h("span", { class: "muted small", text: ` · ${SCORE_SOURCES[sc.source]()}` }) : null,
      sc.comment ? h("span", { class: "muted", text: ` — ${sc.comment}` }) : null,
      mayDelete(sc) ? h("button", { type: "button", class: "link danger", "aria-label": t("Delete the score {name}", { name: sc.name }),
        text: "×", onclick: async () => {
          if (!window.confirm(t("Delete the score {name} a person gave?", { name: sc.name }))) return;
          await api("/api/v1/annotations", { method: "DELETE", query: { id: sc.id } });
          done();
        } }) : null))));
}

/** "Annotate" on a trace's or a session's page: the signed-in person's scores on the trace, one
 * of its observations (``span``) or the session (``{ session: id }``), one control per score
 * config (their own earlier values filled in), without a queue; ``scores`` are those shown beside
 * it, ``done`` redraws the page. */
export async function annotateDialog(span, scores, done) {
  const configs = (await allPages("/api/public/score-configs")).filter((c) => !c.isArchived);
  if (!configs.length) {
    window.alert(t("No score config yet: create one under Evaluations → Annotation queues."));
    return;
  }
  const session = span.session;
  const root = !session && !span.parent_span_id;
  const whole = h("input", { type: "checkbox", "aria-label": t("The whole trace"), checked: root, onchange: () => fill() });
  const values = {};
  const comment = h("textarea", { "aria-label": t("Comment"), rows: 2, placeholder: t("comment (optional)") });
  const controls = h("div", { class: "annotation-scores" });
  const render = () => controls.replaceChildren(...configs.map((c) => scoreControl(c, values, render)));
  // This person's scores on the chosen object, to change rather than start again.
  const fill = () => {
    const onTrace = whole.checked;
    for (const key of Object.keys(values)) delete values[key];
    for (const sc of scores) {
      const here_ = session ? sc.session_id === session && !sc.trace_id
        : onTrace ? !sc.observation_id || (root && sc.observation_id === span.span_id) : sc.observation_id === span.span_id;
      const config = configs.find((c) => c.name === sc.name);
      // Metadata values are stored as JSON: the person's id is a JSON string.
      const by = (sc.metadata || {}).annotatedBy;
      const mine = ctx.me && (by === ctx.me.id || by === JSON.stringify(ctx.me.id));
      if (!here_ || !config || sc.source !== "ANNOTATION" || !mine) continue;
      values[config.id] = config.dataType === "NUMERIC" || config.dataType === "BOOLEAN" ? Number(sc.value) : sc.string_value;
    }
    render();
  };
  fill();
  const error = errorLine();
  const dialog = h("dialog", { class: "card annotate" });
  const close = () => { dialog.close(); dialog.remove(); };
  dialog.append(h("form", { method: "dialog", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const chosen = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    if (!Object.keys(chosen).length) { error.textContent = t("Choose at least one score."); return; }
    try {
      const target = session ? { sessionId: session } : { traceId: span.trace_id, observationId: whole.checked ? undefined : span.span_id };
      await api("/api/v1/annotate", { method: "POST", body: { ...target, scores: chosen, comment: comment.value || undefined } });
      close();
      done();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, h("h2", { text: session ? t("Annotate session {id}", { id: session }) : t("Annotate {name}", { name: span.name }) }),
  root || session ? null : h("div", { class: "filters" }, h("label", {}, whole, t(" the whole trace"))),
  controls, comment,
  h("div", { class: "filters" }, h("button", { type: "submit", text: t("Save scores") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: close })), error));
  document.body.append(dialog);
  dialog.showModal();
}
