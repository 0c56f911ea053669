"""Run with LiteLLM and langfuse 4.x on the path (./dev test installs them in .venv/sdk/litellm),
against a fake of the OpenAI API: LiteLLM's Langfuse callback, as LiteLLM's guide sets it up (mode
"langfuse": through the langfuse SDK; "langfuse_otel": LiteLLM's own OpenTelemetry export to
Langfuse's endpoint). Four calls named "<mode>-<call>": one answered, one streamed, one offered a
tool (which it calls), one that fails (nothing listens where it is sent), each with the trace's
name, session, user and tags in LiteLLM's metadata.

Prints one JSON line with the answers. Arguments: host public_key secret_key openai_base_url mode.
"""

import json
import os
import sys

host, public_key, secret_key, base_url, mode = sys.argv[1:6]
os.environ.update(LANGFUSE_PUBLIC_KEY=public_key, LANGFUSE_SECRET_KEY=secret_key, LANGFUSE_HOST=host)
os.environ["LANGFUSE_OTEL_HOST"] = host
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # its price list as installed, not fetched at import

import litellm  # noqa: E402

litellm.callbacks = [mode]
metadata = {
    "trace_name": f"litellm-{mode}",
    "session_id": f"session-{mode}",
    "trace_user_id": "lite-user",
    "tags": ["lite"],
}
ask = [{"role": "user", "content": "Weather in Paris?"}]
tools = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def call(name: str, **kwargs: object) -> object:
    meta = {**metadata, "generation_name": f"{mode}-{name}"}
    options = {"model": "openai/gpt-4o-mini", "api_base": base_url, "api_key": "sk-fake", "messages": ask, **kwargs}
    return litellm.completion(metadata=meta, **options)


answered = call("answer").choices[0].message.content
streamed = "".join(chunk.choices[0].delta.content or "" for chunk in call("stream", stream=True))
called = call("tools", tools=tools).choices[0].message.tool_calls[0].function.name
try:
    call("fail", api_base="http://127.0.0.1:9/v1", num_retries=0)
    failed = "no"
except Exception as e:  # noqa: BLE001 - the failure is the point
    failed = type(e).__name__
# Both export in batches, flushed as the process exits.
print(json.dumps({"answers": [answered, streamed, called, failed]}))
