// The audit log: who changed what, newest first, 50 at a time (a project's in its settings, an
// organization's on its page). Read by admins; the API refuses anyone else.
import { api } from "/ui/api.js";
import { formatIso, h, table } from "/ui/dom.js";
import { t } from "/ui/i18n.js";

// What a change did, by method and route; any other route is shown as it is.
const CHANGES = {
  "POST /api/v1/settings/keys": () => t("Created an API key"),
  "POST /api/v1/settings/keys/{public_key}/revoke": () => t("Revoked an API key"),
  "POST /api/v1/settings/projects": () => t("Created a project"),
  "POST /api/v1/organizations/{organization}/projects": () => t("Created a project"),
  "DELETE /api/v1/settings/projects/{project}": () => t("Deleted a project"),
  "POST /api/v1/settings/projects/{project}/retention": () => t("Changed the retention"),
  "POST /api/v1/settings/projects/{project}/name": () => t("Renamed a project"),
  "POST /api/v1/settings/prices": () => t("Added a model price"),
  "DELETE /api/v1/settings/prices/{price_id}": () => t("Deleted a model price"),
  "DELETE /api/v1/settings/data/{kind}/{id}": () => t("Deleted data"),
  "POST /api/v1/organizations": () => t("Created the organization"),
  "POST /api/v1/organizations/{organization}/members": () => t("Added a member"),
  "PUT /api/v1/organizations/{organization}/members/{user_id}": () => t("Changed a member's role"),
  "DELETE /api/v1/organizations/{organization}/members/{user_id}": () => t("Removed a member"),
  "PUT /api/v1/projects/{project}/members/{user_id}": () => t("Changed a project role"),
  "POST /api/v1/organizations/{organization}/invitations": () => t("Invited someone"),
  "POST /api/v1/invitations/{token}/accept": () => t("Joined by an invitation"),
  "DELETE /api/v1/organizations/{organization}/invitations/{invitation_id}": () => t("Revoked an invitation"),
  "POST /api/v1/organizations/{organization}/api-keys": () => t("Created an organization API key"),
  "DELETE /api/v1/organizations/{organization}/api-keys/{public_key}": () => t("Revoked an organization API key"),
  "DELETE /api/public/traces/{trace_id}": () => t("Deleted a trace"),
  "DELETE /api/public/traces": () => t("Deleted traces"),
  "PUT /api/v1/traces/{trace_id}/share": () => t("Shared or unshared a trace"),
  "PUT /api/v1/llm-connections": () => t("Saved a model connection"),
  "DELETE /api/v1/llm-connections": () => t("Deleted a model connection"),
  "POST /api/v1/prompts": () => t("Created a prompt version"),
  "POST /api/public/v2/prompts": () => t("Created a prompt version"),
  "PUT /api/v1/prompt/labels": () => t("Moved prompt labels"),
  "PUT /api/v1/prompt/tags": () => t("Changed prompt tags"),
  "DELETE /api/v1/prompt": () => t("Deleted a prompt"),
  "POST /api/v1/skills": () => t("Created a skill version"),
  "PUT /api/v1/skill/labels": () => t("Moved skill labels"),
  "PUT /api/v1/skill/tags": () => t("Changed skill tags"),
  "DELETE /api/v1/skill": () => t("Deleted a skill version"),
  "POST /api/public/skills": () => t("Created a skill version"),
  "PATCH /api/public/skills/{name}": () => t("Changed skill tags"),
  "PATCH /api/public/skills/{name}/versions/{version}": () => t("Moved skill labels"),
  "DELETE /api/public/skills/{name}/versions/{version}": () => t("Deleted a skill version"),
  "POST /api/v1/datasets": () => t("Created a dataset"),
  "DELETE /api/v1/dataset": () => t("Deleted a dataset"),
  "DELETE /api/v1/dataset/runs": () => t("Deleted a dataset run"),
  "PUT /api/v1/evaluations/rules": () => t("Saved an evaluation rule"),
  "DELETE /api/v1/evaluations/rules": () => t("Deleted an evaluation rule"),
  "PUT /api/v1/evaluations/templates": () => t("Saved an evaluator template"),
  "POST /api/v1/evaluations/jobs/retry": () => t("Retried an evaluation"),
  "POST /api/public/prompts": () => t("Created a prompt version"),
  "PATCH /api/public/v2/prompts/{name}/versions/{version}": () => t("Moved prompt labels"),
  "DELETE /api/public/v2/prompts/{name}": () => t("Deleted a prompt"),
  "POST /api/public/datasets": () => t("Created a dataset"),
  "POST /api/public/v2/datasets": () => t("Created a dataset"),
  "DELETE /api/public/dataset-items/{id}": () => t("Deleted a dataset item"),
  "DELETE /api/public/datasets/{name}/runs/{run}": () => t("Deleted a dataset run"),
  "PUT /api/v1/dataset/items": () => t("Saved a dataset item"),
  "POST /api/v1/dataset/import": () => t("Imported dataset items"),
  "POST /api/v1/dataset/experiments": () => t("Started an experiment"),
  "DELETE /api/public/scores/{score_id}": () => t("Deleted a score"),
  "DELETE /api/v1/annotations": () => t("Deleted a score"),
  "DELETE /api/v1/annotation-queues": () => t("Deleted an annotation queue"),
  "PUT /api/v1/annotation-queues": () => t("Changed an annotation queue"),
  "POST /api/public/models": () => t("Saved a model price"),
  "PUT /api/public/models/{model_id}": () => t("Saved a model price"),
  "DELETE /api/public/models/{model_id}": () => t("Deleted a model price"),
  "PUT /api/public/llm-connections": () => t("Saved a model connection"),
  "DELETE /api/public/llm-connections/{id}": () => t("Deleted a model connection"),
  "POST /api/public/scim/Users": () => t("Provisioned a person (SCIM)"),
  "PUT /api/public/scim/Users/{user_id}": () => t("Updated a provisioned person (SCIM)"),
  "PATCH /api/public/scim/Users/{user_id}": () => t("Updated a provisioned person (SCIM)"),
  "DELETE /api/public/scim/Users/{user_id}": () => t("Deprovisioned a person (SCIM)"),
  "POST /api/admin/organizations": () => t("Created the organization"),
  "POST /api/admin/projects": () => t("Created a project"),
  "DELETE /api/admin/projects/{ref}": () => t("Deleted a project"),
  "POST /api/admin/projects/{ref}/retention": () => t("Changed the retention"),
  "POST /api/admin/keys": () => t("Created an API key"),
  "POST /api/admin/keys/{public_key}/revoke": () => t("Revoked an API key"),
  "DELETE /api/admin/data/{kind}/{id}": () => t("Deleted data"),
  "POST /api/admin/users/password-reset": () => t("Made a password reset link"),
  "POST /api/admin/backup": () => t("Backed up the store"),
  "POST /api/v1/organizations/{organization}/members/{user_id}/password-reset": () => t("Made a password reset link"),
  "POST /api/public/projects": () => t("Created a project"),
  "PUT /api/public/projects/{project_id}": () => t("Changed a project"),
  "DELETE /api/public/projects/{project_id}": () => t("Deleted a project"),
  "POST /api/public/projects/{project_id}/apiKeys": () => t("Created an API key"),
  "DELETE /api/public/projects/{project_id}/apiKeys/{key_id}": () => t("Revoked an API key"),
  "PUT /api/public/projects/{project_id}/memberships": () => t("Changed a project role"),
  "DELETE /api/public/projects/{project_id}/memberships": () => t("Removed a project role"),
  "PUT /api/public/organizations/memberships": () => t("Changed a member's role"),
  "DELETE /api/public/organizations/memberships": () => t("Removed a member"),
  "DELETE /api/public/comments/{id}": () => t("Deleted a comment"),
  "POST /api/public/score-configs": () => t("Created a score config"),
  "PATCH /api/public/score-configs/{id}": () => t("Changed a score config"),
  "POST /api/public/annotation-queues": () => t("Created an annotation queue"),
  "POST /api/public/annotation-queues/{id}/items": () => t("Added to an annotation queue"),
  "PATCH /api/public/annotation-queues/{id}/items/{item}": () => t("Changed an annotation queue item"),
  "DELETE /api/public/annotation-queues/{id}/items/{item}": () => t("Removed an item from an annotation queue"),
  "POST /api/public/annotation-queues/{id}/assignments": () => t("Assigned an annotation queue"),
  "DELETE /api/public/annotation-queues/{id}/assignments": () => t("Unassigned an annotation queue"),
  "POST /api/public/v2/evaluation-rules": () => t("Saved an evaluation rule"),
  "PATCH /api/public/v2/evaluation-rules/{id}": () => t("Saved an evaluation rule"),
  "DELETE /api/public/v2/evaluation-rules/{id}": () => t("Deleted an evaluation rule"),
  "POST /api/public/v2/evaluators": () => t("Saved an evaluator template"),
  "PATCH /api/public/v2/evaluators/{id}": () => t("Saved an evaluator template"),
  "DELETE /api/public/v2/evaluators/{id}": () => t("Deleted an evaluator template"),
};

