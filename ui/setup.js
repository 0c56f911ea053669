// The first run, as our users' guide has it: organization, then project, then a key pair whose dialog
// waits for the first trace. And the page behind a one-time link: join an organization, or set a
// new password.
import { api } from "/ui/api.js";
import { allProjects, can, ctx, loadOrganizations, useProject } from "/ui/context.js";
import { h } from "/ui/dom.js";
import { keyPanel } from "/ui/keys.js";
import { errorText, t, word } from "/ui/i18n.js";

const DONE = "th-setup-done";

/** Whether "/" should open the wizard: someone who may make keys, has none yet, and has not skipped it. */
export async function wizardWanted() {
  if (localStorage.getItem(DONE) || !allProjects().some((p) => can("MANAGE_KEYS", p))) return false;
  const keys = await api("/api/v1/settings/keys").catch(() => ({ items: [1] }));
  return keys.items.length === 0;
}

function step(number, title, done, body) {
  return h("div", { class: `card step${done ? " done" : ""}`, "data-step": number },
    h("h2", {}, h("span", { class: "step-no", text: done ? "✓" : String(number) }), ` ${title}`), body);
}

function creator(label, pickLabel, placeholder, onCreate, existing, onUse) {
  const name = h("input", { required: true, placeholder, "aria-label": label, maxlength: 100 });
  const error = h("span", { class: "error", role: "alert" });
  const pick = existing.length ? h("select", { "aria-label": pickLabel },
    ...existing.map((x) => h("option", { value: x.id, text: x.name }))) : null;
  return h("div", {},
    h("form", { class: "filters", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        await onCreate(name.value.trim());
      } catch (err) {
        error.textContent = errorText(err);
      }
    } }, name, h("button", { type: "submit", text: t("Create") }), error),
    pick ? h("p", { class: "filters muted" }, t("or use one you have: "), pick,
      h("button", { type: "button", text: t("Use"), onclick: () => onUse(existing.find((x) => x.id === pick.value)) }))
      : null);
}

export async function setupPage(root, state = {}) {
  const manageable = ctx.organizations.filter((o) => can("MANAGE_PROJECTS", o));
  // Skip what exists: an organization of one's own (not the built-in default), and a project in it.
  const org = state.org !== undefined ? state.org
    : manageable.find((o) => o.id !== "default" && o.projects.length) || null;
  const project = state.project !== undefined ? state.project : (org && org.projects[0]) || null;
  const again = (next) => setupPage(root, { org, project, ...next });
  const reload = async (orgId, projectId) => {
    await loadOrganizations();
    const o = ctx.organizations.find((x) => x.id === orgId) || null;
    const p = o && projectId ? o.projects.find((x) => x.id === projectId) || null : null;
    if (p) useProject(p);
    window.dispatchEvent(new Event("th-context")); // the switchers show what was just made
    again({ org: o, project: p });
  };
  const skip = h("button", { type: "button", class: "link", text: t("Skip for now"), onclick: () => {
    localStorage.setItem(DONE, "1");
    location.assign("/");
  } });
  const keyArea = h("div", { class: "created" });
  root.replaceChildren(h("section", { class: "setup" },
    h("div", { class: "head" }, h("h1", { text: t("Set up Tracehouse") }), skip),
    h("p", { class: "muted", text: t("Three steps to your first trace: an organization for your team, a project for your app, and an API key for Dify, the Langfuse SDKs or any OpenTelemetry exporter.") }),
    step(1, org ? t("Organization: {name}", { name: org.name }) : t("Create an organization"), Boolean(org), org
      ? h("button", { type: "button", class: "link", text: t("Change"), onclick: () => again({ org: null, project: null }) })
      : creator(t("Organization name"), t("Use one you have (organization)"), t("e.g. {example}", { example: "dify" }), async (name) => {
        const created = await api("/api/v1/organizations", { method: "POST", body: { name } });
        await reload(created.id, null);
      }, manageable, (o) => again({ org: o, project: o.projects[0] || null }))),
    org ? step(2, project ? t("Project: {name}", { name: project.name }) : t("Create a project"), Boolean(project), project
      ? h("button", { type: "button", class: "link", text: t("Change"), onclick: () => again({ project: null }) })
      : creator(t("Project name"), t("Use one you have (project)"), t("e.g. {example}", { example: "dify-llm" }), async (name) => {
        const created = await api(`/api/v1/organizations/${encodeURIComponent(org.id)}/projects`, { method: "POST",
          body: { name } });
        await reload(org.id, created.id);
      }, org.projects, (p) => again({ project: p }))) : null,
    project ? step(3, t("Create an API key"), false, h("div", {},
      h("form", { class: "filters", onsubmit: async (e) => {
        e.preventDefault();
        const pair = await api("/api/v1/settings/keys", { method: "POST",
          body: { project: project.id, note: "first-run" } });
        localStorage.setItem(DONE, "1");
        keyArea.replaceChildren(keyPanel(pair, { wait: true }));
      } }, h("button", { type: "submit", text: t("Create key pair") })), keyArea)) : null));
}

