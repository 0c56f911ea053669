// Run with node and NODE_PATH set to the node_modules of the Vercel AI SDK (npm: ai 5.x as "ai5",
// with OpenTelemetry's Node SDK and OTLP/HTTP protobuf exporter): an AI SDK 5 application's calls to
// Anthropic's API (generateText, streamText) and to Bedrock's (streamText), traced by the SDK's own
// telemetry. The models are the SDK's own mock (ai5/test) answering as the AI SDK 5's providers do
// (@ai-sdk/anthropic 2.x, @ai-sdk/amazon-bedrock 3.x): each passes its API's input count on as it
// came, without the cache, and gives the cache counts in its usage and its provider metadata.
//
// Prints one JSON line. Arguments: host public_key secret_key.
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { generateText, streamText, simulateReadableStream } = require("ai5");
const { MockLanguageModelV2 } = require("ai5/test");

const [host, publicKey, secretKey] = process.argv.slice(2, 5);

// 300 input tokens beside 200 read from the cache and 5 written to it, 9 out.
const USAGE = { inputTokens: 300, outputTokens: 9, totalTokens: 309, cachedInputTokens: 200 };
const ANTHROPIC = {
  anthropic: {
    usage: { input_tokens: 300, output_tokens: 9, cache_read_input_tokens: 200, cache_creation_input_tokens: 5 },
    cacheCreationInputTokens: 5,
    stopSequence: null,
  },
};
const BEDROCK = { bedrock: { usage: { cacheWriteInputTokens: 5 }, stopSequence: null } };

function streamed(providerMetadata) {
  return async () => ({
    stream: simulateReadableStream({
      chunks: [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "t1" },
        { type: "text-delta", id: "t1", delta: "Sunny in " },
        { type: "text-delta", id: "t1", delta: "Paris." },
        { type: "text-end", id: "t1" },
        { type: "finish", finishReason: "stop", usage: USAGE, providerMetadata },
      ],
    }),
  });
}

async function main() {
  const exporter = new OTLPTraceExporter({
    url: `${host}/api/public/otel/v1/traces`,
    headers: { Authorization: `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}` },
  });
  // A streamed call's spans end after its text is read: wait for the three roots to end.
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
    resource: resourceFromAttributes({ "service.name": "ai-sdk-5" }),
    spanProcessors: [processor],
  });
  provider.register();
  const traced = (functionId) => ({ isEnabled: true, functionId });

  const anthropic = new MockLanguageModelV2({
    provider: "anthropic.messages",
    modelId: "claude-sonnet-4-5",
    doGenerate: async () => ({
      content: [{ type: "text", text: "Sunny in Paris." }],
      finishReason: "stop",
      usage: USAGE,
      providerMetadata: ANTHROPIC,
      warnings: [],
    }),
    doStream: streamed(ANTHROPIC),
  });
  const bedrock = new MockLanguageModelV2({
    provider: "amazon-bedrock",
    modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    doStream: streamed(BEDROCK),
  });
  await generateText({ model: anthropic, prompt: "Weather in Paris?", experimental_telemetry: traced("anthropic-generate") });
  await streamText({ model: anthropic, prompt: "Weather in Paris?", experimental_telemetry: traced("anthropic-stream") }).text;
  await streamText({ model: bedrock, prompt: "Weather in Paris?", experimental_telemetry: traced("bedrock-stream") }).text;
  while (rootsEnded < 3) await new Promise((resolve) => setTimeout(resolve, 10));
  await provider.forceFlush();
  await provider.shutdown();
  console.log(JSON.stringify({ calls: 3 }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
