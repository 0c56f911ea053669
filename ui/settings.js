// Settings: a project's keys, members, retention and prices; an organization's projects, members and
// invitations; the signed-in person's account. Controls show only where the caller's role allows them.
import { api } from "/ui/api.js";
import { can, ctx, findProject, go, loadOrganizations, useProject } from "/ui/context.js";
import { formatBytes, formatIso, h, table } from "/ui/dom.js";
import { keyPanel, snippet } from "/ui/keys.js";
import { errorText, formatNumber, t, word } from "/ui/i18n.js";
import { auditSection } from "/ui/audit.js";

const ROLES = ["OWNER", "ADMIN", "MEMBER", "VIEWER", "NONE"];
const PROJECT_ROLES = ROLES.slice(1);

function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

/** A form whose submit runs `action`, showing its error beside it instead of losing it. */
function form(cls, action, ...fields) {
  const error = h("span", { class: "error", role: "alert" });
  return h("form", { class: cls, onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await action();
    } catch (err) {
      error.textContent = errorText(err);
    }
  } }, ...fields, error);
}

function roleSelect(label, roles, current, onChange, blank) {
  return h("select", { "aria-label": label, onchange: onChange ? (e) => onChange(e.target.value) : undefined },
    blank ? h("option", { value: "", text: blank, selected: !current }) : null,
    ...roles.map((r) => h("option", { value: r, text: word(r), selected: r === current })));
}

/** A kind of token price, in words. */
function priceKind(kind) {
  return { input: t("input"), output: t("output"), cache_read: t("cache read"), cache_write: t("cache write"),
    reasoning: t("reasoning") }[kind] || kind;
}

// Wide enough for its placeholder (which is its only label on screen): wide characters count twice.
function fitted(label) {
  const width = [...label].reduce((n, c) => n + (c.codePointAt(0) > 0x2e80 ? 2 : 1), 0);
  return `width: ${width + 4}ch`;
}

function priceForm(project, done) {
  const field = (name, label, attrs = {}) => h("input", { name, placeholder: label, "aria-label": label, style: fitted(label), ...attrs });
  const model = field("model_name", t("Model name"), { required: true });
  const pattern = field("match_pattern", t("Match pattern (regex)"), { required: true });
  const prices = ["input", "output", "cache_read", "cache_write", "reasoning"].map((k) =>
    [k, field(k, t("{kind} $/1M", { kind: priceKind(k) }), { type: "number", step: "any", min: 0, class: "price" })]);
  return form("filters price-form", async () => {
    const values = Object.fromEntries(prices.filter(([, el]) => el.value !== "").map(([k, el]) => [k, el.value]));
    await api("/api/v1/settings/prices", { method: "POST", body: { project: project.id, model_name: model.value,
      match_pattern: pattern.value || model.value, prices: values } });
    done();
  }, model, pattern, ...prices.map(([, el]) => el), h("button", { type: "submit", text: t("Add override") }));
}

/** Key pairs as a table (secrets as their hint only), each active one with a Revoke that asks first. */
function keyTable(keys, empty, revoke) {
  if (!keys.length) return h("p", { class: "muted", text: empty });
  return table([t("Public key"), t("Secret"), t("Note"), t("Created"), t("Status"), ""], keys.map((k) => h("tr", {},
    h("td", { text: k.public_key }), h("td", { text: k.secret_hint }), h("td", { text: k.note || "" }),
    h("td", { text: formatIso(k.created_at) }), h("td", { text: k.revoked_at ? t("revoked") : t("active") }),
    h("td", {}, k.revoked_at ? "" : h("button", { type: "button", class: "link", text: t("Revoke"), onclick: async () => {
      if (confirm(t("Revoke {key}? Clients using it are refused from now on.", { key: k.public_key }))) await revoke(k);
    } })))));
}

