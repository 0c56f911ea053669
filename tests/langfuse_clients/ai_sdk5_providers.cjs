// Run with node and NODE_PATH set to the node_modules of the Vercel AI SDK (npm: ai 5.x as "ai5",
// with OpenTelemetry's Node SDK and OTLP/HTTP protobuf exporter): an AI SDK 5 application's calls to
// Anthropic's API (generateText, streamText), to Bedrock's (streamText) and to Gemini's (both), traced
// by the SDK's own telemetry. The models are the SDK's own mock (ai5/test) answering as the AI SDK 5's providers do
// (@ai-sdk/anthropic 2.x, @ai-sdk/amazon-bedrock 3.x, @ai-sdk/google 2.x): each passes its API's
// counts on as they came (Anthropic's and Bedrock's input without the cache, Gemini's output without
// its thinking), and gives the cache and thinking counts in its usage and its provider metadata.
//
// Prints one JSON line. Arguments: host public_key secret_key.
const { generateText, streamText, simulateReadableStream } = require("ai5");
const { MockLanguageModelV2 } = require("ai5/test");
const { registerTracing } = require("./otel_roots.cjs");

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
// Gemini's: 300 input tokens, 200 of them cached, 9 out beside 30 of thinking (candidatesTokenCount
// leaves the thoughts out; the AI SDK 5 passes it on as the output).
const GEMINI_USAGE = { inputTokens: 300, outputTokens: 9, totalTokens: 339, reasoningTokens: 30, cachedInputTokens: 200 };
const GEMINI = {
  google: {
    usageMetadata: {
      promptTokenCount: 300, candidatesTokenCount: 9, thoughtsTokenCount: 30, cachedContentTokenCount: 200,
      totalTokenCount: 339,
    },
    safetyRatings: null,
  },
};

function streamed(providerMetadata, usage = USAGE) {
  return async () => ({
    stream: simulateReadableStream({
      chunks: [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "t1" },
        { type: "text-delta", id: "t1", delta: "Sunny in " },
        { type: "text-delta", id: "t1", delta: "Paris." },
        { type: "text-end", id: "t1" },
        { type: "finish", finishReason: "stop", usage, providerMetadata },
      ],
    }),
  });
}

async function main() {
  const { finish } = registerTracing(host, publicKey, secretKey, "ai-sdk-5");
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
  const gemini = new MockLanguageModelV2({
    provider: "google.generative-ai",
    modelId: "gemini-2.5-flash",
    doGenerate: async () => ({
      content: [{ type: "text", text: "Sunny in Paris." }],
      finishReason: "stop",
      usage: GEMINI_USAGE,
      providerMetadata: GEMINI,
      warnings: [],
    }),
    doStream: streamed(GEMINI, GEMINI_USAGE),
  });
  await generateText({ model: anthropic, prompt: "Weather in Paris?", experimental_telemetry: traced("anthropic-generate") });
  await streamText({ model: anthropic, prompt: "Weather in Paris?", experimental_telemetry: traced("anthropic-stream") }).text;
  await streamText({ model: bedrock, prompt: "Weather in Paris?", experimental_telemetry: traced("bedrock-stream") }).text;
  await generateText({ model: gemini, prompt: "Weather in Paris?", experimental_telemetry: traced("gemini-generate") });
  await streamText({ model: gemini, prompt: "Weather in Paris?", experimental_telemetry: traced("gemini-stream") }).text;
  await finish(5);  // its five calls' roots: streamed ones end after their text is read
  console.log(JSON.stringify({ calls: 5 }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
