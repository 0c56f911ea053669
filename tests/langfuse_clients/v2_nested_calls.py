"""Run with langfuse 2.x first on the path and this project's openai: one model call recorded
twice through Langfuse's ingestion API, as 2.x apps that report a call's usage on their own
generation and make the call with Langfuse's drop-in OpenAI client do. Against a fake of the
OpenAI API:

- "together": ``@observe(as_type="generation")`` around the drop-in client's call, the
  function's generation updated with the call's model and usage; both records sent in one flush;
- "apart": the same with a flush between the call and the update, so that the call's record is
  stored before its wrapper's usage comes;
- "streamed": the drop-in client's call streamed without usage (its record's tokens counted by
  the server from its messages), the function's generation updated with the usage the app counted
  (12 in, 9 out); both in one flush;
- "streamed_apart": the same with a flush between the call and the update, so that the call's
  estimate is stored before the report comes.

Prints one JSON line with the four trace ids. Arguments: host public_key secret_key openai_base_url.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.decorators import langfuse_context, observe
from langfuse.openai import openai  # the drop-in client: patches the openai SDK

host, public_key, secret_key, base_url = sys.argv[1:5]
langfuse_context.configure(public_key=public_key, secret_key=secret_key, host=host)
client = openai.OpenAI(base_url=base_url, api_key="sk-fake")


@observe(as_type="generation")
def answer(question: str, flush_between: bool) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    if flush_between:
        langfuse_context.flush()
    usage = {"input": reply.usage.prompt_tokens, "output": reply.usage.completion_tokens}
    langfuse_context.update_current_observation(model="gpt-4o-mini", usage=usage)
    return reply.choices[0].message.content or ""


@observe(as_type="generation")
def streamed_answer(question: str, flush_between: bool) -> str:
    chunks = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    if flush_between:
        langfuse_context.flush()
    langfuse_context.update_current_observation(model="gpt-4o-mini", usage={"input": 12, "output": 9})
    return text


ids = {}


@observe()
def app(name: str, flush_between: bool) -> None:
    langfuse_context.update_current_trace(name=name)
    if name.startswith("streamed"):
        streamed_answer("Weather in Paris?", name == "streamed_apart")
    else:
        answer("Weather in Paris?", flush_between)
    ids[name] = langfuse_context.get_current_trace_id()


app("together", False)
app("apart", True)
app("streamed", False)
app("streamed_apart", False)
langfuse_context.flush()
Langfuse(public_key=public_key, secret_key=secret_key, host=host).shutdown()
print(json.dumps(ids))