export async function invitePage(root, token) {
  document.getElementById("nav").replaceChildren();
  let inv;
  try {
    inv = await api(`/api/v1/invitations/${encodeURIComponent(token)}`);
  } catch (e) {
    root.replaceChildren(h("div", { class: "card auth", role: "alert" }, h("h1", { text: t("This link does not work") }),
      h("p", { text: errorText(e) }), h("a", { href: "/", text: t("Sign in") })));
    return;
  }
  const reset = inv.kind === "reset";
  // With single sign-on, signing in as the invited email accepts the invitation too.
  const sso = reset ? null : (await api("/api/v1/auth/me")).sso;
  const name = h("input", { autocomplete: "name" }); // named by the label around it
  const password = h("input", { type: "password", required: true,
    autocomplete: inv.account_exists && !reset ? "current-password" : "new-password" });
  const error = h("p", { class: "error", role: "alert" });
  const where = inv.project_id
    ? t("a project of {organization} ({role})", { organization: inv.organization.name, role: word(inv.project_role) })
    : t("{organization} as {role}", { organization: inv.organization.name, role: word(inv.role) });
  const ssoLink = () => h("a", { class: "button", href: "/api/v1/auth/sso/start?next=%2F", text: t("Sign in with {name}", { name: sso.name }) });
  if (sso && sso.only) {  // passwords turned off: signing in with the provider is how one joins
    root.replaceChildren(h("div", { class: "card auth" }, h("h1", { text: t("Join {organization}", { organization: inv.organization.name }) }),
      h("p", { class: "muted", text: t("{email} is invited to {where}.", { email: inv.email, where }) }),
      h("div", { class: "sso" }, ssoLink())));
    return;
  }
  const ssoPart = sso ? h("div", { class: "sso" }, h("p", { class: "muted", text: t("Or sign in with {name} as {email}: that accepts it too.",
    { name: sso.name, email: inv.email }) }), ssoLink()) : null;
  root.replaceChildren(h("form", { class: "card auth", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await api(`/api/v1/invitations/${encodeURIComponent(token)}/accept`, { method: "POST",
        body: { name: name.value, password: password.value } });
      location.assign("/");
    } catch (err) {
      error.textContent = errorText(err);
    }
  } },
  h("h1", { text: reset ? t("Set a new password") : t("Join {organization}", { organization: inv.organization.name }) }),
  h("p", { class: "muted", text: reset ? t("For {email}.", { email: inv.email })
    : t("{email} is invited to {where}.", { email: inv.email, where }) }),
  !reset && !inv.account_exists ? h("label", {}, t("Your name"), name) : null,
  h("label", {}, reset ? t("New password (8+ characters)") : inv.account_exists ? t("Your password (you have an account)")
    : t("Choose a password (8+ characters)"), password),
  h("button", { type: "submit", text: reset ? t("Set password") : t("Join") }), error, ssoPart));
}
