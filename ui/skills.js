// Skills: the project's versioned agent skills (a SKILL.md with its header, and supporting files),
// each skill's versions with labels and files, a new version from an editor of its files, "use this
// skill" snippets, and the observations that reported the skill as available to a model.
import { api } from "/ui/api.js";
import { can, go, here } from "/ui/context.js";
import { formatBytes, formatCost, formatCount, formatDuration, formatIso, formatTime, h, table } from "/ui/dom.js";
import { snippet } from "/ui/keys.js";
import { errorText, t } from "/ui/i18n.js";
import { chips, labelEditor, metricsTable, promptTabs, tagEditor, usageRows, versionList } from "/ui/prompts.js";

const TEMPLATE = "---\nname: my-skill\ndescription: What the skill does, and when the agent should load it.\n---\n# My skill\n\nInstructions for the agent.\n"; // code, not text
export const SKILLS_ATTRIBUTE = "langfuse.observation.skills_available";

export function skillPath(name, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const q = query.toString();
  return here(`/skills/${encodeURIComponent(name)}${q ? `?${q}` : ""}`);
}

/** The skills a span reported as available (its skills_available attribute): [{name, version}]. */
export function reportedSkills(attributes) {
  const raw = (attributes || {})[SKILLS_ATTRIBUTE];
  if (!raw) return [];
  try {
    const list = JSON.parse(raw);
    if (!Array.isArray(list)) return [];
    // Langfuse's legacy field names (skillName, skillVersion) too.
    return list.map((s) => ({ name: s?.name ?? s?.skillName, version: s?.version ?? s?.skillVersion }))
      .filter((s) => typeof s.name === "string" && s.name);
  } catch {
    return [];
  }
}

