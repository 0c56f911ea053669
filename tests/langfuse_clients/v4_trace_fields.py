"""Run with langfuse 4.x on the path: a trace with input, output, an observation and a score, then
read back with the SDK's API client, whole and with Langfuse's field groups (``fields``).

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys
import time

from langfuse import Langfuse, propagate_attributes

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
api = client.api

with (
    client.start_as_current_observation(as_type="span", name="ask", input={"q": "capital of France?"}) as root,
    propagate_attributes(trace_name="qa", user_id="u-1", tags=["geo"]),
):
    with client.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o-mini") as gen:
        gen.update(output="Paris", usage_details={"input": 9, "output": 1})
    root.update(output={"answer": "Paris"}, metadata={"team": "geo"})
    trace_id = client.get_current_trace_id()
client.create_score(trace_id=trace_id, name="correct", value=1, score_id="fields-score")
client.flush()


def as_dict(model):
    return model.dict(by_alias=True) if hasattr(model, "dict") else dict(model)


deadline = time.time() + 30
whole = []
while time.time() < deadline:
    whole = [as_dict(t) for t in api.trace.list(limit=10).data if t.id == trace_id]
    if whole and whole[0]["scores"] and whole[0]["output"]:
        break
    time.sleep(0.3)
core = [as_dict(t) for t in api.trace.list(limit=10, fields="core").data if t.id == trace_id]
core_io = [as_dict(t) for t in api.trace.list(limit=10, fields="core,io,scores").data if t.id == trace_id]
one_core = as_dict(api.trace.get(trace_id, fields="core,metrics"))
one_whole = as_dict(api.trace.get(trace_id))
# The score list's filters by the trace's user and tags and by value, as the SDK sends them.
scores_of_user = [s.id for s in api.scores.get_many(user_id="u-1", trace_tags=["geo"], operator=">=", value=1).data]
scores_of_other = [s.id for s in api.scores.get_many(user_id="u-2").data]
scores_below = [s.id for s in api.scores.get_many(trace_id=trace_id, operator="<", value=1).data]
score_by_id = as_dict(api.scores.get_by_id("fields-score"))
client.shutdown()
print(
    json.dumps(
        {
            "trace_id": trace_id,
            "whole": whole,
            "core": core,
            "core_io": core_io,
            "one_core": one_core,
            "one_whole": one_whole,
            "scores_of_user": scores_of_user,
            "scores_of_other": scores_of_other,
            "scores_below": scores_below,
            "score_by_id": score_by_id,
        },
        default=str,
    )
)
