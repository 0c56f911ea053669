"""Run with langfuse 5.x on the path: three traces with a score each, then deleted through the
SDK's API client, one with ``api.trace.delete`` and two with ``api.trace.delete_multiple``; each
read again afterwards (SDK 5 reads observations, not traces: ``api.observations.get_many``).

Prints one JSON line: the ids, the delete replies and how many observations each trace has after.
Arguments: host public_key secret_key.
"""

import json
import sys
import time

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
ids = []
for i in range(3):
    with client.start_as_current_observation(name=f"to-delete-{i}", as_type="span", input=f"secret {i}") as root:
        root.score_trace(name="quality", value=0.5)
        ids.append(client.get_current_trace_id())
with client.start_as_current_observation(name="to-keep", as_type="span", input="kept") as root:
    kept = client.get_current_trace_id()
client.flush()


def observations(trace_id: str) -> int:
    return len(client.api.observations.get_many(trace_id=trace_id, limit=50).data)


for trace_id in [*ids, kept]:  # each readable before it is deleted
    for _ in range(100):
        if observations(trace_id):
            break
        time.sleep(0.1)
one = client.api.trace.delete(ids[0])
many = client.api.trace.delete_multiple(trace_ids=ids[1:])
after = {trace_id: observations(trace_id) for trace_id in [*ids, kept]}
client.shutdown()
print(json.dumps({"ids": ids, "kept": kept, "one": one.dict(), "many": many.dict(), "after": after}))
