// Tracehouse UI: sign-in gate, router, pages. Plain ES modules, no build step.
import { api, ApiError } from "/ui/api.js";
import { h } from "/ui/dom.js";
import { tracesPage } from "/ui/traces.js";
import { tracePage } from "/ui/trace.js";
import { dashboardPage, sessionPage, sessionsPage, settingsPage, usersPage } from "/ui/pages.js";
import { logsPage } from "/ui/logs.js";

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
      route();
    } catch (e) {
      error.textContent = e.message;
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

async function gate() {
  const me = await api("/api/v1/auth/me");
  if (me.user) {
    document.getElementById("who").textContent = me.user.email;
    return true;
  }
  // Not signed in. In open mode (a local server with no key and no account) the data is readable anyway.
  const open = me.open;
  if (me.setup_required) {
    if (sessionStorage.getItem("th-skip-setup") && open) return true;
    authForm({
      title: "Create the admin account",
      hint: "The first account can see every project and change the settings.",
      submitLabel: "Create account",
      fields: [["name", "Name", "text"], ["email", "Email", "email"], ["password", "Password (8+ characters)", "password"]],
      onSubmit: (body) => api("/api/v1/auth/setup", { method: "POST", body }),
      extra: open ? h("button", { type: "button", class: "link", text: "Continue without an account",
        onclick: () => { sessionStorage.setItem("th-skip-setup", "1"); route(); } }) : null,
    });
    return false;
  }
  authForm({
    title: "Sign in",
    submitLabel: "Sign in",
    fields: [["email", "Email", "email"], ["password", "Password", "password"]],
    onSubmit: (body) => api("/api/v1/auth/login", { method: "POST", body }),
  });
  return false;
}

export async function route() {
  const path = location.pathname;
  try {
    if (!(await gate())) return;
    const deepLink = path.match(/^\/project\/([^/]+)\/traces\/([^/]+)$/);
    const trace = path.match(/^\/traces\/([^/]+)$/);
    const session = path.match(/^\/sessions\/([^/]+)$/);
    if (deepLink) await tracePage(main(), decodeURIComponent(deepLink[2]), decodeURIComponent(deepLink[1]));
    else if (trace) await tracePage(main(), decodeURIComponent(trace[1]));
    else if (session) await sessionPage(main(), decodeURIComponent(session[1]));
    else if (path === "/sessions") await sessionsPage(main());
    else if (path === "/users") await usersPage(main());
    else if (path === "/logs") await logsPage(main());
    else if (path === "/dashboard") await dashboardPage(main());
    else if (path === "/settings") await settingsPage(main());
    else await tracesPage(main());
  } catch (e) {
    main().replaceChildren(h("div", { class: "card error", role: "alert" }, h("h2", { text: "Something went wrong" }),
      h("p", { text: e.message })));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (link && !event.metaKey && !event.ctrlKey && link.origin === location.origin) {
    event.preventDefault();
    navigate(link.pathname + link.search);
  }
});
window.addEventListener("popstate", route);
route();
