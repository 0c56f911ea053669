// Run with node and NODE_PATH set to the node_modules of the langfuse JS SDK 3.x (npm): what an
// application written against it does. Tracing (a trace, a span, a generation linked to a prompt
// version, an event, scores, an image in the input), prompts (create, fetch by label and version,
// move a label), datasets (create, add items, run an item against a generation) and the reads.
//
// Prints one JSON line. Arguments: host public_key secret_key.
const { Langfuse, LangfuseMedia } = require("langfuse");

const [host, publicKey, secretKey] = process.argv.slice(2, 5);
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4o6GBFTEMLQkAe3tLAfuiUfAAAAAASUVORK5CYII=";

async function main() {
  const langfuse = new Langfuse({ publicKey, secretKey, baseUrl: host, flushAt: 100 });
  const out = {};

  // Prompts: a text prompt in two versions, a chat prompt; fetched by label and by version.
  await langfuse.createPrompt({ name: "js/answer", prompt: "Answer {{question}} briefly.", labels: ["production"] });
  await langfuse.createPrompt({ name: "js/answer", prompt: "Answer {{question}} in one line.", labels: ["staging"] });
  await langfuse.createPrompt({
    name: "js/chat", type: "chat", labels: ["production"],
    prompt: [{ role: "system", content: "You help with {{topic}}." }, { role: "user", content: "{{question}}" }],
  });
  const production = await langfuse.getPrompt("js/answer", undefined, { cacheTtlSeconds: 0 });
  const staging = await langfuse.getPrompt("js/answer", undefined, { label: "staging", cacheTtlSeconds: 0 });
  const first = await langfuse.getPrompt("js/answer", 1, { cacheTtlSeconds: 0 });
  const chat = await langfuse.getPrompt("js/chat", undefined, { type: "chat", cacheTtlSeconds: 0 });
  out.prompts = {
    production: [production.version, production.compile({ question: "Where is my order?" })],
    staging: [staging.version, staging.prompt],
    first: first.version,
    chat: chat.compile({ topic: "returns", question: "Can I return it?" }),
  };
  await langfuse.updatePrompt({ name: "js/answer", version: 2, newLabels: ["production"] });
  const moved = await langfuse.getPrompt("js/answer", undefined, { cacheTtlSeconds: 0 });
  out.prompts.production_after_move = moved.version;

  // Tracing.
  const trace = langfuse.trace({
    name: "js-support", userId: "js-user", sessionId: "js-session", tags: ["js", "sdk"], release: "r-7",
    metadata: { tenant: "acme" },
    input: { question: "Where is my order?", photo: new LangfuseMedia({ base64DataUri: `data:image/png;base64,${PNG}` }) },
  });
  const span = trace.span({ name: "retrieve", input: { query: "order status" } });
  span.event({ name: "cache-miss", metadata: { key: "order-1" } });
  span.end({ output: ["doc-1", "doc-2"] });
  const generation = trace.generation({
    name: "chat", model: "gpt-4o-mini", modelParameters: { temperature: 0.2 }, prompt: production,
    input: [{ role: "user", content: production.compile({ question: "Where is my order?" }) }],
  });
  generation.end({ output: { role: "assistant", content: "It ships today." }, usage: { input: 120, output: 15 } });
  trace.update({ output: "It ships today." });
  trace.score({ name: "helpful", value: 1, comment: "right answer" });
  langfuse.score({ traceId: trace.id, observationId: generation.id, name: "tone", value: "polite", dataType: "CATEGORICAL" });
  await langfuse.flushAsync();
  out.trace_id = trace.id;
  out.generation_id = generation.id;

  // Datasets: items, and a run linking one item to the generation above.
  await langfuse.createDataset({ name: "js-cases", description: "made by the JS SDK" });
  await langfuse.createDatasetItem({ datasetName: "js-cases", input: { question: "Where is my order?" }, expectedOutput: "today" });
  await langfuse.createDatasetItem({ datasetName: "js-cases", input: { question: "Can I return it?" }, expectedOutput: "yes" });
  const dataset = await langfuse.getDataset("js-cases");
  await dataset.items[0].link(generation, "js-run-1", { description: "first run" });
  const run = await langfuse.getDatasetRun({ datasetName: "js-cases", runName: "js-run-1" });
  const runs = await langfuse.getDatasetRuns("js-cases");
  out.dataset = {
    items: dataset.items.map((i) => i.input.question).sort(),
    run_items: run.datasetRunItems.map((r) => [r.datasetItemId === dataset.items[0].id, r.traceId, r.observationId]),
    runs: runs.data.map((r) => r.name),
  };

  // Reads: the trace back, with its observations and scores; lists by user and session.
  const fetched = (await langfuse.fetchTrace(trace.id)).data;
  const resolved = await langfuse.resolveMediaReferences({ obj: fetched.input, resolveWith: "base64DataUri" });
  const observations = (await langfuse.fetchObservations({ traceId: trace.id })).data;
  const observation = (await langfuse.fetchObservation(generation.id)).data;
  const listed = await langfuse.fetchTraces({ userId: "js-user" });
  const sessions = await langfuse.fetchSessions();
  out.read = {
    name: fetched.name, userId: fetched.userId, sessionId: fetched.sessionId, tags: fetched.tags.sort(),
    release: fetched.release, metadata: fetched.metadata, output: fetched.output,
    question: fetched.input.question, photo: resolved.photo,
    scores: fetched.scores.map((s) => [s.name, s.value, s.stringValue ?? null]).sort(),
    observations: observations.map((o) => [o.type, o.name]).sort(),
    generation: [observation.model, observation.promptName ?? null, observation.promptVersion ?? null,
      observation.usage.input, observation.usage.output, observation.modelParameters],
    listed: listed.data.map((t) => t.id), total: listed.meta.totalItems,
    sessions: sessions.data.map((s) => s.id),
  };
  await langfuse.shutdownAsync();
  console.log(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
