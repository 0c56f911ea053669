"""Run with langfuse 5.x on the path: two traces, one made public by the SDK
(``set_trace_as_public``), with a score, and one not.

Prints one JSON line with their ids. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

with client.start_as_current_observation(name="shared-answer", as_type="agent", input="why is the sky blue?") as root:
    root.set_trace_as_public()
    with client.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o-mini") as gen:
        gen.update(output="Rayleigh scattering.", usage_details={"input": 8, "output": 3})
    root.score_trace(name="helpful", value=1.0, score_id="public-score")
    public_id = client.get_current_trace_id()
with client.start_as_current_observation(name="private-answer", as_type="span", input="secret plan") as root:
    private_id = client.get_current_trace_id()
client.shutdown()
print(json.dumps({"public": public_id, "private": private_id}))