async function keysSection(project, again) {
  const created = h("div", { class: "created" });
  const list = h("div", {});
  const listKeys = async () => {
    const keys = await api("/api/v1/settings/keys", { query: { project: project.id } });
    list.replaceChildren(keyTable(keys.items, t("No key yet."), async (k) => {
      await api(`/api/v1/settings/keys/${encodeURIComponent(k.public_key)}/revoke`, { method: "POST" });
      again();
    }));
  };
  const note = h("input", { placeholder: t("Note (optional)"), "aria-label": t("Key note"), maxlength: 200 });
  await listKeys();
  // Open mode (this machine, no account, no key): the first key ends it, for the UI as well.
  const open = !ctx.me && ctx.open;
  return [
    h("h2", { text: t("API keys") }),
    h("p", { class: "muted", text: t("A key pair lets Dify, the Langfuse SDKs and OpenTelemetry exporters write to this project and read it back.") }),
    open ? h("p", { class: "warn open-mode-note", text: t("This server lets this machine in without signing in only while it has no key. The first key ends that: exporters then need a key, and the UI an account (you create the admin account next).") }) : null,
    form("filters", async () => {
      const pair = await api("/api/v1/settings/keys", { method: "POST", body: { project: project.id, note: note.value } });
      note.value = "";
      if (open) {
        // Nothing more is readable without an account now: the secret to copy, then the account.
        ctx.open = false;
        created.replaceChildren(keyPanel(pair));
        list.replaceChildren(h("p", { class: "warn", role: "status" }, t("Copy the secret key now: this server asks for an account from here on. "),
          h("a", { href: "/", "data-link": true, text: t("Create the admin account") })));
        return;
      }
      created.replaceChildren(keyPanel(pair, { wait: true }));
      await listKeys(); // the new key listed under its panel at once
    }, note, h("button", { type: "submit", text: t("Create key pair") })),
    created,
    list,
  ];
}

// Why people are here without an invitation: the server's default access (TRACEHOUSE_DEFAULT_ORG /
// _PROJECT) and the roles single sign-on's groups give (TRACEHOUSE_OIDC_GROUP_ROLES).
function provisionedNotes(listed, setting) {
  const notes = [];
  if (listed.default_role) notes.push(h("p", { class: "muted default-access",
    text: t("Every new account gets {role} here without an invitation ({setting}).", { role: word(listed.default_role), setting }) }));
  if (listed.group_roles?.length) notes.push(h("ul", { class: "muted group-roles" },
    ...listed.group_roles.map((g) => h("li", { text: t("Members of the sign-in provider's group {group} get at least {role} here at each sign-in.",
      { group: g.group, role: word(g.role) }) }))),
    h("p", { class: "muted group-roles-leave", text: t("Someone who leaves a group gets back the role they had before it at their next sign-in, unless the role was changed here since.") }));
  return notes;
}

async function membersSection(project, again) {
  const listed = await api(`/api/v1/projects/${encodeURIComponent(project.id)}/members`);
  const members = listed.data;
  return [
    h("h2", { text: t("Members") }),
    ...provisionedNotes(listed, "TRACEHOUSE_DEFAULT_PROJECT"),
    h("p", { class: "muted", text: t("A project role overrides the organization role in this project only. Invite people from the organization's settings.") }),
    table([t("Name"), t("Email"), t("Organization role"), t("Project role"), t("Role here")], members.map((m) => h("tr", {},
      h("td", { text: m.name }), h("td", { text: m.email }), h("td", { text: m.organization_role ? word(m.organization_role) : "–" }),
      h("td", {}, roleSelect(t("Project role of {email}", { email: m.email }), PROJECT_ROLES, m.project_role, async (value) => {
        await api(`/api/v1/projects/${encodeURIComponent(project.id)}/members/${encodeURIComponent(m.user_id)}`,
          { method: "PUT", body: { role: value || null } });
        again();
      }, t("(organization role)"))),
      h("td", { text: word(m.role) })))),
  ];
}

