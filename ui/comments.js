// Comments on a trace (its root span) or an observation, in the trace view: read, add, delete one's own.
import { api } from "/ui/api.js";
import { can, ctx } from "/ui/context.js";
import { formatIso, h } from "/ui/dom.js";
import { errorText, t } from "/ui/i18n.js";

function target(span) {
  return !span.parent_span_id || span.observation_type === "TRACE"
    ? { objectType: "TRACE", objectId: span.trace_id }
    : { objectType: "OBSERVATION", objectId: span.span_id };
}

export function commentsSection(span) {
  const list = h("div", { class: "comment-list" }, h("p", { class: "muted", text: t("Loading comments…") }));
  const { objectType, objectId } = target(span);
  const load = async () => {
    const doc = await api("/api/public/comments", { query: { objectType, objectId, limit: 100 } }).catch(() => ({ data: [] }));
    list.replaceChildren(...(doc.data.length ? doc.data.map((c) => h("div", { class: "comment" },
      h("p", { class: "muted small", text: `${c.authorUserId === ctx.me?.id ? t("You") : c.authorUserId || "API"} · ${formatIso(c.createdAt)}` }),
      h("p", { class: "comment-text", text: c.content }),
      can("SCORE") && ctx.me && c.authorUserId === ctx.me.id ? h("button", { type: "button", class: "link", text: t("Delete"),
        onclick: async () => {
          if (!window.confirm(t("Delete this comment? It cannot be brought back."))) return;
          await api(`/api/public/comments/${encodeURIComponent(c.id)}`, { method: "DELETE" });
          load();
        } }) : "",
    )) : [h("p", { class: "muted", text: t("No comments yet.") })]));
  };
  load();
  const text = h("textarea", { "aria-label": t("Comment"), rows: 2, placeholder: objectType === "TRACE" ? t("Comment on this trace") : t("Comment on this observation"), maxlength: 3000 });
  const error = h("span", { class: "error", role: "alert" });
  return h("section", { class: "comments" }, h("h3", { text: t("Comments") }), list,
    can("SCORE") ? h("form", { class: "comment-form", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      if (!text.value.trim()) return;
      try {
        await api("/api/public/comments", { method: "POST", body: { objectType, objectId, content: text.value } });
        text.value = "";
        load();
      } catch (err) {
        error.textContent = errorText(err);
      }
    } }, text, h("button", { type: "submit", text: t("Comment") }), error) : "");
}
