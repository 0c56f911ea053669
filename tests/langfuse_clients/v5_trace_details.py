"""Run with langfuse 5.x on the path: a trace whose generation carries what a Langfuse user looks
for beside its messages: model parameters, metadata, a WARNING level with its status message and
a version.

Prints one JSON line with the trace id. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

with client.start_as_current_observation(name="support-agent", as_type="agent", input="refund?") as agent:
    with client.start_as_current_observation(
        as_type="generation",
        name="draft-reply",
        model="gpt-4o-mini",
        model_parameters={"temperature": 0.3, "max_tokens": 200},
        metadata={"ticket": "T-981", "attempt": 2},
        version="reply-v3",
    ) as gen:
        gen.update(
            output="We can refund you.",
            usage_details={"input": 40, "output": 6, "cache_read_input_tokens": 30},
            level="WARNING",
            status_message="rate limited once, retried",
        )
    agent.update(output="refund issued")
    trace_id = client.get_current_trace_id()
client.shutdown()
print(json.dumps({"trace_id": trace_id}))
