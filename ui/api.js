// The one place the UI talks to /api/v1: credentials, CSRF header, errors as exceptions.
import { currentLocale } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )th_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// The project in view: project-scoped reads get ?project= unless the caller names one.
let currentProject = null;
const UNSCOPED = /^\/api\/v1\/(auth|organizations|invitations|settings|projects)(\/|$)/;

export function setProject(id) {
  currentProject = id;
}

async function send(path, { method = "GET", body, query } = {}) {
  const url = new URL(path, location.origin);
  if (currentProject && !UNSCOPED.test(url.pathname) && !(query && query.project)) {
    url.searchParams.set("project", currentProject);
  }
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
  }
  // The server gives its error messages in the language the page shows.
  const headers = { Accept: "application/json", "Accept-Language": currentLocale() };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRF-Token"] = csrfToken();
  }
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    const doc = await response.json().catch(() => ({}));
    // The Prometheus API (the metrics page reads it) says {"errorType", "error": "message"}.
    const error = typeof doc.error === "string" ? { code: doc.errorType, message: doc.error } : doc.error || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return response;
}

export async function api(path, options = {}) {
  const response = await send(path, options);
  return response.json().catch(() => ({}));
}

/** A streamed answer (NDJSON): each line's object to ``onLine`` as it arrives. */
export async function apiLines(path, options, onLine) {
  const response = await send(path, options);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    pending += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
    if (done) break;
  }
  if (pending.trim()) onLine(JSON.parse(pending));
}
