"""Run with the langfuse 2.x SDK and LangChain 0.3 alone on the path (.venv/sdk/langchain2): an app
that traces its chains with Langfuse's LangChain handler and imports Langfuse's drop-in OpenAI
client for its direct calls. The drop-in client patches the openai SDK globally, so ChatOpenAI's
call is recorded twice, side by side under the app's observation: the handler's generation with
the usage LangChain read, and the drop-in client's, without usage or answer (langchain-openai 0.3
reads the raw response), its tokens counted by the server from its messages. Against a fake of
the OpenAI API, asked a question of 24 tokens (o200k_base), which with its message's overhead
counts the 31 input tokens the fake answers with, as OpenAI's API counts them.

Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
"""

import json
import sys

from langchain_openai import ChatOpenAI
from langfuse.decorators import langfuse_context, observe
from langfuse.openai import openai  # noqa: F401  (the drop-in client: patches the openai SDK)

host, public_key, secret_key, base_url = sys.argv[1:5]
langfuse_context.configure(public_key=public_key, secret_key=secret_key, host=host)
QUESTION = "What is the weather like in Paris today, and should I take an umbrella when I go out for a long walk?"
ids = {}


@observe()
def app() -> str:
    handler = langfuse_context.get_current_langchain_handler()
    model = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="sk-fake")
    answer = model.invoke(QUESTION, config={"callbacks": [handler]})
    ids["trace_id"] = langfuse_context.get_current_trace_id()
    return str(answer.content)


app()
langfuse_context.flush()
print(json.dumps(ids))
