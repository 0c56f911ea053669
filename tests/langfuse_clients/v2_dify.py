"""Run with langfuse 2.x on the path (what Dify <= 1.12 ships): the calls Dify's provider makes.

Prints one JSON line with the ids it created. Arguments: host public_key secret_key.
"""

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host, flush_at=15, flush_interval=0.5)
assert client.auth_check(), "auth_check failed"

trace_id = str(uuid.uuid4())
start = datetime.now(UTC) - timedelta(seconds=5)
trace = client.trace(
    id=trace_id,
    name="message",
    user_id="end-user-7",
    session_id="conversation-42",
    tags=["message", "chat"],
    metadata={"app_id": "app-1", "nested": {"a": 1}},
    input={"message": "What is the weather?"},
    version="1.0",
)
workflow = trace.span(id=str(uuid.uuid4()), name="workflow", start_time=start, input={"query": "weather"})
generation = workflow.generation(
    id=str(uuid.uuid4()),
    name="LLM",
    model="gpt-4o",
    start_time=start + timedelta(milliseconds=100),
    input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
    usage={"input": 120, "output": 30, "total": 150, "unit": "TOKENS"},
    model_parameters={"temperature": 0.2, "max_tokens": 512},
    metadata={"node_type": "llm"},
)
generation.end(output={"text": "Sunny."}, end_time=start + timedelta(milliseconds=900))
workflow.end(output={"answer": "Sunny."}, end_time=start + timedelta(seconds=1))
trace.update(output=[{"role": "assistant", "content": "Sunny."}], metadata={"nested": {"b": 2}}, tags=["extra"])
trace.score(name="user-feedback", value=1.0, comment="thumbs up")
client.score(trace_id=trace_id, observation_id=generation.id, name="correct", value="yes", data_type="CATEGORICAL")
client.flush()

# The read API, through the SDK's own typed models (they require latency and totalCost as floats).
fetched = client.fetch_trace(trace_id).data
listed = client.fetch_traces(user_id="end-user-7").data
observations = client.fetch_observations(trace_id=trace_id).data
print(
    json.dumps(
        {
            "trace_id": trace_id,
            "workflow_id": workflow.id,
            "generation_id": generation.id,
            "fetched": {
                "name": fetched.name,
                "latency": fetched.latency,
                "total_cost": fetched.total_cost,
                "observations": sorted(o.id for o in fetched.observations),
                "scores": len(fetched.scores),
                "tags": fetched.tags,
                "session_id": fetched.session_id,
            },
            "listed": [t.id for t in listed],
            "observation_types": sorted(o.type for o in observations),
        }
    )
)
