// Tiny DOM helpers. Every piece of data is set as text, never parsed as HTML.
import { formatDate, formatMoney, formatNumber, formatShortDate, t } from "/ui/i18n.js";

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
  // A whole-millisecond latency of 0 (the lists') is under a millisecond, not none.
  if (ms <= 0) return t("<1 ms");
  // Microseconds below a millisecond: tool calls and in-process spans are often that short, and a
  // waterfall's axis over such a trace read "<1 ms" at every tick.
  if (ms < 0.001) return t("<1 µs");
  if (ms < 1) return t("{n} µs", { n: formatNumber(Math.round(ms * 1000)) });
  if (ms < 1000) return t("{n} ms", { n: formatNumber(Math.round(ms)) });
  if (ms < 60000) return t("{n} s", { n: formatNumber(ms / 1000, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) });
  return t("{n} min", { n: formatNumber(ms / 60000, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
}

/** A span's duration as shown; "–" for one that has none (a Langfuse event, a span never ended),
 * which "<1 ms" would misstate. */
export function spanDuration(s) {
  return s.end_time > s.start_time ? formatDuration((s.end_time - s.start_time) / 1e6) : "–";
}

export function formatCost(value) {
  const n = Number(value || 0);
  if (!n) return "–";
  return formatMoney(n);
}

export function formatTime(ns) {
  return formatDate(new Date(Number(ns) / 1e6));
}

/** A time (ns since the epoch) for a row of a list: the year only when it is not this one. */
export function formatRowTime(ns) {
  return formatShortDate(new Date(Number(ns) / 1e6));
}

// An ISO 8601 time (the settings API's created and expiry times) in the viewer's locale.
export function formatIso(iso) {
  return iso ? formatDate(new Date(iso)) : "";
}

/** A size on disk or the wire: bytes, then KB, MB, GB (of 1,024). */
export function formatBytes(n) {
  if (n < 1024) return t("{n} bytes", { n: formatNumber(n) });
  const [value, unit] = n < 1024 ** 2 ? [n / 1024, "KB"] : n < 1024 ** 3 ? [n / 1024 ** 2, "MB"] : [n / 1024 ** 3, "GB"];
  return `${formatNumber(Math.round(value * 10) / 10)} ${unit}`;
}

export function formatCount(n) {
  return formatNumber(n);
}

/** "1 span" or "{n} spans", the count formatted for the locale. */
export function spanCount(n) {
  return Number(n) === 1 ? t("1 span") : t("{n} spans", { n: formatCount(n) });
}

/** A score's value as shown: a number formatted (``digits`` after the point at most), else its
 * text (a boolean's True or False, a category's label). */
export function scoreText(score, digits = 4) {
  if (score.data_type === "NUMERIC") return formatNumber(score.value, { maximumFractionDigits: digits });
  return score.string_value;
}

/** A message's role as the page names it: the common ones in the page's language, others as sent. */
export function roleLabel(role) {
  const names = { system: t("System"), developer: t("Developer"), user: t("User"), assistant: t("Assistant"),
    tool: t("Tool"), function: t("Function") };
  return Object.hasOwn(names, role) ? names[role] : role;
}

/** "1 trace" or "{n} traces", the count formatted for the locale. */
export function traceCount(n) {
  return Number(n) === 1 ? t("1 trace") : t("{n} traces", { n: formatCount(n) });
}

/** "1 token" or "{n} tokens", the count formatted for the locale. */
export function tokenCount(n) {
  return Number(n) === 1 ? t("1 token") : t("{n} tokens", { n: formatCount(n) });
}

/** A trace row's latency in ms, to the microsecond from its bounds (ns): its ``latency_ms`` is
 * whole milliseconds, which read "<1 ms" in a list beside the trace's own "54 µs". */
export function traceLatency(row) {
  return row.end_time > row.start_time ? (row.end_time - row.start_time) / 1e6 : row.latency_ms;
}

export function table(headers, rows) {
  return numericHeaders(h("table", { class: "traces" }, h("thead", {}, h("tr", {}, ...headers.map((label) => h("th", { text: label })))),
    h("tbody", {}, ...rows)));
}

/** Right-align the header of each column whose first row holds a number (``td.num``), as its
 * cells are; returns the table. */
export function numericHeaders(el) {
  const head = el.tHead?.rows[0];
  const first = el.tBodies[0]?.rows[0];
  if (!head || !first || first.cells.length !== head.cells.length) return el;
  [...first.cells].forEach((cell, i) => head.cells[i].classList.toggle("num", cell.classList.contains("num")));
  return el;
}

/** Previous and next buttons for numbered pages of ``total`` rows; none when all fit on one. */
export function pager(pageNumber, total, perPage, go) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (pages === 1 && pageNumber === 1) return null;
  return h("div", { class: "pager" },
    pageNumber > 1 ? h("button", { type: "button", text: t("Previous page"), onclick: () => go(pageNumber - 1) }) : null,
    h("span", { class: "muted", text: t("Page {page} of {pages}", { page: pageNumber, pages }) }),
    pageNumber < pages ? h("button", { type: "button", text: t("Next page"), onclick: () => go(pageNumber + 1) }) : null);
}
