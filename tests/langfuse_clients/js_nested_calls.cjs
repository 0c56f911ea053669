// Run with node and NODE_PATH set to node_modules holding langfuse 3.x and openai: one model call
// recorded twice through Langfuse's ingestion API, as apps that report a call's usage on their own
// generation and make the call with langfuse's OpenAI wrapper (observeOpenAI) under it do. Against
// a fake of the OpenAI API.
//
// Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
const { Langfuse, observeOpenAI } = require("langfuse");
const OpenAI = require("openai");

const [host, publicKey, secretKey, baseURL] = process.argv.slice(2, 6);

async function main() {
  const langfuse = new Langfuse({ publicKey, secretKey, baseUrl: host });
  const trace = langfuse.trace({ name: "js-nested-call" });
  const generation = trace.generation({ name: "answer", model: "gpt-4o-mini" });
  const openai = observeOpenAI(new OpenAI({ baseURL, apiKey: "sk-fake" }), { parent: generation });
  const reply = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Weather in Paris?" }],
  });
  generation.end({
    output: reply.choices[0].message,
    usage: { input: reply.usage.prompt_tokens, output: reply.usage.completion_tokens },
  });
  await openai.flushAsync();
  await langfuse.shutdownAsync();
  console.log(JSON.stringify({ trace_id: trace.id }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
