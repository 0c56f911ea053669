"""Run with langfuse 4.x on the path: traces whose input and output are set for the trace apart
from its observations' (``set_current_trace_io`` from a child, ``set_trace_io`` on the root), and
one whose root has no input of its own; then read back with the SDK's API client.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys
import time
import warnings

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
api = client.api
warnings.simplefilter("ignore", DeprecationWarning)  # trace-level io is deprecated, and still used

sent = {
    "root_input": {"args": ["What is the capital of France?"], "kwargs": {}},
    "root_output": {"result": "Paris", "steps": 2},
    "child_input": {"query": "capital France"},
    "trace_input": "What is the capital of France?",
    "trace_output": {"answer": "Paris"},
    "only_trace_input": [{"role": "user", "content": "Hello"}],
}
with client.start_as_current_observation(as_type="span", name="agent", input=sent["root_input"]) as root:
    with client.start_as_current_observation(as_type="retriever", name="retrieve", input=sent["child_input"]):
        client.set_current_trace_io(input=sent["trace_input"])  # from the child: the trace's, not the child's
    root.update(output=sent["root_output"])
    root.set_trace_io(output=sent["trace_output"])
    trace_id = client.get_current_trace_id()
with client.start_as_current_observation(as_type="span", name="bare") as bare:
    bare.set_trace_io(input=sent["only_trace_input"])
    bare_trace_id = client.get_current_trace_id()
client.flush()


def as_dict(model):
    return model.dict(by_alias=True) if hasattr(model, "dict") else dict(model)


deadline = time.time() + 30
listed = []
while time.time() < deadline:
    listed = [as_dict(t) for t in api.trace.list(limit=10).data if t.id in (trace_id, bare_trace_id)]
    if len(listed) == 2 and all(t["output"] is not None or t["id"] == bare_trace_id for t in listed):
        break
    time.sleep(0.3)
one = as_dict(api.trace.get(trace_id))
bare_one = as_dict(api.trace.get(bare_trace_id))
observations = {
    o["name"]: {"input": o["input"], "output": o["output"]}
    for o in (as_dict(o) for o in api.observations.get_many(trace_id=trace_id, fields="core,basic,io", limit=10).data)
}
client.shutdown()
print(
    json.dumps(
        {
            "sent": sent,
            "trace_id": trace_id,
            "bare_trace_id": bare_trace_id,
            "listed": {t["id"]: {"input": t["input"], "output": t["output"]} for t in listed},
            "one": {"input": one["input"], "output": one["output"]},
            "one_observations": {o["name"]: {"input": o["input"], "output": o["output"]} for o in one["observations"]},
            "bare": {"input": bare_one["input"], "output": bare_one["output"]},
            "observations": observations,
        },
        default=str,
    )
)
