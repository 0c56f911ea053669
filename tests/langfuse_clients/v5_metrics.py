"""Run with langfuse 5.x on the path: generations of two models and scores, then Langfuse's v2
metrics query through SDK 5's client (by model, by time, a filter, a score view).

Prints one JSON line. Arguments: host public_key secret_key.
"""

import datetime as dt
import json
import sys
import time

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

for model, tokens in (("gpt-4o", 100), ("gpt-4o", 300), ("gpt-4o-mini", 50)):
    with client.start_as_current_observation(as_type="generation", name="llm", model=model) as gen:
        gen.update(input="q", output="a", usage_details={"input": tokens, "output": 10})
        gen.score_trace(name="quality", value=tokens / 1000)
        gen.score_trace(name="helpful", value=1 if tokens > 60 else 0, data_type="BOOLEAN")
        gen.score_trace(name="tone", value="friendly" if tokens > 200 else "terse", data_type="CATEGORICAL")
client.flush()
time.sleep(1)

now = dt.datetime.now(dt.UTC)
window = {
    "fromTimestamp": (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    "toTimestamp": (now + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
}


def ask(query):
    return client.api.metrics.metrics(query=json.dumps({**window, **query})).data


by_model = ask(
    {
        "view": "observations",
        "dimensions": [{"field": "providedModelName"}],
        "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "inputTokens", "aggregation": "sum"}],
        "filters": [{"column": "type", "operator": "=", "value": "GENERATION", "type": "string"}],
        "orderBy": [{"field": "sum_inputTokens", "direction": "desc"}],
    }
)
over_time = ask(
    {
        "view": "observations",
        "metrics": [{"measure": "totalTokens", "aggregation": "sum"}],
        "timeDimension": {"granularity": "hour"},
    }
)
filtered = ask(
    {
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "filters": [{"column": "providedModelName", "operator": "any of", "value": ["gpt-4o-mini"]}],
    }
)
scores = ask(
    {
        "view": "scores-numeric",
        "dimensions": [{"field": "name"}],
        "metrics": [{"measure": "value", "aggregation": "avg"}, {"measure": "count", "aggregation": "count"}],
    }
)
true_rate = ask(
    {
        "view": "scores-boolean",
        "dimensions": [{"field": "name"}],
        "metrics": [{"measure": "value", "aggregation": "avg"}],
    }
)
tones = ask(
    {
        "view": "scores-categorical",
        "dimensions": [{"field": "stringValue"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "orderBy": [{"field": "count_count", "direction": "desc"}],
    }
)
histogram = ask(
    {
        "view": "observations",
        "metrics": [{"measure": "inputTokens", "aggregation": "histogram"}],
        "filters": [{"column": "type", "operator": "=", "value": "GENERATION", "type": "string"}],
        "config": {"bins": 3},
    }
)
client.shutdown()
print(
    json.dumps(
        {
            "by_model": by_model,
            "over_time": over_time,
            "filtered": filtered,
            "scores": scores,
            "true_rate": true_rate,
            "tones": tones,
            "histogram": histogram,
        },
        default=str,
    )
)