/** The editor of a new skill or a new version: its files (path and text), labels and a note. */
function editor(files, done, cancel) {
  const rows = h("div", { class: "skill-files-edit" });
  const addRow = (path, content) => {
    const pathInput = h("input", { "aria-label": t("File path"), value: path, placeholder: t("references/guide.md"), required: true });
    const text = h("textarea", { "aria-label": t("File text"), rows: path === "SKILL.md" ? 10 : 5 });
    text.value = content;
    const row = h("div", { class: "skill-file-edit" }, h("div", { class: "filters" }, pathInput,
      h("button", { type: "button", class: "link", text: t("Remove"), onclick: () => row.remove() })), text);
    row.read = () => ({ path: pathInput.value.trim(), content: text.value });
    rows.append(row);
  };
  for (const f of files) addRow(f.path, f.content || "");
  const labels = h("input", { "aria-label": t("Labels of the new version"), placeholder: t("labels, comma-separated (e.g. staging)") });
  const commit = h("input", { "aria-label": t("Commit message"), placeholder: t("What changed (optional)"), maxlength: 500 });
  const error = h("p", { class: "error", role: "alert" });
  return h("form", { class: "card skill-editor", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const labelList = labels.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (labelList.includes("production") && !window.confirm(t("Give the new version the production label? Agents fetching the production skill will get it."))) return;
    try {
      const doc = await api("/api/v1/skills", { method: "POST", body: { files: [...rows.children].map((r) => r.read()),
        labels: labelList, commitMessage: commit.value || undefined } });
      done(doc);
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("p", { class: "muted", text: t("SKILL.md's header names the skill and describes it; a name not used yet starts a new skill.") }),
  rows,
  h("button", { type: "button", class: "link", text: t("+ File"), onclick: () => addRow("", "") }),
  h("div", { class: "filters" }, labels, commit),
  h("div", { class: "filters" }, h("button", { type: "submit", text: t("Save version") }),
    h("button", { type: "button", class: "link", text: t("Cancel"), onclick: cancel })),
  error);
}

export async function skillsPage(root) {
  const params = new URLSearchParams(location.search);
  const search = (params.get("q") || "").toLowerCase();
  const doc = await api("/api/v1/skills");
  const matches = doc.items.filter((s) => !search || s.name.toLowerCase().includes(search) || s.description.toLowerCase().includes(search));
  const newBox = h("div", {});
  root.replaceChildren(
    promptTabs("skills"),
    h("div", { class: "page-head" }, h("h1", { text: t("Skills") }),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("New skill"), onclick: () => {
        newBox.replaceChildren(editor([{ path: "SKILL.md", content: TEMPLATE }], (created) => go(skillPath(created.name)),
          () => newBox.replaceChildren()));
      } }) : null),
    newBox,
    h("form", { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      const q = e.target.elements.q.value.trim();
      go(`${location.pathname}${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    } },
    h("input", { name: "q", "aria-label": t("Search skills"), placeholder: t("Search by name or description"), value: params.get("q") || "" }),
    h("button", { type: "submit", text: t("Search") })),
    doc.items.length === 0
      ? h("div", { class: "card empty" }, h("h2", { text: t("No skills yet") }),
        h("p", { text: t("Create one here, or publish a skill folder from code: langfuse.api.skills.create_version(files=[...]) with the langfuse 5.2 SDK, or the Langfuse CLI's skills push, pointed at this host.") }))
      : table([t("Name"), t("Description"), t("Versions"), t("Labels"), t("Tags"), t("Updated")], matches.map((s) => h("tr", {},
        h("td", {}, h("a", { href: skillPath(s.name), "data-link": true, text: s.name })),
        h("td", { class: "description", text: s.description }),
        h("td", { text: String(s.versions.length) }),
        h("td", {}, chips(s.labels)),
        h("td", {}, chips(s.tags, "chip tag")),
        h("td", { text: formatIso(s.latestVersionLastUpdatedAt) })))),
  );
}

function skillLabels(name, v, versions, done) {
  return labelEditor(v, versions, async (labels) => {
    await api("/api/v1/skill/labels", { method: "PUT", query: { name, version: v.version }, body: { labels } });
    done();
  }, (moving, holder) => (moving
    ? (holder ? t("Move \"production\" to version {v} of this skill (from version {from})? Agents fetching the production skill get this version.", { v: v.version, from: holder.version })
      : t("Move \"production\" to version {v} of this skill? Agents fetching the production skill get this version.", { v: v.version }))
    : t("Take \"production\" off version {v}? Agents asking for the production skill will get \"not found\" until another version has it.", { v: v.version })));
}

function useSnippets(name, v) {
  const py = JSON.stringify(name);
  const pin = v.labels.includes("production") ? "" : `, version=${v.version}`;
  return h("div", { class: "snippets" },
    snippet(t("Python, langfuse 5.2 and later"), `from langfuse import get_client\n\nlangfuse = get_client()\n`
      + `skill = langfuse.api.skills.get(${py}${pin}, include_content=True)\n`
      + `for f in skill.files:\n    print(f.path, len(f.content))`), // code, not text
    snippet(t("Report it on the model calls that may use it (Python)"), `from langfuse import propagate_attributes\n\n`
      + `with propagate_attributes(skills_available=[{"name": ${py}, "version": ${v.version}}]):\n    ...  # the agent's model calls`), // code, not text
    snippet(t("Any OpenTelemetry instrumentation"), `span.set_attribute("${SKILLS_ATTRIBUTE}",\n`
      + `    '[{"name": ${py}, "version": ${v.version}}]')`));
}

function filesView(v) {
  return h("div", { class: "skill-files" }, ...v.files.map((f) => h("details", { class: "skill-file", open: f.path === "SKILL.md" },
    h("summary", {}, h("code", { text: f.path }), h("span", { class: "muted", text: ` · ${f.contentType} · ${formatBytes(f.contentLength)}` })),
    h("pre", { class: "io", text: f.content ?? "" }))));
}

export async function skillPage(root, name) {
  const params = new URLSearchParams(location.search);
  const doc = await api("/api/v1/skill", { query: { name, version: params.get("version") || undefined } });
  if (!doc.versions.length) return unstoredSkillPage(root, name);
  const versions = doc.versions; // newest first
  const selected = doc.selected;
  const again = () => skillPage(root, name);
  const editBox = h("div", {});
  const reported = h("div", {}, h("p", { class: "muted", text: t("Loading observations…") }));
  const usage = h("div", {});
  const mayDelete = can("WRITE_CONTENT") && (!selected.labels.includes("production") || can("MANAGE_PROTECTED_LABELS"));
  const mayDeleteAll = can("WRITE_CONTENT") && (can("MANAGE_PROTECTED_LABELS") || !versions.some((v) => v.labels.includes("production")));
  const deleteSkill = async () => {
    const ask = versions.length === 1 ? t("Delete {name}? Agents asking for it will get \"not found\".", { name })
      : t("Delete {name} and its {n} versions? Agents asking for it will get \"not found\".", { name, n: versions.length });
    if (!window.confirm(ask)) return;
    await api("/api/v1/skill", { method: "DELETE", query: { name } });
    go(here("/skills"));
  };
  root.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": t("Skills") }, h("a", { href: here("/skills"), "data-link": true, text: t("Skills") })),
    h("div", { class: "page-head" }, h("h1", { text: name }),
      h("span", { class: "muted", text: versions.length === 1 ? t("skill · 1 version") : t("skill · {n} versions", { n: versions.length }) }),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("New version"), onclick: () => {
        editBox.replaceChildren(editor(selected.files, (created) => go(skillPath(created.name, { version: created.version })),
          () => editBox.replaceChildren()));
      } }) : null,
      mayDeleteAll ? h("button", { type: "button", class: "link danger", text: t("Delete skill"), onclick: deleteSkill }) : null),
    ...(doc.missingVersion ? [h("p", { class: "card unstored", text: t("Version {v} of {name} is not stored here (deleted, or the agent's own): this is version {newest}, the newest.", { v: doc.missingVersion, name, newest: selected.version }) })] : []),
    editBox,
    h("div", { class: "prompt-layout" },
      versionList(versions, selected, (v) => skillPath(name, { version: v.version })),
      h("section", { class: "version-detail" },
        h("div", { class: "filters" }, h("h2", { text: t("Version {v}", { v: selected.version }) }),
          mayDelete ? h("button", { type: "button", class: "link danger", text: t("Delete this version"), onclick: async () => {
            if (!window.confirm(t("Delete version {v} of {name}? Agents pinned to it will get \"not found\".", { v: selected.version, name }))) return;
            await api("/api/v1/skill", { method: "DELETE", query: { name, version: selected.version } });
            go(versions.length > 1 ? skillPath(name) : here("/skills"));
          } }) : null),
        h("p", { class: "skill-description", text: selected.description }),
        h("h3", { text: t("Files") }),
        filesView(selected),
        h("h3", { text: t("Labels") }),
        skillLabels(name, selected, versions, again),
        h("h3", { text: t("Tags") }),
        h("p", { class: "muted", text: t("Tags are the skill's: the same on every version.") }),
        tagEditor("/api/v1/skill/tags", name, selected.tags, again),
        h("h3", { text: t("Use this skill") }),
        useSnippets(name, selected))),
    h("h2", { text: t("In use (last {days} days)", { days: 30 }) }),
    usage,
    h("h2", { text: t("Observations that reported this skill") }),
    reported,
  );
  await showUse(name, [...versions].reverse(), selected.version, usage, reported);
}

