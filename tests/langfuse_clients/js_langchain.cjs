// Run with node and NODE_PATH set to the node_modules of Langfuse's LangChain handler for JavaScript
// (npm: langfuse-langchain 3.x) with LangChain.js 0.3 and LangGraph.js: LangGraph's prebuilt agent
// with a tool, its model LangChain's OpenAI chat model pointed at a fake of the OpenAI API (which
// asks for the tool, then answers). The handler sends a model call's messages as
// {role, content, additional_kwargs}: the assistant's tool calls in OpenAI's shape inside
// additional_kwargs beside an empty text, and the tool's result with the tool's name as its role.
//
// Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
const { CallbackHandler } = require("langfuse-langchain");
const { ChatOpenAI } = require("@langchain/openai");
const { tool } = require("@langchain/core/tools");
const { createReactAgent } = require("@langchain/langgraph/prebuilt");
const { z } = require("zod");

const [host, publicKey, secretKey, baseURL] = process.argv.slice(2, 6);

async function main() {
  const handler = new CallbackHandler({ publicKey, secretKey, baseUrl: host, sessionId: "js-langgraph" });
  const weather = tool(async ({ city }) => `sunny in ${city}`, {
    name: "weather",
    description: "The weather in a city.",
    schema: z.object({ city: z.string() }),
  });
  const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "sk-fake", configuration: { baseURL } });
  const agent = createReactAgent({ llm: model, tools: [weather] });
  await agent.invoke({ messages: [{ role: "user", content: "What is the weather in Paris?" }] }, { callbacks: [handler] });
  const traceId = handler.getTraceId();
  await handler.shutdownAsync();
  console.log(JSON.stringify({ trace_id: traceId }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
