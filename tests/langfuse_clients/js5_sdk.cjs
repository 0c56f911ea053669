// Run with node and NODE_PATH set to the node_modules of the langfuse JS SDK 5.x (npm: @langfuse/client,
// @langfuse/tracing, @langfuse/otel): what an application written against it does. A prompt made and
// fetched, a trace through OpenTelemetry (LangfuseSpanProcessor) with attributes propagated to every
// span, a generation linked to the prompt, a tool call, a score on the trace, and the trace read back.
//
// Prints one JSON line. Arguments: host public_key secret_key.
const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { LangfuseSpanProcessor } = require("@langfuse/otel");
const { startActiveObservation, startObservation, propagateAttributes } = require("@langfuse/tracing");
const { LangfuseClient } = require("@langfuse/client");

const [host, publicKey, secretKey] = process.argv.slice(2, 5);

async function main() {
  const langfuse = new LangfuseClient({ publicKey, secretKey, baseUrl: host });
  const processor = new LangfuseSpanProcessor({ publicKey, secretKey, baseUrl: host });
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  const out = {};

  await langfuse.prompt.create({ name: "js5/answer", prompt: "Answer {{question}} briefly.", labels: ["production"] });
  const prompt = await langfuse.prompt.get("js5/answer", { cacheTtlSeconds: 0 });
  out.prompt = [prompt.version, prompt.compile({ question: "Where is my order?" })];

  let traceId;
  await propagateAttributes({ userId: "js5-user", sessionId: "js5-session", tags: ["js5"] }, () =>
    startActiveObservation("js5-support", async (root) => {
      traceId = root.traceId;
      root.update({ input: { question: "Where is my order?" }, metadata: { tenant: "acme" } });
      const tool = startObservation("lookup-order", { input: { order: "A-7" } }, { asType: "tool" });
      tool.update({ output: { status: "shipped" } }).end();
      const generation = startObservation("chat", {
        model: "gpt-4o-mini", input: [{ role: "user", content: out.prompt[1] }], prompt,
        modelParameters: { temperature: 0.2 },
      }, { asType: "generation" });
      generation.update({ output: { role: "assistant", content: "It ships today." },
        usageDetails: { input: 120, output: 15 } }).end();
      root.update({ output: "It ships today." });
    }));
  // The trace's input and output set apart from its spans' (setTraceIO, deprecated and still used).
  let ioTraceId;
  await startActiveObservation("js5-io", async (root) => {
    ioTraceId = root.traceId;
    root.update({ input: { raw: true } });
    const step = startObservation("step", { input: { n: 1 } });
    step.setTraceIO({ input: "Where is my order?", output: { answer: "today" } });
    step.end();
  });
  await processor.forceFlush();
  langfuse.score.create({ traceId, name: "helpful", value: 1 });
  await langfuse.flush();

  // Read back as the SDK's API client does, once the trace and its score are stored.
  const deadline = Date.now() + 30000;
  let trace = null;
  while (Date.now() < deadline) {
    trace = await langfuse.api.trace.get(traceId).catch(() => null);
    if (trace && trace.scores && trace.scores.length && trace.observations.length >= 3) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  out.trace_id = traceId;
  out.read = {
    name: trace.name, userId: trace.userId, sessionId: trace.sessionId, tags: trace.tags,
    input: trace.input, output: trace.output, metadata: trace.metadata,
    scores: trace.scores.map((s) => [s.name, s.value]),
    observations: trace.observations.map((o) => [o.type, o.name]).sort(),
    generation: trace.observations.filter((o) => o.type === "GENERATION").map((o) => [o.model,
      o.promptName, o.promptVersion, o.usageDetails.input, o.usageDetails.output, o.modelParameters])[0],
  };
  const io = await langfuse.api.trace.get(ioTraceId);
  out.trace_io = { input: io.input, output: io.output,
    observations: Object.fromEntries(io.observations.map((o) => [o.name, o.input])) };
  await provider.shutdown();
  await langfuse.shutdown();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