/** A skill this project does not hold, as the trace view links to one an agent reported: what
 * reported it, and (for those who write) its SKILL.md to store it here. */
async function unstoredSkillPage(root, name) {
  const editBox = h("div", {});
  const reported = h("div", {}, h("p", { class: "muted", text: t("Loading observations…") }));
  const usage = h("div", {});
  // A name YAML reads as it is stays plain; any other is quoted (a JSON string is YAML too).
  const yamlName = /^[A-Za-z0-9][A-Za-z0-9 _.-]*$/.test(name) ? name : JSON.stringify(name);
  const start = `---\nname: ${yamlName}\ndescription: What the skill does, and when the agent should load it.\n---\n# ${name}\n\n`; // code, not text
  root.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": t("Skills") }, h("a", { href: here("/skills"), "data-link": true, text: t("Skills") })),
    h("div", { class: "page-head" }, h("h1", { text: name }),
      h("span", { class: "muted", text: t("not stored in this project") }),
      can("WRITE_CONTENT") ? h("button", { type: "button", text: t("Store it here"), onclick: () => {
        editBox.replaceChildren(editor([{ path: "SKILL.md", content: start }], (created) => go(skillPath(created.name)),
          () => editBox.replaceChildren()));
      } }) : null),
    h("p", { class: "card unstored", text: t("This project holds no skill named {name}. Observations reported it as available to a model: the agent has it from elsewhere (files of its own, or another project). Store it here to version it, label it and serve it to agents.", { name }) }),
    editBox,
    h("h2", { text: t("In use (last {days} days)", { days: 30 }) }),
    usage,
    h("h2", { text: t("Observations that reported this skill") }),
    reported,
  );
  await showUse(name, null, null, usage, reported);
}

/** The skill's use into ``usage`` (per version: ``versions`` oldest first, or null for every
 * version reported) and ``reported`` (the newest observations that reported it). */
async function showUse(name, versions, selected, usage, reported) {
  const [rows, metrics] = await Promise.all([api("/api/v1/skill/observations", { query: { name } }),
    api("/api/v1/skill/metrics", { query: { name } })]);
  const shown = usageRows(versions || [], metrics);
  usage.replaceChildren(h("p", { class: "muted", text: t("Observations that reported each version as available to a model, their latency, tokens, cost and scores: compare versions here.") }),
    metricsTable(metrics, shown, selected, (v) => skillPath(name, { version: v.version }),
      t("No observation reported a version of {name} in the last {days} days.", { name, days: metrics.days })));
  reported.replaceChildren(rows.items.length
    ? table([t("Time"), t("Observation"), t("Type"), t("Version reported"), t("Model"), t("Latency"), t("Tokens"), t("Cost")], rows.items.map((r) => h("tr", {},
      h("td", { text: formatTime(r.start_ns) }),
      h("td", {}, h("a", { href: here(`/traces/${encodeURIComponent(r.trace_id)}?observation=${encodeURIComponent(r.span_id)}`), "data-link": true, text: r.name })),
      h("td", { text: r.observation_type }),
      h("td", {}, r.reported_version ? h("a", { href: skillPath(name, { version: r.reported_version }), "data-link": true,
        text: t("version {v}", { v: r.reported_version }) }) : t("any version")),
      h("td", { text: r.model || "–" }),
      h("td", { text: formatDuration(Number(r.duration_ns) / 1e6) }), h("td", { text: formatCount(r.total_tokens) }),
      h("td", { text: formatCost(r.total_cost) }))))
    : h("p", { class: "muted", text: t("No observation reported this skill in the last {days} days. Report the skills a model may use with propagate_attributes(skills_available=[...]) in the langfuse 5.2 SDK, or the span attribute langfuse.observation.skills_available.", { days: rows.days }) }));
}
