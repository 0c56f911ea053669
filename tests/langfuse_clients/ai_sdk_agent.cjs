// Run with node and NODE_PATH set to the node_modules of the Vercel AI SDK (npm: ai 7.x with
// @ai-sdk/otel, and ai 6.x as "ai6", with OpenTelemetry's Node SDK and OTLP/HTTP protobuf exporter):
// an application's agent that calls a tool, then answers, a streamed answer (its first chunk 40 ms
// in) and an embedding, exported to Langfuse's OTLP endpoint as AI SDK users point it at Langfuse. The models are the
// SDK's own mock (ai/test), answering as a provider would: the same spans, no network.
//
// Prints one JSON line. Arguments: host public_key secret_key integration: "modern" (AI SDK 7 with
// @ai-sdk/otel's OpenTelemetry: GenAI conventions), "legacy" (AI SDK 7 with its LegacyOpenTelemetry:
// the ai.* spans) or "v6" (AI SDK 6's own telemetry: the same ai.* spans, with telemetry metadata).
const { z } = require("zod");
const { registerTracing } = require("./otel_roots.cjs");

const [host, publicKey, secretKey, integration] = process.argv.slice(2, 6);

async function main() {
  const { finish } = registerTracing(host, publicKey, secretKey, `ai-sdk-${integration}`);
  const v6 = integration === "v6";
  const { generateText, streamText, embed, simulateReadableStream, registerTelemetry, tool, stepCountIs } = require(
    v6 ? "ai6" : "ai",
  );
  const { MockLanguageModelV3, MockLanguageModelV4, MockEmbeddingModelV3, MockEmbeddingModelV4 } = require(
    v6 ? "ai6/test" : "ai/test",
  );
  if (!v6) {
    const { OpenTelemetry, LegacyOpenTelemetry } = require("@ai-sdk/otel");
    registerTelemetry(integration === "legacy" ? new LegacyOpenTelemetry() : new OpenTelemetry());
  }

  // The second call read 100 of its 150 input tokens from the provider's cache.
  const usage = (input, output, cacheRead) => ({
    inputTokens: { total: input, noCache: input - (cacheRead || 0), cacheRead, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  });
  let calls = 0;
  const model = new (v6 ? MockLanguageModelV3 : MockLanguageModelV4)({
    provider: "openai.chat",
    modelId: "gpt-4o-mini",
    doGenerate: async () => (++calls === 1
      ? { content: [{ type: "tool-call", toolCallId: "call-1", toolName: "weather", input: '{"city":"Paris"}' }],
          finishReason: { unified: "tool-calls", raw: "tool_calls" }, usage: usage(100, 20), warnings: [] }
      : { content: [{ type: "text", text: "It is sunny in Paris." }],
          finishReason: { unified: "stop", raw: "stop" }, usage: usage(150, 10, 100), warnings: [] }),
  });
  const result = await generateText({
    model,
    [v6 ? "system" : "instructions"]: "You are a weather bot.",
    prompt: "What is the weather in Paris?",
    tools: {
      weather: tool({
        description: "The weather in a city",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => ({ city, sky: "sunny" }),
      }),
    },
    stopWhen: stepCountIs(3),
    ...(v6
      ? { experimental_telemetry: { isEnabled: true, functionId: "weather-agent",
          metadata: { userId: "ai-user", sessionId: "ai-session", tags: ["weather"], tenant: "acme" } } }
      : { telemetry: { functionId: "weather-agent" } }),
  });
  const streaming = new (v6 ? MockLanguageModelV3 : MockLanguageModelV4)({
    provider: "openai.chat",
    modelId: "gpt-4o",
    doStream: async () => ({
      stream: simulateReadableStream({
        initialDelayInMs: 40,
        chunkDelayInMs: 5,
        chunks: [
          { type: "stream-start", warnings: [] },
          { type: "text-start", id: "t1" },
          { type: "text-delta", id: "t1", delta: "Sunny, " },
          { type: "text-delta", id: "t1", delta: "21 degrees." },
          { type: "text-end", id: "t1" },
          { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(30, 5) },
        ],
      }),
    }),
  });
  const stream = streamText({
    model: streaming,
    prompt: "And tomorrow?",
    ...(v6 ? { experimental_telemetry: { isEnabled: true } } : {}),
  });
  const streamed = await stream.text;
  const embedder = new (v6 ? MockEmbeddingModelV3 : MockEmbeddingModelV4)({
    provider: "openai.embedding",
    modelId: "text-embedding-3-small",
    doEmbed: async () => ({ embeddings: [[0.1, 0.2, 0.3]], usage: { tokens: 7 }, warnings: [] }),
  });
  await embed({
    model: embedder,
    value: "sunny day at the beach",
    ...(v6 ? { experimental_telemetry: { isEnabled: true } } : {}),
  });
  await finish(3);  // the agent's, the streamed answer's (ended after its text is read), the embedding's
  console.log(JSON.stringify({ text: result.text, usage: result.totalUsage, streamed }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
