"""Run with langfuse 4.x on the path: three traces written through the SDK (a checkout with a slow,
costly generation that warns, and scores; a search, scored low; a refund that fails), then the
SDK's API client lists traces, and scores, with Langfuse's ``filter`` (JSON conditions), one case
at a time.

Prints one JSON line: the trace names (and scores) each case found. Arguments: host public_key secret_key.
"""

import json
import sys
import time

from filter_conditions import SINCE, cond
from langfuse import Langfuse, propagate_attributes
from langfuse.api.core.api_error import ApiError

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
api = client.api

with (
    client.start_as_current_observation(as_type="agent", name="checkout", input="buy the blue one") as root,
    propagate_attributes(trace_name="checkout", user_id="u-7", tags=["prod", "beta"], version="v2",
                         metadata={"tier": "gold"}),
):  # fmt: skip
    with client.start_as_current_observation(as_type="generation", name="draft", model="gpt-4o") as gen:
        time.sleep(0.05)
        gen.update(
            output="Here is how.",
            usage_details={"input": 120, "output": 30},
            cost_details={"input": 0.002, "output": 0.004},
            level="WARNING",
        )
    root.score_trace(name="quality", value=0.9, metadata={"reviewer": "ann"})
    root.score_trace(name="tone", value="friendly", data_type="CATEGORICAL")
    root.score_trace(name="correct", value=1, data_type="BOOLEAN")
with (
    client.start_as_current_observation(as_type="retriever", name="search", input="blue shoes") as root,
    propagate_attributes(trace_name="search", tags=["dev"]),
):
    root.score_trace(name="quality", value=0.2)
    root.score_trace(name="correct", value=0, data_type="BOOLEAN")
with (
    client.start_as_current_observation(as_type="span", name="refund"),
    propagate_attributes(trace_name="refund"),
    client.start_as_current_observation(as_type="tool", name="bank") as tool,
):
    tool.update(level="ERROR", status_message="declined")
client.flush()

cases = {
    "name": [cond("string", "name", "=", "checkout")],
    "name contains": [cond("string", "name", "contains", "EAR")],
    "user": [cond("string", "userId", "=", "u-7")],
    "tags any of": [cond("arrayOptions", "tags", "any of", ["prod", "dev"])],
    "tags all of": [cond("arrayOptions", "tags", "all of", ["prod", "beta"])],
    "tags none of": [cond("arrayOptions", "tags", "none of", ["prod"])],
    "since": [cond("datetime", "timestamp", ">=", SINCE)],
    "latency": [cond("number", "latency", ">=", 0.04)],
    "total cost": [cond("number", "totalCost", ">=", 0.005)],
    "input tokens": [cond("number", "inputTokens", ">", 100)],
    "output cost": [cond("number", "outputCost", ">", 0.003)],
    "metadata": [cond("stringObject", "metadata", "=", "gold", key="tier")],
    "version": [cond("string", "version", "=", "v2")],
    "level error": [cond("string", "level", "=", "ERROR")],
    "level any of": [cond("stringOptions", "level", "any of", ["WARNING", "ERROR"])],
    "error count": [cond("number", "errorCount", ">=", 1)],
    "warning count": [cond("number", "warningCount", "=", 1)],
    "quality score": [cond("numberObject", "scores_avg", ">=", 0.5, key="quality")],
    "any numeric score": [cond("number", "scores", ">=", 0.1)],
    "tone": [cond("categoryOptions", "score_categories", "any of", ["friendly"], key="tone")],
    "correct": [cond("booleanObject", "score_booleans", "=", True, key="correct")],
    "not correct": [cond("booleanObject", "score_booleans", "<>", True, key="correct")],
    "not bookmarked": [cond("boolean", "bookmarked", "=", False)],
    "low quality of two": [
        cond("stringOptions", "name", "any of", ["checkout", "search"]),
        cond("numberObject", "scores_avg", "<", 0.5, key="quality"),
    ],
    "none": [cond("string", "name", "=", "nope")],
}
deadline = time.time() + 30
while time.time() < deadline:  # until the three traces and their five scores are readable
    listed = api.trace.list(limit=10).data
    if len(listed) >= 3 and sum(len(t.scores) for t in listed) >= 5:
        break
    time.sleep(0.3)
found = {}
for case, conditions in cases.items():
    page = api.trace.list(limit=50, fields="core", filter=json.dumps(conditions))
    found[case] = sorted(t.name for t in page.data)
total = api.trace.list(limit=1, filter=json.dumps(cases["tags any of"])).meta.total_items
score_cases = {
    "named quality": [cond("string", "name", "=", "quality")],
    "numeric over a half": [
        cond("stringOptions", "dataType", "any of", ["NUMERIC"]),
        cond("number", "value", ">=", 0.5),
    ],
    "of prod traces": [cond("arrayOptions", "traceTags", "all of", ["prod"])],
    "reviewed by ann": [cond("stringObject", "metadata", "=", "ann", key="reviewer")],
    "with a reviewer": [cond("stringObject", "metadata", "contains", "", key="reviewer")],
}
scores = {}
for case, conditions in score_cases.items():
    listed = api.scores.get_many(limit=50, filter=json.dumps(conditions)).data
    scores[case] = sorted(f"{s.name}:{s.value}" for s in listed)
errors = {}
for case, conditions in {
    "unknown column": [cond("string", "nope", "=", "x")],
    "wrong type": [cond("string", "latency", "=", "slow")],
    "score without its name": [cond("booleanObject", "score_booleans", "=", True)],
}.items():
    try:
        api.trace.list(filter=json.dumps(conditions))
        errors[case] = "answered"
    except ApiError as exc:  # the SDK's error for a 400
        errors[case] = [exc.status_code, str(exc.body)[:200]]
client.shutdown()
print(json.dumps({"found": found, "total": total, "scores": scores, "errors": errors}))