async function retentionSection(project, again) {
  const days = h("input", { type: "number", min: 0, max: 36500, value: project.retention_days ?? 0, class: "days",
    "aria-label": t("Retention days") });
  return [
    h("h2", { text: t("Data retention") }),
    form("filters", async () => {
      const now = project.retention_days ?? 0;
      const next = Number(days.value);
      // A shorter retention deletes the older data at once, for good: asked first.
      if (next > 0 && (now === 0 || next < now)
        && !confirm(t("Keep {days} days of data? Everything older is deleted now, for good.", { days: next }))) return;
      await api(`/api/v1/settings/projects/${encodeURIComponent(project.id)}/retention`, { method: "POST",
        body: { days: next } });
      await loadOrganizations();
      useProject(findProject(project.id));
      again();
    }, h("label", { class: "check" }, t("Keep data for"), days, t("days (0 = forever)")),
    h("button", { type: "submit", text: t("Save") })),
  ];
}

async function pricesSection(project, again) {
  const prices = await api("/api/v1/settings/prices", { query: { project: project.id } });
  return [
    h("h2", { text: t("Model prices (USD per 1M tokens)") }),
    h("p", { class: "muted", text: t("An override applies to this project, to models whose name matches its pattern (a regular expression), before the built-in prices. Costs sent with the spans always win.") }),
    priceForm(project, again),
    // The project's overrides in full; the built-in table (about a hundred models) folded away.
    prices.overrides.length ? priceTable(prices.overrides.map((o) => ["override", o]), again) : null,
    h("details", { class: "builtin-prices" },
      h("summary", { text: t("Built-in prices ({n} models)", { n: prices.builtin.length }) }),
      priceTable(prices.builtin.map((b) => ["built-in", b]), again)),
  ];
}

function priceTable(rows, again) {
  // Prices as numbers (an override's come as decimals of twelve places: 1.500000000000).
  const price = (v) => (v === undefined || v === null ? "–" : formatNumber(v, { maximumFractionDigits: 6 }));
  return table([t("Model"), t("Input"), t("Output"), t("Cache read"), t("Cache write"), t("Reasoning"), t("Source")],
    rows.map(([source, p]) => h("tr", {}, h("td", { text: p.model_name }),
      ...["input", "output", "cache_read", "cache_write", "reasoning"].map((k) => h("td", { class: "num",
        text: price(p.prices_per_1m_tokens_usd[k]) })),
      h("td", {}, source === "override" ? t("override") : t("built-in"), source === "override" ? h("button", { type: "button", class: "link", text: t("Delete"),
        onclick: async () => {
          if (!window.confirm(t("Delete the price override of {model}?", { model: p.model_name }))) return;
          await api(`/api/v1/settings/prices/${encodeURIComponent(p.id)}`, { method: "DELETE",
            query: { project: p.project_id } });
          again();
        } }) : null))));
}