function change(e) {
  const known = CHANGES[`${e.method} ${e.route}`];
  return known ? h("span", { title: `${e.method} ${e.route}`, text: known() }) : h("code", { text: `${e.method} ${e.route}` });
}

function who(actor) {
  if (actor.name) return actor.name;
  if (actor.kind === "api_key") return t("API key {key}", { key: actor.id });
  if (actor.kind === "organization_key") return t("Organization API key {key}", { key: actor.id });
  if (actor.kind === "admin_token") return t("the admin token");
  if (actor.kind === "local") return t("this machine (no sign-in)");
  return actor.id || "–";
}

/** The audit log's heading and table; ``scope`` is {project} or {organization}. */
export async function auditSection(scope, projectNames = null) {
  const body = h("div", {});
  const more = h("button", { type: "button", class: "secondary", text: t("Load more"), hidden: true });
  let shown = [];
  let cursor = null;
  let filters = {};
  // One choice per kind of change: its label, for every route that makes it.
  const kinds = new Map();
  for (const [key, label] of Object.entries(CHANGES)) kinds.set(label(), [...(kinds.get(label()) || []), key]);
  const actor = h("input", { name: "audit-actor", placeholder: t("Who (email or key)"), "aria-label": t("Who (email or key)") });
  const kind = h("select", { name: "audit-change", "aria-label": t("Change") }, h("option", { value: "", text: t("Any change") }),
    ...[...kinds.keys()].sort((a, b) => a.localeCompare(b)).map((label) => h("option", { value: label, text: label })));
  const form = h("form", { class: "filters audit-filters", onsubmit: async (event) => {
    event.preventDefault();
    filters = { actor: actor.value.trim(), action: kind.value ? kinds.get(kind.value) : [] };
    [shown, cursor] = [[], null];
    await load();
  } }, actor, kind, h("button", { type: "submit", text: t("Filter") }));
  const render = () => {
    const head = [t("Time"), t("Who"), t("Change"), ...(projectNames ? [t("Project")] : []), t("Details")];
    body.replaceChildren(shown.length ? table(head, shown.map((e) => h("tr", {},
      h("td", { text: formatIso(e.timestamp) }), h("td", { text: who(e.actor) }), h("td", {}, change(e)),
      ...(projectNames ? [h("td", { text: e.projectId ? projectNames[e.projectId] || e.projectId : "–" })] : []),
      h("td", { class: "small", text: Object.entries(e.target).filter(([k]) => !["organization", "project"].includes(k))
        .map(([k, v]) => `${k}: ${v}`).join(" · ") }))))
      : h("p", { class: "muted", text: filters.actor || filters.action?.length ? t("No change matches these filters.")
        : t("No changes recorded yet.") }));
    more.hidden = !cursor;
  };
  const load = async () => {
    const doc = await api("/api/v1/audit-log", { query: { ...scope, ...filters, limit: 50, cursor } });
    [shown, cursor] = [shown.concat(doc.items), doc.next_cursor];
    render();
  };
  more.onclick = async () => {
    more.disabled = true;
    try {
      await load();
    } finally {
      more.disabled = false;
    }
  };
  await load();
  return [h("h2", { text: t("Audit log") }),
    h("p", { class: "muted", text: t("Who changed what: settings, keys, members, prompts, datasets, rules and deletions. Data sent by clients is not listed.") }),
    form, h("div", { class: "audit-log" }, body, more)];
}
