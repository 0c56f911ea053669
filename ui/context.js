// Who is signed in, the organizations and projects their roles show them, and the project in view.
// Permissions come from the server's matrix (GET /api/v1/organizations): the UI hides what the API
// would refuse and never decides access itself.
import { api, setProject } from "/ui/api.js";

const LAST = "th-last-project";
export const ctx = { me: null, open: false, organizations: [], project: null, organization: null };

/** Load the caller's organizations and projects (or, in open mode, the default project alone). */
export async function loadOrganizations() {
  if (ctx.me || !ctx.open) {
    ctx.organizations = (await api("/api/v1/organizations")).data;
  } else {
    // Open mode: a local server with no account and no key; its owner is at the keyboard.
    const permissions = ["VIEW_DATA", "MANAGE_KEYS", "MANAGE_SETTINGS", "MANAGE_PROJECTS", "DELETE_DATA"];
    const projects = (await api("/api/v1/settings/projects")).items;
    ctx.organizations = [...new Set(projects.map((p) => p.organization_id))].map((id) => ({
      id, name: projects.find((p) => p.organization_id === id).organization_name || id,
      role: "OWNER", permissions, open: true,
      projects: projects.filter((p) => p.organization_id === id).map((p) => ({ ...p, role: "OWNER", permissions })),
    }));
  }
}

export function allProjects() {
  return ctx.organizations.flatMap((o) => o.projects);
}

export function findProject(id) {
  return allProjects().find((p) => p.id === id) || null;
}

export function findOrganization(id) {
  return ctx.organizations.find((o) => o.id === id) || null;
}

/** Make a project the one in view: API reads go to it, and it is remembered for next time. */
export function useProject(project) {
  ctx.project = project;
  ctx.organization = project ? findOrganization(project.organization_id) : null;
  setProject(project ? project.id : null);
  if (project) localStorage.setItem(LAST, project.id);
}

/** The project to open when the URL names none: the last one used, else the first visible. */
export function lastProject() {
  return findProject(localStorage.getItem(LAST)) || allProjects()[0] || null;
}

/** Go to ``path`` within the app: the URL changes and the router draws its page. With ``told``,
 * the page drawn says it first (what was just done, such as a deletion, before going on). */
export function go(path, told = null) {
  nextTold = told;
  if (path !== location.pathname + location.search) history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

let nextTold = null;

/** What the page about to be drawn is to say first (see ``go``), once. */
export function takeTold() {
  const told = nextTold;
  nextTold = null;
  return told;
}

/** A path of the project in view: here("/traces") is /project/{id}/traces. */
export function here(path) {
  return ctx.project ? `/project/${encodeURIComponent(ctx.project.id)}${path}` : path;
}

/** Whether the caller's role in the project in view (or an organization) grants a permission. */
export function can(permission, scope = ctx.project) {
  return Boolean(scope && scope.permissions.includes(permission));
}
