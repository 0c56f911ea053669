"""Run with langfuse 4.x or 5.x first on the path and this project's openai: Langfuse's drop-in
OpenAI client (``langfuse.openai``) asking the fake OpenAI API with a ``prompt_cache_key``, once
through chat completions and once through responses, so that the usage it records has OpenAI's
cached and reasoning tokens (the integration sends OpenAI's usage as it came).

Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.openai import OpenAI

host, public_key, secret_key, base_url = sys.argv[1:5]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
openai = OpenAI(base_url=base_url, api_key="sk-fake")
with client.start_as_current_observation(name="cached-question", as_type="span"):
    openai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        prompt_cache_key="weather",
        name="chat-cached",
    )
    openai.responses.create(
        model="gpt-4o-mini", input="Weather in Paris?", prompt_cache_key="weather", name="response-cached"
    )
    trace_id = client.get_current_trace_id()
client.shutdown()
print(json.dumps({"trace_id": trace_id}))