async function connectionsSection(project, again) {
  const doc = await api("/api/v1/llm-connections", { query: { project: project.id } });
  const field = (label, attrs = {}) => h("input", { "aria-label": label, placeholder: label, ...attrs });
  const provider = field(t("Connection name"), { required: true, value: "openai" });
  const adapter = h("select", { "aria-label": t("API") }, h("option", { value: "openai", text: t("OpenAI-compatible") }),
    h("option", { value: "anthropic", text: "Anthropic" }));
  const example = t("Base URL, e.g. https://api.deepseek.com/v1 (empty: the provider's)");
  const baseUrl = field(t("Base URL"), { placeholder: example, style: `${fitted(example)}; max-width: 100%` });
  const secret = field(t("API key"), { type: "password", autocomplete: "off" });
  const models = field(t("Models (comma-separated)"), { style: fitted(t("Models (comma-separated)")) });
  const tested = h("div", { role: "status" });
  return [
    h("h2", { id: "model-connections", text: t("Model connections") }),
    h("p", { class: "muted", text: t("Models for experiments and LLM-as-a-judge: OpenAI, Azure OpenAI, DeepSeek, Qwen (DashScope), vLLM, Ollama or a LiteLLM proxy through their OpenAI-compatible API, or Anthropic. Keys are encrypted at rest and never shown again.") }),
    doc.items.length ? table([t("Name"), "API", t("Base URL"), t("Key"), t("Models"), ""], doc.items.map((c) => h("tr", {},
      h("td", { text: c.provider }), h("td", { text: c.adapter }), h("td", { text: c.baseURL || "(default)" }),
      h("td", { text: c.displaySecretKey }), h("td", { text: c.models.join(", ") }),
      h("td", {},
        h("button", { type: "button", class: "link", text: t("Test"), onclick: async () => {
          tested.replaceChildren(h("p", { class: "muted", text: t("Calling {model}…", { model: c.models[0] || t("the model") }) }));
          const r = await api("/api/v1/llm-connections/test", { method: "POST", query: { project: project.id },
            body: { provider: c.provider, model: c.models[0] || "" } });
          tested.replaceChildren(r.ok
            ? h("p", { class: "ok", text: t("{provider} answered \"{answer}\" ({model}, {ms} ms).", { provider: c.provider, answer: r.answer, model: r.model, ms: r.latencyMs }) })
            : h("p", { class: "error", text: t("{provider} failed: {error}", { provider: c.provider, error: r.error }) }));
        } }),
        h("button", { type: "button", class: "link", text: t("Delete"), onclick: async () => {
          if (!window.confirm(t("Delete the connection {name}?", { name: c.provider }))) return;
          await api("/api/v1/llm-connections", { method: "DELETE", query: { project: project.id, provider: c.provider } });
          again();
        } })))))
      : h("p", { class: "muted", text: t("No model connection yet.") }),
    tested,
    form("filters connection-form", async () => {
      await api("/api/v1/llm-connections", { method: "PUT", query: { project: project.id }, body: {
        provider: provider.value.trim(), adapter: adapter.value, baseURL: baseUrl.value.trim() || undefined,
        secretKey: secret.value || undefined,
        customModels: models.value.split(",").map((m) => m.trim()).filter(Boolean), withDefaultModels: !baseUrl.value.trim() } });
      again();
    }, provider, adapter, baseUrl, secret, models, h("button", { type: "submit", text: t("Save connection") })),
  ];
}

/** The project's name, for those who may change its settings. */
function nameSection(project) {
  const name = h("input", { required: true, maxlength: 100, value: project.name, "aria-label": t("Project name") });
  return [
    h("h2", { text: t("Project name") }),
    form("filters", async () => {
      await api(`/api/v1/settings/projects/${encodeURIComponent(project.id)}/name`, { method: "POST", body: { name: name.value.trim() } });
      await loadOrganizations();
      useProject(findProject(project.id));
      go(`/project/${encodeURIComponent(project.id)}/settings`); // the header's switcher shows the new name too
    }, name, h("button", { type: "submit", text: t("Rename") })),
  ];
}

/** Deleting the project with its data, once its name is typed: nothing of it can be had back. */
function deleteSection(project) {
  const typed = h("input", { "aria-label": t("Type the project name to confirm"), placeholder: project.name, autocomplete: "off" });
  const button = h("button", { type: "submit", class: "secondary danger", text: t("Delete project"), disabled: true });
  const status = h("span", { class: "muted", role: "status" });
  typed.addEventListener("input", () => { button.disabled = typed.value !== project.name; });
  return [
    h("h2", { text: t("Delete this project") }),
    h("p", { class: "muted", text: t("Its traces, logs, metrics, scores, prompts, datasets, evaluations, model connections and comments are erased for good, and its API keys stop working at once. Type its name to confirm.") }),
    form("filters", async () => {
      if (typed.value !== project.name) return;
      // Erasing a large project takes a while (seconds per half a million spans): say so meanwhile.
      button.disabled = true;
      status.textContent = t("Deleting the project and its data…");
      let done;
      try {
        done = await api(`/api/v1/settings/projects/${encodeURIComponent(project.id)}`, { method: "DELETE" });
      } finally {
        button.disabled = typed.value !== project.name;
        status.textContent = "";
      }
      await loadOrganizations();
      // The organization's page says it is gone, and whether its data is still being erased.
      const said = new URLSearchParams({ deleted: project.name, ...(done.erased ? {} : { erasing: "1" }) });
      go(`/organization/${encodeURIComponent(project.organization_id || ctx.organization.id)}/settings?${said}`);
    }, typed, button, status),
  ];
}

