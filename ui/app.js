// Tracehouse UI: sign-in gate, router, pages. Plain ES modules, no build step.
import { api, ApiError } from "/ui/api.js";
import { h } from "/ui/dom.js";
import { tracesPage } from "/ui/traces.js";
import { sharedTrace, tracePage } from "/ui/trace.js";
import { dashboardPage, sessionPage, sessionsPage, usersPage } from "/ui/pages.js";
import { logsPage } from "/ui/logs.js";
import { metricsPage } from "/ui/metrics.js";
import { playgroundPage } from "/ui/playground.js";
import { observationsPage } from "/ui/observations.js";
import { promptPage, promptsPage } from "/ui/prompts.js";
import { skillPage, skillsPage } from "/ui/skills.js";
import { datasetPage, datasetsPage } from "/ui/datasets.js";
import { evaluationsPage } from "/ui/evaluations.js";
import { annotationQueuePage, annotationQueuesPage } from "/ui/annotations.js";
import { ctx, can, findOrganization, findProject, here, lastProject, loadOrganizations, takeTold, useProject } from "/ui/context.js";
import { accountPage, organizationSettingsPage, projectSettingsPage } from "/ui/settings.js";
import { invitePage, setupPage, wizardWanted } from "/ui/setup.js";
import { chooseLocale, currentLocale, errorText, LOCALES, rememberLocale, t } from "/ui/i18n.js";

const main = () => document.getElementById("main");

export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

function authForm({ title, hint, submitLabel, fields, onSubmit, extra }) {
  const error = h("p", { class: "error", role: "alert" });
  const inputs = Object.fromEntries(fields.map(([name, label, type]) => [name, h("input", {
    name, type, required: name !== "name", autocomplete: type === "password" ? "current-password" : name,
    "aria-label": label,
  })]));
  const form = h("form", { class: "card auth", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await onSubmit(Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])));
      // Signed in: the account's language wins over the browser's (the catalogs load at start).
      const me = await api("/api/v1/auth/me");
      if (chooseLocale(me.user && me.user.locale) !== currentLocale()) location.reload();
      else route();
    } catch (e) {
      error.textContent = errorText(e);
    }
  } },
    h("h1", { text: title }),
    hint ? h("p", { class: "muted", text: hint }) : null,
    ...fields.map(([name, label]) => h("label", {}, label, inputs[name])),
    h("button", { type: "submit", text: submitLabel }),
    error,
    extra,
  );
  main().replaceChildren(form);
}

// Who is signed in, as ui/boot.js asked before the first page: the first route uses it once.
let bootMe = null;

async function gate() {
  const me = bootMe || await api("/api/v1/auth/me");
  bootMe = null;
  ctx.me = me.user;
  ctx.open = me.open;
  ctx.otlp = me.otlp; // the receiver's ports, for the snippets
  if (me.user) return true;
  // Not signed in. In open mode (a local server with no key and no account) the data is readable anyway.
  const open = me.open;
  if (me.setup_required) {
    if (sessionStorage.getItem("th-skip-setup") && open) return true;
    authForm({
      title: t("Create the admin account"),
      hint: t("The first account can see every project and change the settings."),
      submitLabel: t("Create account"),
      fields: [["name", t("Name"), "text"], ["email", t("Email"), "email"], ["password", t("Password (8+ characters)"), "password"]],
      // The first-run wizard follows (organization, project, key), unless a key was made already
      // without an account (open mode ended with it): "/" asks wizardWanted.
      onSubmit: async (body) => {
        await api("/api/v1/auth/setup", { method: "POST", body });
        history.replaceState(null, "", "/");
      },
      extra: open ? h("button", { type: "button", class: "link", text: t("Continue without an account"),
        onclick: () => { sessionStorage.setItem("th-skip-setup", "1"); route(); } }) : null,
    });
    return false;
  }
  // A trace shared by a public link opens without signing in.
  const shared = await sharedTrace(location.pathname);
  if (shared) {
    await showShared(shared);
    return false;
  }
  // Single sign-on, when configured: the provider's button first, and what went wrong if it came back with an error.
  const ssoError = new URLSearchParams(location.search).get("sso_error");
  const next = location.pathname === "/" ? "/" : `${location.pathname}${location.search}`;
  const ssoPart = () => h("div", { class: "sso" },
    ssoError ? h("p", { class: "error", role: "alert", text: t("Single sign-on failed: {error}", { error: ssoError }) }) : null,
    h("a", { class: "button", href: `/api/v1/auth/sso/start?${new URLSearchParams({ next })}`,
      text: t("Sign in with {name}", { name: me.sso.name }) }));
  if (me.sso && me.sso.only) {  // passwords turned off: the provider is the only way in
    main().replaceChildren(h("div", { class: "card auth" }, h("h1", { text: t("Sign in") }), ssoPart()));
    return false;
  }
  authForm({
    title: t("Sign in"),
    submitLabel: t("Sign in"),
    fields: [["email", t("Email"), "email"], ["password", t("Password"), "password"]],
    onSubmit: (body) => api("/api/v1/auth/login", { method: "POST", body }),
    extra: h("div", {}, me.sso ? ssoPart() : null, forgotPassword()),
  });
  return false;
}

