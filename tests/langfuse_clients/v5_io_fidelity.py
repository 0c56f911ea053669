"""Run with langfuse 5.x on the path: inputs and outputs as applications send them (OpenAI-style chat
messages with content blocks, a tool call, provider-specific keys, a request body), read back through
the SDK's API client's v2 observation list with ``io`` (SDK 5 reads no trace by id).

Prints one JSON line: what was sent and what came back. Arguments: host public_key secret_key.
"""

import json
import sys
import time

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

sent = {
    "root_input": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "temperature": 0.2},
    "root_output": {"answer": "Sunny", "sources": ["meteo"]},
    "input": [
        {"role": "system", "content": "Be brief.", "name": "house-rules"},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?",
                                      "cache_control": {"type": "ephemeral"}}]},
    ],
    "output": {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"id": "call-1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
}  # fmt: skip
with client.start_as_current_observation(as_type="span", name="agent", input=sent["root_input"]) as root:
    with client.start_as_current_observation(as_type="generation", name="chat", model="gpt-4o-mini") as gen:
        gen.update(input=sent["input"], output=sent["output"])
        root.update(output=sent["root_output"])
    trace_id = client.get_current_trace_id()
client.flush()


def as_dict(o):
    return o.dict() if hasattr(o, "dict") else dict(o)


deadline = time.time() + 30
observations = []
while time.time() < deadline:
    page = client.api.observations.get_many(trace_id=trace_id, fields="core,basic,io", limit=10)
    observations = [as_dict(o) for o in page.data]
    if len(observations) == 2 and all(o["output"] is not None for o in observations):
        break
    time.sleep(0.3)
print(json.dumps({
    "sent": sent,
    "trace_id": trace_id,
    "v2": {o["name"]: {"input": o["input"], "output": o["output"]} for o in observations},
}))  # fmt: skip
client.shutdown()
