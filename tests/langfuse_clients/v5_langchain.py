"""Run with langfuse 5.x first on the path and this project's langchain-core and langgraph:
Langfuse's LangChain callback handler tracing LangGraph's prebuilt agent (a fake chat model that
asks for a tool, then answers). Langfuse stores LangChain's own values: the graph's input as
(role, text) pairs, its state's messages as LangChain dumps them ({"type": "ai", "tool_calls":
[{"name", "args", "id"}]}).

Prints one JSON line with the trace id. Arguments: host public_key secret_key.
"""

import json
import sys
import warnings
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langfuse import Langfuse
from langfuse.langchain import CallbackHandler
from langgraph.prebuilt import create_react_agent

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)


class FakeChat(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        # As a provider's model binds them: the handler records them among the call's messages.
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools])


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


answers = [
    AIMessage(content="", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}]),
    AIMessage(content="It is sunny in Paris."),
]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # moved to langchain.agents in LangGraph 1.0, still shipped
    agent = create_react_agent(FakeChat(messages=iter(answers)), [weather])
handler = CallbackHandler()
agent.invoke({"messages": [("user", "What is the weather in Paris?")]}, config={"callbacks": [handler]})
trace_id = handler.last_trace_id
client.shutdown()
print(json.dumps({"trace_id": trace_id}))
