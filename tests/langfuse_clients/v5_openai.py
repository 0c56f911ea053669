"""Run with langfuse 5.x first on the path and this project's openai: Langfuse's drop-in OpenAI
client (``langfuse.openai``) calling a fake of the OpenAI API with a tool on offer. Langfuse
records the request as it went: ``{"tools": [...], "messages": [...]}``.

Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.openai import OpenAI

host, public_key, secret_key, base_url = sys.argv[1:5]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
weather = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
openai = OpenAI(base_url=base_url, api_key="sk-fake")
with client.start_as_current_observation(name="weather-question", as_type="span") as root:
    openai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        tools=[weather],
        name="ask-with-tools",
    )
    trace_id = client.get_current_trace_id()
client.shutdown()
print(json.dumps({"trace_id": trace_id}))
