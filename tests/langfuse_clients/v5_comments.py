"""Run with langfuse 5.x on the path: comments through the SDK's API client (create, list by object,
get one) on a trace it just sent.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
with client.start_as_current_observation(as_type="span", name="commented") as span:
    trace_id = client.get_current_trace_id()
client.flush()
project_id = client.api.projects.get().data[0].id
created = client.api.comments.create(
    project_id=project_id,
    object_type="TRACE",
    object_id=trace_id,
    content="Looks wrong: check the retrieval step.",
    author_user_id="reviewer-7",
)
listed = client.api.comments.get(object_type="TRACE", object_id=trace_id)
got = client.api.comments.get_by_id(created.id)
client.shutdown()
print(json.dumps({"trace_id": trace_id, "id": created.id, "listed": [c.dict(by_alias=True) for c in listed.data],
                  "got": got.dict(by_alias=True)}, default=str))  # fmt: skip