// Nobody may reset the instance admin's password from the UI: the machine it runs on can.
function forgotPassword() {
  return h("details", { class: "forgot muted" },
    h("summary", { text: t("Forgot your password?") }),
    h("p", { text: t("Ask an owner or admin of your organization for a reset link (Organization → Members → Reset password). The instance admin makes one on the machine Tracehouse runs on:") }),
    h("pre", { class: "snippet", text: "tracehouse users reset-password <email>" }));  // code, not text
}

async function showShared(shared) {
  useProject(null);
  topBar(null);
  await tracePage(view(), shared.traceId, shared);
}

// The short paths of earlier versions (and "/"): the same page of the last project used.
const SHORT = /^\/(traces|observations|sessions|users|dashboard|prompts|skills|datasets|evaluations|annotation-queues|logs|settings)(\/.*)?$/;
// The item's id may hold slashes typed as they are (a prompt or dataset in a folder: "support/answer").
const PROJECT = /^\/project\/([^/]+)(?:\/(traces|observations|sessions|users|dashboard|prompts|skills|playground|datasets|evaluations|annotation-queues|logs|metrics|settings)(?:\/(.+?))?)?\/?$/;
const ORGANIZATION = /^\/organization\/([^/]+)\/settings\/?$/;

function option(value, text, selected) {
  return h("option", { value, text, selected });
}

/** The top bar for the page in view: organization and project switchers, the project's pages, who. */
let currentPage = null;
window.addEventListener("th-context", () => topBar(currentPage));

function topBar(page) {
  currentPage = page;
  if (page === "annotation-queues") page = "evaluations"; // people's scoring sits with the judges
  if (page === "playground" || page === "skills") page = "prompts"; // tabs of the prompts' pages
  if (page === "observations") page = "traces"; // a tab of the traces page
  const nav = document.getElementById("nav");
  const project = ctx.project;
  const org = ctx.organization;
  const orgSelect = h("select", { id: "org-switch", "aria-label": t("Organization"), onchange: (e) => {
    const target = findOrganization(e.target.value);
    if (target && target.projects.length) navigate(`/project/${encodeURIComponent(target.projects[0].id)}/traces`);
    else navigate(`/organization/${encodeURIComponent(e.target.value)}/settings`);
  } }, ...ctx.organizations.map((o) => option(o.id, o.name, org && o.id === org.id)));
  const projectSelect = h("select", { id: "project-switch", "aria-label": t("Project"), onchange: (e) => {
    // The same page in the other project (its Observations, Skills and Annotation queues tabs too); a
    // playground's try stays with its project.
    const same = ["observations", "skills", "annotation-queues"].includes(currentPage) ? currentPage : page;
    navigate(`/project/${encodeURIComponent(e.target.value)}/${same && same !== "settings" ? same : "traces"}`);
  } }, ...(org ? org.projects : []).map((p) => option(p.id, p.name, project && p.id === project.id)));
  const pages = [["dashboard", t("Dashboard")], ["traces", t("Traces")], ["sessions", t("Sessions")], ["users", t("Users")],
    ["prompts", t("Prompts")], ["datasets", t("Datasets")], ["evaluations", t("Evaluations")], ["logs", t("Logs")],
    ["metrics", t("Metrics")]];
  if (can("MANAGE_KEYS") || can("MANAGE_SETTINGS") || can("MANAGE_MEMBERS")) pages.push(["settings", t("Settings")]);
  nav.replaceChildren(
    org ? orgSelect : "", project ? projectSelect : "",
    ...(project ? pages.map(([key, label]) => h("a", { href: here(`/${key}`), "data-link": true, text: label,
      class: key === page ? "active" : "", "aria-current": key === page ? "page" : undefined })) : []),
  );
  // The organization's settings sit with the account links: the project's pages fill the nav.
  const orgLink = org && (can("MANAGE_MEMBERS", org) || can("MANAGE_PROJECTS", org))
    ? h("a", { href: `/organization/${encodeURIComponent(org.id)}/settings`, "data-link": true, text: t("Organization"),
      class: page === "organization" ? "active" : "", "aria-current": page === "organization" ? "page" : undefined }) : "";
  const who = document.getElementById("who");
  who.replaceChildren(orgLink, ...(ctx.me ? [
    // The name, shorter than the email, so that the project's pages keep to one line.
    h("a", { href: "/account", "data-link": true, text: ctx.me.name || ctx.me.email, title: `${t("Your account")} · ${ctx.me.email}` }),
    h("button", { type: "button", class: "link", text: t("Sign out"), onclick: async () => {
      await api("/api/v1/auth/logout", { method: "POST" });
      location.assign("/");
    } }),
  ] : []));
}

