// The UI's languages: every string it shows is looked up here, in plain JSON catalogs keyed by the
// English text (ui/locales/en.json lists every key, zh-CN.json translates each; a test keeps them
// complete). Numbers, dates and money are formatted per locale with Intl.

// Short names, so the switch takes little of the top bar; each language in its own words.
export const LOCALES = [["en", "EN"], ["zh-CN", "中文"]];
const STORED = "th-lang";

let locale = "en";
let catalog = {};

/** The locale in view: "en" or "zh-CN". */
export function currentLocale() {
  return locale;
}

function supported(tag) {
  if (!tag) return null;
  const lower = String(tag).toLowerCase();
  if (lower.startsWith("zh")) return "zh-CN";
  if (lower.startsWith("en")) return "en";
  return null;
}

/** The language to show: ?lang= (for a shareable link), the account's choice, this browser's last
 * choice, then the browser's own languages. */
export function chooseLocale(accountLocale) {
  const asked = supported(new URLSearchParams(location.search).get("lang"));
  if (asked) return asked;
  return supported(accountLocale) || supported(localStorage.getItem(STORED))
    || (navigator.languages || [navigator.language]).map(supported).find(Boolean) || "en";
}

/** Load the catalog of ``tag`` and use it from now on. */
export async function useLocale(tag) {
  const next = supported(tag) || "en";
  if (next !== "en") {
    const response = await fetch(`/ui/locales/${next}.json`, { credentials: "same-origin" });
    catalog = response.ok ? await response.json() : {};
  } else {
    catalog = {};
  }
  locale = next === "en" || Object.keys(catalog).length ? next : "en"; // a missing catalog: English
  document.documentElement.lang = locale;
}

/** Remember a choice in this browser (before sign-in, and for the next visit). */
export function rememberLocale(tag) {
  localStorage.setItem(STORED, tag);
}

/** The message ``key`` (its English text) in the current language, with {name} filled from ``vars``. */
export function t(key, vars) {
  const text = catalog[key] || key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Error codes of the API's {"error": {"code", "message"}}, for errors whose message the catalog lacks.
const ERROR_TITLES = {
  invalid_input: "Invalid input",
  unauthenticated: "Not signed in",
  forbidden: "Not allowed",
  not_found: "Not found",
  conflict: "Conflict",
  request_timeout: "The request took too long",
  payload_too_large: "Too large",
  overloaded: "The server is busy",
  storage_unavailable: "The store is unavailable",
  internal: "Something went wrong",
};

// Words the API speaks in (roles, states, types), shown translated; English shows them as they are.
const WORDS = new Set([
  "OWNER", "ADMIN", "MEMBER", "VIEWER", "NONE", "ACTIVE", "ARCHIVED", "PENDING", "COMPLETED",
  "pending", "running", "done", "error", "NUMERIC", "BOOLEAN", "CATEGORICAL", "text", "chat",
  "numeric", "boolean", "categorical", "Correctness", "Hallucination", "Toxicity", "Relevance", "Conciseness",
  "observation", "trace",
]);

/** A value of the API (a role, a state, a type) in words of the current language. */
export function word(value) {
  return WORDS.has(value) ? t(value) : value;
}

/** An error to show: its message translated when the catalog has it; else, outside English, the
 * translated kind of error with the server's own words after it. */
export function errorText(error) {
  const message = error && error.message ? error.message : String(error);
  if (catalog[message] || locale === "en") return t(message);
  const title = ERROR_TITLES[error && error.code] || "Something went wrong";
  return t("{title}: {message}", { title: t(title), message });
}

/** A whole number in the locale's digits grouping. */
export function formatNumber(n, options) {
  return new Intl.NumberFormat(locale, options).format(Number(n || 0));
}

/** US dollars with enough digits for a fraction of a cent. */
export function formatMoney(n) {
  // Below a millionth of a dollar (an embedding of a few tokens), its two first digits: six places
  // would show it as zero.
  if (n > 0 && n < 0.000001) {
    return new Intl.NumberFormat(locale, { style: "currency", currency: "USD", maximumSignificantDigits: 2 }).format(n);
  }
  return new Intl.NumberFormat(locale, {
    style: "currency", currency: "USD", minimumFractionDigits: n < 0.01 ? 6 : 4, maximumFractionDigits: n < 0.01 ? 6 : 4,
  }).format(n);
}

/** A moment in the viewer's locale and time zone. */
export function formatDate(date) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

/** A moment with only the parts ``options`` asks for (Intl.DateTimeFormat's), in the viewer's locale. */
export function formatDateParts(date, options) {
  return new Intl.DateTimeFormat(locale, options).format(date);
}

/** A date and time for a row of a list: without the year when it is this year's, to leave the
 * list's other columns room on a laptop's screen. */
export function formatShortDate(date) {
  const year = date.getFullYear() === new Date().getFullYear() ? undefined : "numeric";
  return new Intl.DateTimeFormat(locale, { year, month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
    second: "2-digit" }).format(date);
}
