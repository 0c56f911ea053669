// The key dialog: a new key pair with copy buttons and snippets for Dify, the Langfuse SDK and
// OpenTelemetry exporters, then a wait for the project's first trace.
import { api } from "/ui/api.js";
import { can, ctx, here } from "/ui/context.js";
import { formatTime, h } from "/ui/dom.js";
import { t } from "/ui/i18n.js";

export function snippet(label, text, hint) {
  return h("div", { class: "snippet" }, h("strong", { text: label }), hint ? h("p", { class: "muted", text: hint }) : null,
    h("pre", { text }),
    h("button", { type: "button", class: "link", text: t("Copy"), "aria-label": t("Copy {what}", { what: label }),
      onclick: () => navigator.clipboard?.writeText(text) }));
}

/** The snippets for a key pair: what to paste where. */
export function keySnippets(pair) {
  const basic = btoa(`${pair.public_key}:${pair.secret_key}`);
  return {
    dify: `Public Key: ${pair.public_key}\nSecret Key: ${pair.secret_key}\nHost: ${pair.host}`, // code, not text
    langfuseEnv: `LANGFUSE_PUBLIC_KEY=${pair.public_key}\nLANGFUSE_SECRET_KEY=${pair.secret_key}\n`
      + `LANGFUSE_HOST=${pair.host}`,
    langfuseCode: "from langfuse import get_client\n\nlangfuse = get_client()\n"
      + "with langfuse.start_as_current_observation(name=\"hello-tracehouse\", input=\"Hi\") as span:\n" // code, not text
      + "    span.update(output=\"Hello from Tracehouse\")\nlangfuse.flush()\n", // code, not text
    otelEnv: `OTEL_EXPORTER_OTLP_ENDPOINT=${pair.host}/api/public/otel\n`
      + `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20${basic}\nOTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`,
    // Grafana's data source forms, field by field (their labels are Grafana's, in any language)
    grafana: `Tempo URL: ${pair.host}/tempo\nPrometheus URL: ${pair.host}/prometheus\n` // code, not text
      + `User: ${pair.public_key}\nPassword: ${pair.secret_key}`, // code, not text
  };
}

/** Poll the project for its first trace and link to it when it comes. Stops when `el` leaves the page. */
export function waitForFirstTrace(projectId, el) {
  const start = new Date(Date.now() - 30 * 86400000).toISOString();
  const poll = async () => {
    if (!el.isConnected) return;
    const page = await api("/api/v1/traces", { query: { project: projectId, start, limit: 1, preview: "false" } })
      .catch(() => ({ items: [] }));
    if (!page.items.length) {
      setTimeout(poll, 2000);
      return;
    }
    const first = page.items[0];
    el.replaceChildren(h("p", { class: "ok", role: "status" }, t("Your first trace arrived: "),
      h("a", { href: `/project/${encodeURIComponent(projectId)}/traces/${encodeURIComponent(first.trace_id)}`,
        "data-link": true, text: first.name || first.trace_id }), ` (${formatTime(first.start_time)})`));
  };
  el.replaceChildren(h("p", { class: "muted waiting", role: "status",
    text: t("Waiting for the first trace of this project… send one with any of the snippets above.") }));
  setTimeout(poll, 500); // once the dialog is on the page
}

/** The card shown after a key pair is created: the secret once, with what to paste where. */
export function keyPanel(pair, { wait = false } = {}) {
  const s = keySnippets(pair);
  const waiting = h("div", { class: "first-trace-wait" });
  const card = h("div", { class: "card key-dialog", role: "dialog", "aria-label": t("New API key") },
    h("p", { class: "warn", text: t("The secret key is shown only now. Copy it somewhere safe.") }),
    snippet(t("Public key"), pair.public_key), snippet(t("Secret key"), pair.secret_key), snippet(t("Host"), pair.host),
    snippet(t("Dify (Settings → Monitoring → Langfuse)"), s.dify,
      t("Paste the three values into Dify's Langfuse form; Dify checks them against this host.")),
    snippet(t("Langfuse SDK (environment)"), s.langfuseEnv, t("Any Langfuse SDK, 2.x to 5.x, Python or JS.")),
    snippet(t("Langfuse SDK (Python)"), s.langfuseCode),
    snippet(t("OpenTelemetry exporter (environment)"), s.otelEnv,
      t("Any OTLP/HTTP exporter; gRPC exporters use port {port} with the same Authorization header.",
        { port: ctx.otlp?.grpc_port ?? 4317 })),
    snippet(t("Grafana (Tempo and Prometheus data sources)"), s.grafana,
      t("Add a Tempo and a Prometheus data source with these URLs and Basic auth. The Tempo one answers TraceQL search and metrics, so Explore → Traces works too.")),
    waiting);
  if (wait) waitForFirstTrace(pair.project_id, waiting);
  return card;
}

/** How to send a first trace to the project in view: its keys are in its settings. */
export function firstTraceHint() {
  if (ctx.organization?.open) {
    // Open mode: no key exists, and this machine's exporters need none until one does.
    return h("div", {}, h("p", { class: "muted", text: t("Send your first trace: point any OpenTelemetry exporter here,") }),
      h("pre", { text: `OTEL_EXPORTER_OTLP_ENDPOINT=http://${location.hostname}:${ctx.otlp?.http_port ?? 4318}` })); // code, not text
  }
  return h("p", { class: "muted" },
    t("Send traces to this project with one of its API keys, from any OpenTelemetry exporter, a Langfuse SDK or Dify. "),
    can("MANAGE_KEYS") ? h("a", { href: here("/settings"), "data-link": true, text: t("Create a key and copy the snippets →") })
      : t("Ask an admin of this project for a key."));
}