function noAccess(what) {
  topBar(null);
  main().replaceChildren(h("div", { class: "card no-access", role: "alert" }, h("h1", { text: t("No access") }),
    h("p", { text: what }),
    h("p", { class: "muted", text: t("Ask an owner or admin of its organization to invite you.") }),
    lastProject() ? h("a", { href: `/project/${encodeURIComponent(lastProject().id)}/traces`, "data-link": true,
      text: t("Go to your projects") }) : null));
}

async function projectPage(root, page, id) {
  if (page === "dashboard") return dashboardPage(root);
  if (page === "sessions") return id ? sessionPage(root, id) : sessionsPage(root);
  if (page === "users") return usersPage(root);
  if (page === "logs") return logsPage(root);
  if (page === "metrics") return metricsPage(root);
  if (page === "prompts") return id ? promptPage(root, id) : promptsPage(root);
  if (page === "playground") return playgroundPage(root);
  if (page === "skills") return id ? skillPage(root, id) : skillsPage(root);
  if (page === "observations") return observationsPage(root);
  if (page === "datasets") return id ? datasetPage(root, id) : datasetsPage(root);
  if (page === "evaluations") return evaluationsPage(root);
  if (page === "annotation-queues") return id ? annotationQueuePage(root, id) : annotationQueuesPage(root);
  if (page === "settings") return projectSettingsPage(root);
  return id ? tracePage(root, id) : tracesPage(root);
}

// Each navigation draws its page into a view of its own, and a newer navigation replaces that view:
// what an earlier page draws when its answers come in (a slow trace, a failed request) lands in a view
// no longer on screen, never over the page now shown, which may be another project's.
let navigations = 0;

/** A new, empty view on screen in place of the page shown, for the page about to be drawn. */
function view() {
  const root = h("div", { class: "view" });
  const told = takeTold();
  const notice = told ? h("p", { class: "ok told", role: "status", text: told }) : null;
  main().replaceChildren(...(notice ? [notice] : []), root);
  // Said once: the next thing asked of the page (a filter, a range) goes on without it.
  if (notice) for (const event of ["submit", "change"]) root.addEventListener(event, () => notice.remove(), { once: true });
  return root;
}

