"""Run with langfuse 4.x on the path: three traces of two names and two users, then Langfuse's v1
metrics query (``GET /api/public/metrics``, which has the traces view) through SDK 4's
legacy client (``api.legacy.metrics_v1``).

Prints one JSON line. Arguments: host public_key secret_key.
"""

import datetime as dt
import json
import sys
import time

from langfuse import Langfuse, propagate_attributes

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

for name, user, tokens in (("chat", "ann", 100), ("chat", "bob", 300), ("search", "ann", 50)):
    with (
        client.start_as_current_observation(as_type="span", name=name),
        propagate_attributes(trace_name=name, user_id=user),
        client.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o") as gen,
    ):
        gen.update(input="q", output="a", usage_details={"input": tokens, "output": 10})
client.flush()

now = dt.datetime.now(dt.UTC)
window = {
    "fromTimestamp": (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    "toTimestamp": (now + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
}


def ask(query):
    return client.api.legacy.metrics_v1.metrics(query=json.dumps({**window, **query})).data


by_name = []
for _ in range(50):  # the summaries of the traces just flushed
    by_name = ask(
        {
            "view": "traces",
            "dimensions": [{"field": "name"}],
            "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalTokens", "aggregation": "sum"}],
            "orderBy": [{"field": "sum_totalTokens", "direction": "desc"}],
        }
    )
    if sum(r["count_count"] for r in by_name) == 3:
        break
    time.sleep(0.2)
by_user = ask(
    {
        "view": "traces",
        "dimensions": [{"field": "userId"}],
        "metrics": [{"measure": "observationsCount", "aggregation": "sum"}],
        "orderBy": [{"field": "userId", "direction": "asc"}],
    }
)
observations = ask({"view": "observations", "metrics": [{"measure": "inputTokens", "aggregation": "sum"}]})
client.shutdown()
print(json.dumps({"by_name": by_name, "by_user": by_user, "observations": observations}))
