// The UI's entry: the language is settled (the account's, this browser's or the browser's own)
// and its catalog loaded before any page module runs, so every string is looked up in it.
import { chooseLocale, useLocale } from "/ui/i18n.js";

const me = await fetch("/api/v1/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
  .then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
await useLocale(chooseLocale(me.user && me.user.locale));
(await import("/ui/app.js")).start(me);
