// Run with node and NODE_PATH set to the node_modules of Langfuse's LangChain handler for JavaScript
// (it brings langfuse 3.x and openai): langfuse's OpenAI wrapper (observeOpenAI) streaming a call
// with a tool on offer from a fake of the OpenAI API, which asks for the tool. The wrapper records
// the streamed answer as its tool calls alone: {"tool_calls": [{"function": {name, arguments}}]}.
//
// Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
const { Langfuse, observeOpenAI } = require("langfuse");
const OpenAI = require("openai");

const [host, publicKey, secretKey, baseURL] = process.argv.slice(2, 6);

async function main() {
  const langfuse = new Langfuse({ publicKey, secretKey, baseUrl: host });
  const trace = langfuse.trace({ name: "streamed-tool-call" });
  const openai = observeOpenAI(new OpenAI({ baseURL, apiKey: "sk-fake" }), { parent: trace, generationName: "ask" });
  const weather = { type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
  const stream = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [weather],
    stream: true,
  });
  for await (const _ of stream) {
    // read to the end: the wrapper records the call once the stream is done
  }
  await openai.flushAsync();
  await langfuse.shutdownAsync();
  console.log(JSON.stringify({ trace_id: trace.id }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
