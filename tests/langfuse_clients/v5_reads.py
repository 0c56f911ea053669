"""Run with langfuse 5.x on the path: a trace with three observations and scores written through
the SDK, then read back with SDK 5's own API client: v2 observations (field groups, cursor pages
of one) and v3 scores.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys
import time

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

with client.start_as_current_observation(name="agent", as_type="agent", input="plan a trip") as agent:
    with client.start_as_current_observation(name="search", as_type="tool", input={"q": "Kyoto"}) as tool:
        tool.update(output={"hits": 3})
    with client.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o-mini") as gen:
        gen.update(input=[{"role": "user", "content": "2+2?"}], output="4", usage_details={"input": 7, "output": 1})
        gen.score(name="correct", value=1, data_type="BOOLEAN", score_id="v3-bool")
    agent.score_trace(name="quality", value=0.75, score_id="v3-num")
    agent.score_trace(name="tone", value="friendly", data_type="CATEGORICAL", score_id="v3-cat")
    trace_id = client.get_current_trace_id()
client.flush()

deadline = time.time() + 30
pages = []
while time.time() < deadline:
    pages, cursor = [], None
    while True:
        page = client.api.observations.get_many(trace_id=trace_id, fields="core,basic,io,usage", limit=1, cursor=cursor)
        pages.append([o.dict() if hasattr(o, "dict") else dict(o) for o in page.data])
        cursor = page.meta.cursor
        if not cursor:
            break
    if sum(len(p) for p in pages) >= 3:
        break
    time.sleep(0.3)
core_only = client.api.observations.get_many(trace_id=trace_id, fields="core", limit=10)
scores = client.api.scores.get_many(trace_id=trace_id, limit=10)
client.shutdown()
print(
    json.dumps(
        {
            "trace_id": trace_id,
            "pages": pages,
            "core_keys": sorted({k for o in core_only.data for k in (o.dict() if hasattr(o, "dict") else dict(o))}),
            "scores": [s.dict(by_alias=True) for s in scores.data],
        },
        default=str,
    )
)
