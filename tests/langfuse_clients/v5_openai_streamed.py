"""Run with langfuse 5.x first on the path and this project's openai: Langfuse's drop-in OpenAI
client (``langfuse.openai``) streaming an answer from a fake of the OpenAI API, as most chat apps
do: without ``stream_options``, so the API reports no usage (the generation carries none).

Prints one JSON line with the trace id. Arguments: host public_key secret_key openai_base_url.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.openai import OpenAI

host, public_key, secret_key, base_url = sys.argv[1:5]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
openai = OpenAI(base_url=base_url, api_key="sk-fake")
with client.start_as_current_observation(name="chat-turn", as_type="span"):
    stream = openai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
        stream=True,
        name="streamed-answer",
    )
    answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    trace_id = client.get_current_trace_id()
client.shutdown()
print(json.dumps({"trace_id": trace_id, "answer": answer}))