export async function projectSettingsPage(root) {
  const project = ctx.project;
  const again = () => projectSettingsPage(root);
  const sections = [];
  if (can("MANAGE_SETTINGS") && !ctx.organization?.open) sections.push(...nameSection(project));
  if (can("MANAGE_KEYS")) sections.push(...await keysSection(project, again));
  if (can("MANAGE_MEMBERS") && !ctx.organization?.open) sections.push(...await membersSection(project, again));
  if (can("MANAGE_SETTINGS")) {
    sections.push(...await retentionSection(project, again), ...await pricesSection(project, again),
      ...await connectionsSection(project, again));
  }
  if (can("MANAGE_MEMBERS")) sections.push(...await auditSection({ project: project.id }));
  if (ctx.organization && can("MANAGE_PROJECTS", ctx.organization) && !ctx.organization.open) sections.push(...deleteSection(project));
  if (!sections.length) {
    sections.push(h("p", { class: "muted", text: t("Your role here ({role}) reads data but changes no settings.", { role: word(project.role) }) }));
  }
  root.replaceChildren(h("section", { class: "settings" },
    h("h1", { text: t("Settings · {name}", { name: project.name }) }),
    h("p", { class: "muted", text: t("Project id {id} · your role: {role}", { id: project.id, role: word(project.role) }) }), ...sections));
}

/** What became of a link's email: sent, failed (and why), or none (no mail server): then ``unsent``. */
function mailNote(made, unsent) {
  if (made.emailed) {
    return h("p", { class: "ok", role: "status", text: t("An email with this link went to {email}. The link is shown only now.", { email: made.email }) });
  }
  if (made.email_error) {
    return h("p", { class: "warn", role: "alert", text: `${t("The email to {email} could not be sent: {error}.", { email: made.email, error: made.email_error })} ${unsent}` });
  }
  return h("p", { class: "warn", text: unsent });
}

