// Deleting stored data from the pages that show it (a trace, a session, a user's traces): the
// settings API's GDPR deletion, asked once more before it runs, for people allowed to delete data.
import { api } from "/ui/api.js";
import { can, ctx } from "/ui/context.js";
import { h } from "/ui/dom.js";
import { errorText, t } from "/ui/i18n.js";

/** A "Delete" button for ``kind`` ("traces", "sessions" or "users") ``id``, or null for someone
 * not allowed; ``question`` is asked first, ``done(deletedTraces)`` runs after. */
export function eraseButton(kind, id, question, done, label = t("Delete")) {
  if (!can("DELETE_DATA")) return null;
  return h("button", { type: "button", class: "secondary danger", text: label, onclick: async (e) => {
    if (!window.confirm(question)) return;
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const doc = await api(`/api/v1/settings/data/${kind}/${encodeURIComponent(id)}`,
        { method: "DELETE", query: { project: ctx.project.id } });
      done(doc.deleted_traces);
    } catch (err) {
      button.disabled = false;
      window.alert(errorText(err));
    }
  } });
}