export async function route() {
  const path = location.pathname;
  const mine = ++navigations;
  const stale = () => mine !== navigations;
  // Another project's page: nothing of the one in view stays on screen under the new project's
  // name while the account and the projects are checked (a request or two) before it loads.
  const next = path.match(PROJECT);
  if (ctx.project && (!next || decodeURIComponent(next[1]) !== ctx.project.id)) {
    main().replaceChildren(h("p", { class: "muted", text: t("Loading…") }));
  }
  try {
    const invite = path.match(/^\/invite\/([^/]+)$/);
    if (invite) return await invitePage(view(), decodeURIComponent(invite[1]));
    if (!(await gate())) return;
    await loadOrganizations();
    if (stale()) return; // the user has gone on to another page meanwhile
    const short = path === "/" ? ["", "traces", ""] : path.match(SHORT);
    if (short) {
      if (path === "/" && ctx.me && await wizardWanted()) return navigate("/setup");
      const target = lastProject();
      if (!target) return noAccess(t("You have no access to any project, or it does not exist."));
      history.replaceState(null, "", `/project/${encodeURIComponent(target.id)}/${short[1]}${short[2] || ""}${location.search}`);
      return route();
    }
    if (path === "/setup") {
      useProject(lastProject());
      topBar("setup");
      return await setupPage(view());
    }
    if (path === "/account") {
      useProject(lastProject());
      topBar("account");
      return await accountPage(view());
    }
    const orgMatch = path.match(ORGANIZATION);
    if (orgMatch) {
      const org = findOrganization(decodeURIComponent(orgMatch[1]));
      if (!org) return noAccess(t("You have no access to this organization, or it does not exist."));
      useProject(org.projects.find((p) => p.id === localStorage.getItem("th-last-project")) || org.projects[0] || null);
      ctx.organization = org;
      topBar("organization");
      return await organizationSettingsPage(view(), org);
    }
    const match = path.match(PROJECT);
    if (!match) return noAccess(t("You have no access to this page, or it does not exist."));
    const project = findProject(decodeURIComponent(match[1]));
    if (!project) {
      // Someone else's project: its trace may still be shared with anyone who has the link.
      const shared = await sharedTrace(path);
      if (stale()) return;
      if (shared) return await showShared(shared);
      return noAccess(t("You have no access to this project, or it does not exist."));
    }
    useProject(project);
    const page = match[2] || "traces";
    if (!match[2]) history.replaceState(null, "", here("/traces"));
    topBar(page);
    await projectPage(view(), page, match[3] ? decodeURIComponent(match[3]) : "");
    // A link to a section of the page (Settings → Model connections): there once it is drawn.
    if (location.hash && !stale()) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
  } catch (e) {
    if (stale()) return; // an earlier page's failure: the page now shown is another
    main().replaceChildren(h("div", { class: "card error", role: "alert" }, h("h2", { text: t("Something went wrong") }),
      h("p", { text: errorText(e) })));
  }
}

/** The theme button: the system's theme, light or dark, remembered in this browser. */
function themeButton() {
  const KEY = "th-theme";
  const button = document.getElementById("theme");
  const labels = { auto: t("Theme: system"), light: t("Theme: light"), dark: t("Theme: dark") };
  // A symbol, so that the project's pages keep to one line on a laptop; the name in its label.
  const symbols = { auto: "◐", light: "☀", dark: "☾" };
  const show = () => {
    const theme = localStorage.getItem(KEY) || "auto";
    button.textContent = symbols[theme];
    button.setAttribute("aria-label", labels[theme]);
    button.title = `${labels[theme]} · ${t("Switch between the system's theme, light and dark")}`;
  };
  show();
  button.addEventListener("click", () => {
    const order = ["auto", "light", "dark"];
    const next = order[(order.indexOf(localStorage.getItem(KEY) || "auto") + 1) % order.length];
    if (next === "auto") localStorage.removeItem(KEY); else localStorage.setItem(KEY, next);
    if (next === "auto") delete document.documentElement.dataset.theme; else document.documentElement.dataset.theme = next;
    show();
  });
}

/** The language switch: kept in this browser, and with the account of whoever is signed in. */
function languageSwitch() {
  const select = document.getElementById("lang");
  select.setAttribute("aria-label", t("Language"));
  select.replaceChildren(...LOCALES.map(([tag, name]) => option(tag, name, tag === currentLocale())));
  select.addEventListener("change", async () => {
    rememberLocale(select.value);
    if (ctx.me) await api("/api/v1/auth/preferences", { method: "PUT", body: { locale: select.value } }).catch(() => {});
    const url = new URL(location.href);
    url.searchParams.delete("lang");
    location.assign(url);
  });
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (link && !event.metaKey && !event.ctrlKey && link.origin === location.origin) {
    event.preventDefault();
    navigate(link.pathname + link.search + link.hash);
  }
});
/** Start the UI; ``me`` is the answer of /api/v1/auth/me that ui/boot.js already has (or null). */
export function start(me) {
  bootMe = me && "user" in me ? me : null;
  window.addEventListener("popstate", route);
  document.title = t("Tracehouse");
  document.getElementById("nav").setAttribute("aria-label", t("Pages"));
  themeButton();
  languageSwitch();
  main().replaceChildren(h("p", { class: "muted", text: t("Loading…") }));
  route();
}
