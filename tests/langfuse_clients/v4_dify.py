"""Run with langfuse 4.x on the path (what Dify uses now): auth_check, projects.get, and one
synchronous ingestion.batch call per entity, as Dify's provider does; then the SDK's own OTel
tracing with @observe and start_as_current_observation.

Prints one JSON line with the ids. Arguments: host public_key secret_key.
"""

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

from langfuse import Langfuse, observe, propagate_attributes
from langfuse.api import (
    CreateGenerationBody,
    CreateSpanBody,
    IngestionEvent_GenerationCreate,
    IngestionEvent_SpanCreate,
    IngestionEvent_TraceCreate,
    TraceBody,
    Usage,
)

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
assert client.auth_check(), "auth_check failed"
project_id = client.api.projects.get().data[0].id

now = datetime.now(UTC)
trace_id = str(uuid.uuid4())
workflow_id = str(uuid.uuid4())
node_id = str(uuid.uuid4())


def send(event):  # one event per request, as Dify does
    client.api.ingestion.batch(batch=[event])


send(
    IngestionEvent_TraceCreate(
        id=str(uuid.uuid4()),
        timestamp=now.isoformat(),
        body=TraceBody(
            id=trace_id,
            name="workflow",
            user_id="user-9",
            session_id=None,
            tags=["workflow"],
            input={"query": "hi"},
            output={"answer": "hello"},
            metadata={"workflow_id": "wf-1"},
            version="3",
        ),
    )
)
send(
    IngestionEvent_SpanCreate(
        id=str(uuid.uuid4()),
        timestamp=now.isoformat(),
        body=CreateSpanBody(
            id=workflow_id,
            trace_id=trace_id,
            name="start",
            start_time=now - timedelta(seconds=2),
            end_time=now - timedelta(seconds=1),
            input={"query": "hi"},
            output={"query": "hi"},
        ),
    )
)
send(
    IngestionEvent_GenerationCreate(
        id=str(uuid.uuid4()),
        timestamp=now.isoformat(),
        body=CreateGenerationBody(
            id=node_id,
            trace_id=trace_id,
            name="LLM",
            model="gpt-4o-mini",
            start_time=now - timedelta(seconds=1),
            end_time=now,
            input=[{"role": "user", "content": "hi"}],
            output={"text": "hello"},
            usage=Usage(input=40, output=8, total=48, unit="TOKENS"),
            level="DEFAULT",
            status_message="",
        ),
    )
)


otel: dict[str, str] = {}


@observe(name="answer-question")
def answer(question: str) -> str:
    with (
        propagate_attributes(user_id="otel-user", session_id="otel-session", tags=["sdk-v4"]),
        client.start_as_current_observation(as_type="generation", name="llm-call", model="gpt-4o") as gen,
    ):
        gen.update(
            input=[{"role": "user", "content": question}], output="Paris", usage_details={"input": 11, "output": 2}
        )
    otel["trace_id"] = client.get_current_trace_id()
    return "Paris"


answer("Capital of France?")
client.flush()
client.shutdown()
print(
    json.dumps({"project_id": project_id, "trace_id": trace_id, "node_id": node_id, "otel_trace_id": otel["trace_id"]})
)