async function invitationsSection(org) {
  const base = `/api/v1/organizations/${encodeURIComponent(org.id)}/invitations`;
  const email = h("input", { type: "email", required: true, placeholder: t("Email"), "aria-label": t("Invite email") });
  const role = roleSelect(t("Invite role"), ROLES.filter((r) => can("MANAGE_ORGANIZATION", org) || r !== "OWNER"), "MEMBER");
  const project = h("select", { "aria-label": t("Invite to one project") }, h("option", { value: "", text: t("(whole organization)") }),
    ...org.projects.map((p) => h("option", { value: p.id, text: p.name })));
  const projectRole = roleSelect(t("Invite project role"), PROJECT_ROLES, "MEMBER");
  const link = h("div", { class: "created" });
  const pendingBox = h("div", {});
  const refresh = async () => {
    const pending = (await api(base)).data;
    pendingBox.replaceChildren(pending.length ? table([t("Email"), t("Role"), t("Project"), t("Expires"), ""], pending.map((i) =>
      h("tr", {}, h("td", { text: i.email }), h("td", { text: word(i.role) }),
        h("td", { text: i.project_id ? `${org.projects.find((p) => p.id === i.project_id)?.name || i.project_id} `
          + `(${i.project_role})` : "–" }),
        h("td", { text: formatIso(i.expires_at) }),
        h("td", {}, h("button", { type: "button", class: "link", text: t("Withdraw"), onclick: async () => {
          if (!window.confirm(t("Withdraw the invitation of {email}? Its link stops working.", { email: i.email }))) return;
          await api(`${base}/${encodeURIComponent(i.id)}`, { method: "DELETE" });
          refresh();
        } })))))
      : h("p", { class: "muted", text: t("No pending invitation.") }));
  };
  await refresh();
  return [
    h("h2", { text: t("Invitations") }),
    h("p", { class: "muted", text: t("An invitation is a link for one person: it is shown once, works once and expires after 7 days. For one project only, give organization role NONE and pick the project.") }),
    form("filters", async () => {
      const inv = await api(base, { method: "POST", body: { email: email.value, role: role.value,
        project_id: project.value, project_role: project.value ? projectRole.value : "" } });
      link.replaceChildren(h("div", { class: "card" }, mailNote(inv,
        t("Send this link to {email}. It is shown only now.", { email: inv.email })), snippet(t("Invitation link"), inv.url)));
      email.value = "";
      await refresh();
    }, email, role, project, projectRole, h("button", { type: "submit", text: t("Create invitation link") })),
    link,
    pendingBox,
  ];
}

