// Tiny DOM helpers. Every piece of data is set as text, never parsed as HTML.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.setAttribute("style", value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function formatDuration(ms) {
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

export function formatCost(value) {
  const n = Number(value || 0);
  if (!n) return "–";
  return n < 0.01 ? `$${n.toFixed(6)}` : `$${n.toFixed(4)}`;
}

export function formatTime(ns) {
  return new Date(Number(ns) / 1e6).toLocaleString();
}

// An ISO 8601 time (the settings API's created and expiry times) in the viewer's locale.
export function formatIso(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function formatCount(n) {
  return Number(n || 0).toLocaleString();
}

export function table(headers, rows) {
  return h("table", { class: "traces" }, h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", { text: t })))),
    h("tbody", {}, ...rows));
}
