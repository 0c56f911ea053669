"""Run with langfuse 5.x first on the path and this project's langchain-openai, openai and
OpenInference's OpenAI instrumentation: one model call recorded twice, as apps that combine a
wrapper with a provider's instrumentation do. OpenInference instruments the openai SDK on the
tracer provider Langfuse sets; then, against a fake of the OpenAI API:

- "langchain-call": Langfuse's LangChain handler around ChatOpenAI, asked with a prompt cache key
  (the answer reads 16 of its 31 input tokens from OpenAI's cache);
- "wrapper-call": Langfuse's drop-in OpenAI client (``langfuse.openai``), its generation named
  "wrapped-ask";
- "streamed-langchain-call" and "streamed-wrapper-call": the same two streamed without usage
  (``stream_usage=False``, ``stream=True``), so that no record has the call's usage and each
  is counted by the server from its messages.

Each trace has the wrapper's generation and, inside it or beside it, the instrumentation's span
of the same call, both with its usage. Prints one JSON line with the four trace ids. Arguments:
host public_key secret_key openai_base_url.
"""

import json
import sys

from langchain_openai import ChatOpenAI
from langfuse import Langfuse
from langfuse.langchain import CallbackHandler
from langfuse.openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor

host, public_key, secret_key, base_url = sys.argv[1:5]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
OpenAIInstrumentor().instrument()  # on the global tracer provider: Langfuse's

ids = {}
with client.start_as_current_observation(name="langchain-call", as_type="span"):
    model = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="sk-fake", prompt_cache_key="weather")
    model.invoke("Weather in Paris?", config={"callbacks": [CallbackHandler()]})
    ids["langchain"] = client.get_current_trace_id()

with client.start_as_current_observation(name="wrapper-call", as_type="span"):
    OpenAI(base_url=base_url, api_key="sk-fake").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], name="wrapped-ask"
    )
    ids["wrapper"] = client.get_current_trace_id()

with client.start_as_current_observation(name="streamed-langchain-call", as_type="span"):
    model = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="sk-fake", streaming=True, stream_usage=False)
    model.invoke("Weather in Paris?", config={"callbacks": [CallbackHandler()]})
    ids["streamed-langchain"] = client.get_current_trace_id()

with client.start_as_current_observation(name="streamed-wrapper-call", as_type="span"):
    stream = OpenAI(base_url=base_url, api_key="sk-fake").chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        name="streamed-ask",
        stream=True,
    )
    for _chunk in stream:
        pass
    ids["streamed-wrapper"] = client.get_current_trace_id()

client.shutdown()
print(json.dumps(ids))