export async function organizationSettingsPage(root, org) {
  const again = async () => {
    await loadOrganizations();
    organizationSettingsPage(root, ctx.organizations.find((o) => o.id === org.id) || org);
  };
  const manage = can("MANAGE_MEMBERS", org);
  const listed = manage ? await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/members`) : { data: [] };
  const members = listed.data;
  const name = h("input", { required: true, placeholder: t("Project name"), "aria-label": t("New project name"), maxlength: 100 });
  const resetLink = h("div", { class: "created" });
  const query = new URLSearchParams(location.search);
  const deleted = query.get("deleted");
  const sections = [
    deleted ? h("p", { class: "muted", role: "status", text: query.get("erasing")
      ? t("Project {name} is deleted; its data is being erased, which goes on in the background.", { name: deleted })
      : t("Project {name} is deleted with its data.", { name: deleted }) }) : null,
    h("h2", { text: t("Projects") }),
    table([t("Project"), t("Id"), t("Your role"), ""], org.projects.map((p) => h("tr", {}, h("td", { text: p.name }),
      h("td", { text: p.id }), h("td", { text: word(p.role) }),
      h("td", {}, h("a", { href: `/project/${encodeURIComponent(p.id)}/traces`, "data-link": true, text: t("Open") }))))),
    can("MANAGE_PROJECTS", org) ? form("filters", async () => {
      const project = await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/projects`, { method: "POST",
        body: { name: name.value } });
      await loadOrganizations();
      go(`/project/${encodeURIComponent(project.id)}/settings`);
    }, name, h("button", { type: "submit", text: t("Create project") })) : null,
  ];
  if (manage) {
    sections.push(h("h2", { text: t("Members") }), ...provisionedNotes(listed, "TRACEHOUSE_DEFAULT_ORG"), resetLink,
      table([t("Name"), t("Email"), t("Role"), ""], members.map((m) => h("tr", {}, h("td", { text: m.name }),
        h("td", { text: m.email }),
        h("td", {}, roleSelect(t("Role of {email}", { email: m.email }), ROLES, m.role, async (value) => {
          try {
            await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/members/${encodeURIComponent(m.user_id)}`,
              { method: "PUT", body: { role: value } });
          } catch (e) {
            alert(errorText(e));
          }
          again();
        })),
        h("td", {}, m.user_id === ctx.me?.id ? t("you") : [
          h("button", { type: "button", class: "link", text: t("Reset password"), onclick: async () => {
            try {
              const reset = await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/members/`
                + `${encodeURIComponent(m.user_id)}/password-reset`, { method: "POST" });
              resetLink.replaceChildren(h("div", { class: "card" }, mailNote(reset,
                t("Send this link to {email}: it sets a new password, works once and expires in a day.", { email: m.email })),
              snippet(t("Password reset link"), reset.url)));
            } catch (e) {
              resetLink.replaceChildren(h("p", { class: "error", role: "alert", text: errorText(e) }));
            }
          } }),
          h("button", { type: "button", class: "link", text: t("Remove"), onclick: async () => {
            if (!confirm(t("Remove {email} from {organization}?", { email: m.email, organization: org.name }))) return;
            try {
              await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/members/${encodeURIComponent(m.user_id)}`,
                { method: "DELETE" });
            } catch (e) {
              alert(errorText(e));
            }
            again();
          } }),
        ])))),
      ...await invitationsSection(org));
  }
  if (can("MANAGE_ORGANIZATION", org)) sections.push(...await organizationKeysSection(org));
  if (ctx.me?.is_admin) sections.push(...await backupsSection(), ...await diskSection());
  if (manage) sections.push(...await auditSection({ organization: org.id }, Object.fromEntries(org.projects.map((p) => [p.id, p.name]))));
  root.replaceChildren(h("section", { class: "settings" }, h("h1", { text: t("Organization · {name}", { name: org.name }) }),
    h("p", { class: "muted", text: t("Organization id {id} · your role: {role}", { id: org.id, role: word(org.role) }) }), ...sections));
}

/** The server's own backups (TRACEHOUSE_BACKUP_DIR), for its admin: whether it makes them, those
 * kept, when the next is due, and the last failure. They are the whole server's, every organization's. */
async function backupsSection() {
  const doc = await api("/api/v1/server/backups");
  const head = h("h2", { id: "server-backups", text: t("Backups of this server") });
  if (!doc.scheduled) {
    return [head, h("p", { class: "muted", text: t("This server makes no backups by itself. Set {setting} to a directory on another disk and it backs its store up every day, keeping a week; or run {command} from cron.",
      { setting: "TRACEHOUSE_BACKUP_DIR", command: "tracehouse backup" }) })]; // code, not text
  }
  const newest = doc.backups[0];
  return [head,
    h("p", { class: "muted", text: t("Every {hours} h into {directory}; the newest {keep} kept, with the backups they are made on.",
      { hours: formatNumber(doc.everyHours), directory: doc.directory, keep: doc.keep }) }),
    doc.lastError ? h("p", { class: "error", role: "alert", text: t("The last backup failed ({when}): {error}. It is tried again in 15 minutes.",
      { when: formatIso(doc.failedAt), error: doc.lastError }) }) : null,
    h("p", { class: newest ? "muted" : "warn", text: newest
      ? t("Newest: {when}. Next: {next}.", { when: formatIso(newest.createdAt), next: doc.nextDue ? formatIso(doc.nextDue) : t("now") })
      : t("No backup yet: the first is being made.") }),
    doc.backups.length ? table([t("Backup"), t("Made"), t("Kind"), t("Size")], doc.backups.map((b) => h("tr", {},
      h("td", {}, h("code", { text: b.name })), h("td", { text: formatIso(b.createdAt) }),
      h("td", { text: b.base ? t("changes since {base}", { base: b.base }) : t("whole") }),
      h("td", { class: "num", text: formatBytes(b.bytes) })))) : null,
    doc.backups.length ? snippet(t("Restore the newest"), `tracehouse restore --from ${doc.directory}/${newest.name} --data-dir NEW-DIR`, // code, not text
      t("Into a new or empty data directory, then serve that directory. Any backup above restores the same way by its name.")) : null];
}

/** The server's disk (the embedded store's data directory), for its admin: what is free, and the reserve
 * below which new data is refused (TRACEHOUSE_MIN_FREE_DISK_BYTES). Nothing on a ClickHouse server. */
async function diskSection() {
  const doc = await api("/api/v1/server/disk");
  if (!doc.watched) return [];
  return [h("h2", { id: "server-disk", text: t("Disk of this server") }),
    h("p", { class: doc.low ? "error" : "muted", role: doc.low ? "alert" : null, text: t("{directory}: {free} free of {total}.",
      { directory: doc.directory, free: formatBytes(doc.free), total: formatBytes(doc.total) }) }),
    h("p", { class: doc.low ? "warn" : "muted", text: doc.low
      ? t("New data is refused (senders are told to retry) until more than {reserve} is free: delete old data (a project's retention, a project) or free space on the disk.", { reserve: formatBytes(doc.reserve) })
      : t("New data is refused while less than {reserve} is free, so that the store keeps room for its own work. {setting} sets it.",
        { reserve: formatBytes(doc.reserve), setting: "TRACEHOUSE_MIN_FREE_DISK_BYTES" }) })]; // code, not text
}

/** Organization-scoped key pairs: Langfuse's admin API for automation (owners only). */
async function organizationKeysSection(org) {
  const base = `/api/v1/organizations/${encodeURIComponent(org.id)}/api-keys`;
  const created = h("div", { class: "created" });
  const list = h("div", {});
  const renderList = async () => {
    const keys = (await api(base)).data;
    list.replaceChildren(keyTable(keys, t("No organization key yet."), async (k) => {
      await api(`${base}/${encodeURIComponent(k.public_key)}`, { method: "DELETE" });
      renderList();
    }));
  };
  await renderList();
  const note = h("input", { placeholder: t("Note (optional)"), "aria-label": t("Organization key note"), maxlength: 200 });
  return [
    h("h2", { text: t("Organization API keys") }),
    h("p", { class: "muted", text: t("An organization key administers this organization through Langfuse's API (api.organizations and api.projects of the langfuse SDK 5.x): its projects, their API keys and its members. It reads and writes no traces.") }),
    h("p", { class: "muted", text: t("Your identity provider (Okta, Entra ID) can provision and deprovision its people with one, over SCIM 2.0 at {url}: the public key as user name, the secret as password.", { url: `${location.origin}/api/public/scim` }) }),
    form("filters", async () => {
      const pair = await api(base, { method: "POST", body: { note: note.value } });
      created.replaceChildren(h("div", { class: "card" },
        h("p", { class: "warn", text: t("The secret key is shown only now. Copy it somewhere safe.") }),
        snippet(t("Public key"), pair.public_key), snippet(t("Secret key"), pair.secret_key)));
      note.value = "";
      await renderList();
    }, note, h("button", { type: "submit", text: t("Create organization key") })),
    created,
    list,
  ];
}

export async function accountPage(root) {
  const current = h("input", { type: "password", required: true, autocomplete: "current-password",
    "aria-label": t("Current password") });
  const next = h("input", { type: "password", required: true, minlength: 8, autocomplete: "new-password",
    "aria-label": t("New password") });
  const done = h("p", { class: "ok", role: "status" });
  const error = errorLine();
  root.replaceChildren(h("section", { class: "settings" }, h("h1", { text: t("Your account") }),
    h("p", {}, `${ctx.me.name} · ${ctx.me.email}`),
    h("h2", { text: t("Change password") }),
    h("p", { class: "muted", text: t("Every other session of yours is signed out.") }),
    h("form", { class: "card auth", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = done.textContent = "";
      try {
        await api("/api/v1/auth/password", { method: "POST",
          body: { current_password: current.value, new_password: next.value } });
        current.value = next.value = "";
        done.textContent = t("Password changed.");
      } catch (err) {
        error.textContent = errorText(err);
      }
    } }, h("label", {}, t("Current password"), current), h("label", {}, t("New password (8+ characters)"), next),
    h("button", { type: "submit", text: t("Change password") }), error, done)));
}
