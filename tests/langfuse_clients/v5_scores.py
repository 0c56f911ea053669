"""Run with langfuse 5.x on the path: auth_check, a traced generation through the SDK's OTel path,
scores through the SDK's score queue (SDK 5 batches them as a JSON list to POST /api/public/scores),
and the generated API client's batch call, once all valid (202) and once with a bad score (207); then
one score deleted (``api.scores.delete``), and an unknown one.

Prints one JSON line with the ids and replies. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
assert client.auth_check(), "auth_check failed"

with client.start_as_current_observation(as_type="generation", name="llm-call", model="gpt-4o-mini") as gen:
    gen.update(input=[{"role": "user", "content": "2+2?"}], output="4", usage_details={"input": 7, "output": 1})
    gen.score(name="correct", value=1, data_type="BOOLEAN", score_id="score-obs")
    gen.score_trace(name="quality", value=0.9, comment="good", score_id="score-trace")
    trace_id = client.get_current_trace_id()
    observation_id = client.get_current_observation_id()
client.create_score(name="tone", value="friendly", trace_id=trace_id, data_type="CATEGORICAL", score_id="score-cat")
client.flush()

accepted = client.api.scores.create(
    request=[
        {"id": "batch-1", "traceId": trace_id, "name": "batch", "value": 1.5},
        {"id": "batch-2", "traceId": trace_id, "name": "batch", "value": 2.5},
    ]
)
partial = client.api.scores.create(
    request=[
        {"id": "batch-3", "traceId": trace_id, "name": "batch", "value": 3.5},
        {"id": "batch-bad", "traceId": trace_id, "name": "", "value": 1},
    ]
)
# A score given by mistake, deleted (api.scores.delete: 204); an unknown one is not found.
client.api.scores.delete("batch-3")
try:
    client.api.scores.delete("no-such-score")
    unknown = "deleted"
except Exception as exc:  # noqa: BLE001 (the SDK's error class is what is reported)
    unknown = type(exc).__name__
client.shutdown()
print(
    json.dumps(
        {
            "trace_id": trace_id,
            "observation_id": observation_id,
            "accepted": accepted.dict(),
            "partial": partial.dict(),
            "delete_unknown": unknown,
        }
    )
)
