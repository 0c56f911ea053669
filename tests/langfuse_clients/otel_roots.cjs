// For the AI SDK's client scripts: OpenTelemetry's Node SDK registered to export each span over
// OTLP/HTTP protobuf to a host's Langfuse OTLP endpoint, counting the root spans that ended. The
// AI SDK ends a streamed call's spans after its text is read, so a script waits for its roots
// (untilRootsEnded) before it flushes.
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { resourceFromAttributes } = require("@opentelemetry/resources");

function registerTracing(host, publicKey, secretKey, serviceName) {
  const exporter = new OTLPTraceExporter({
    url: `${host}/api/public/otel/v1/traces`,
    headers: { Authorization: `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}` },
  });
  const exporting = new SimpleSpanProcessor(exporter);
  let rootsEnded = 0;
  const processor = {
    onStart: (span, context) => exporting.onStart(span, context),
    onEnd: (span) => {
      exporting.onEnd(span);
      if (!span.parentSpanContext) rootsEnded += 1;
    },
    forceFlush: () => exporting.forceFlush(),
    shutdown: () => exporting.shutdown(),
  };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [processor],
  });
  provider.register();
  // Wait until ``count`` roots have ended, then flush and shut the provider down.
  async function finish(count) {
    while (rootsEnded < count) await new Promise((resolve) => setTimeout(resolve, 10));
    await provider.forceFlush();
    await provider.shutdown();
  }
  return { provider, finish };
}

module.exports = { registerTracing };
