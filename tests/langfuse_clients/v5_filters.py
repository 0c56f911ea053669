"""Run with langfuse 5.x on the path: two traces written through the SDK (a checkout with a slow,
costly generation that warns, and a search), then SDK 5's own API client asks v2 observations
with Langfuse's ``filter`` (JSON conditions), one case at a time.

Prints one JSON line: the observation names each case found. Arguments: host public_key secret_key.
"""

import json
import sys
import time

from filter_conditions import SINCE, cond
from langfuse import Langfuse, propagate_attributes
from langfuse.api.core.api_error import ApiError

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

with client.start_as_current_observation(name="checkout", as_type="agent", input="buy the blue one") as agent:
    with propagate_attributes(trace_name="checkout", user_id="u-7", tags=["prod", "beta"]):
        with client.start_as_current_observation(
            as_type="generation", name="draft", model="gpt-4o", metadata={"tier": "gold", "retries": 3}
        ) as gen:
            time.sleep(0.05)
            gen.update(
                input=[{"role": "user", "content": "退货怎么办？"}],
                output="Here is how to return it.",
                usage_details={"input": 120, "output": 30},
                cost_details={"input": 0.002, "output": 0.004},
                level="WARNING",
                status_message="retried once",
            )
        with client.start_as_current_observation(name="pay", as_type="tool", metadata={"tier": "silver"}):
            pass
    checkout = client.get_current_trace_id()
with client.start_as_current_observation(name="search", as_type="retriever", input="blue shoes"):
    with propagate_attributes(trace_name="search", tags=["dev"]):
        pass
    search = client.get_current_trace_id()
client.flush()

cases = {
    "generations": [cond("string", "type", "=", "GENERATION")],
    "type any of": [cond("stringOptions", "type", "any of", ["TOOL", "RETRIEVER"])],
    "name starts with": [cond("string", "name", "starts with", "dra")],
    "latency >= 0.04 s": [cond("number", "latency", ">=", 0.04)],
    "input tokens > 100": [cond("number", "inputTokens", ">", 100)],
    "total cost >= 0.005": [cond("number", "totalCost", ">=", 0.005)],
    "output cost > 0.003": [cond("number", "outputCost", ">", 0.003)],
    "metadata tier = gold": [cond("stringObject", "metadata", "=", "gold", key="tier")],
    "metadata retries > 2": [cond("numberObject", "metadata", ">", 2, key="retries")],
    "metadata tier is set": [cond("stringObject", "metadata", "is set", "", key="tier")],
    "metadata tier any of": [cond("categoryOptions", "metadata", "any of", ["silver"], key="tier")],
    "level warning": [cond("string", "level", "=", "WARNING")],
    "status message contains": [cond("string", "statusMessage", "contains", "RETRIED")],
    "input matches 退货": [cond("string", "input", "matches", "退货")],
    "model": [cond("string", "model", "=", "gpt-4o")],
    "trace tags all of": [cond("arrayOptions", "traceTags", "all of", ["prod", "beta"])],
    "tags none of prod": [cond("arrayOptions", "tags", "none of", ["prod"])],
    "trace name": [cond("string", "traceName", "=", "search")],
    "roots": [cond("boolean", "isRootObservation", "=", True)],
    "user": [cond("string", "userId", "=", "u-7")],
    "two conditions": [
        cond("string", "traceId", "=", checkout),
        cond("datetime", "startTime", ">=", SINCE),
        cond("null", "model", "is not null"),
    ],
    "none": [cond("string", "name", "=", "no-such-observation")],
}
expected_all = 4
deadline = time.time() + 30
while time.time() < deadline:  # until all five are readable
    if len(client.api.observations.get_many(limit=50).data) >= expected_all:
        break
    time.sleep(0.3)
found = {}
for case, conditions in cases.items():
    page = client.api.observations.get_many(fields="core,basic", limit=50, filter=json.dumps(conditions))
    found[case] = sorted(o.name for o in page.data)
errors = {}
for case, conditions in {
    "unknown column": [cond("string", "nope", "=", "x")],
    "wrong operator": [cond("number", "latency", "contains", 1)],
    "not json": "[{",
}.items():
    try:
        client.api.observations.get_many(filter=conditions if isinstance(conditions, str) else json.dumps(conditions))
        errors[case] = "answered"
    except ApiError as exc:  # the SDK's error for a 400
        errors[case] = [getattr(exc, "status_code", None), str(getattr(exc, "body", exc))[:200]]
client.shutdown()
print(json.dumps({"checkout": checkout, "search": search, "found": found, "errors": errors}))
