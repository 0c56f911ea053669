"""Run with langfuse 4.x on the path: score configs and annotation queues through the SDK's API client
(api.score_configs, api.annotation_queues), and scores sent against a config (one out of its range).

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.api import ConfigCategory

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
api = client.api

quality = api.score_configs.create(
    name="quality", data_type="NUMERIC", min_value=0, max_value=5, description="1-5 stars"
)
tone = api.score_configs.create(
    name="tone",
    data_type="CATEGORICAL",
    categories=[ConfigCategory(label="friendly", value=1), ConfigCategory(label="rude", value=0)],
)
listed = api.score_configs.get(limit=50)
got = api.score_configs.get_by_id(quality.id)
archived = api.score_configs.update(tone.id, is_archived=True)

queue = api.annotation_queues.create_queue(
    name="weekly review", description="spot checks", score_config_ids=[quality.id]
)
with client.start_as_current_observation(as_type="span", name="to-review") as span:
    trace_id = client.get_current_trace_id()
client.flush()
item = api.annotation_queues.create_queue_item(queue.id, object_id=trace_id, object_type="TRACE")
items = api.annotation_queues.list_queue_items(queue.id)
done = api.annotation_queues.update_queue_item(queue.id, item.id, status="COMPLETED")
queues = api.annotation_queues.list_queues()
client.create_score(trace_id=trace_id, name="quality", value=4, config_id=quality.id, score_id="in-range")
client.create_score(trace_id=trace_id, name="quality", value=9, config_id=quality.id, score_id="out-of-range")
client.flush()
api.annotation_queues.delete_queue_item(queue.id, item.id)
after = api.annotation_queues.list_queue_items(queue.id)
client.shutdown()
print(
    json.dumps(
        {
            "quality": quality.dict(by_alias=True),
            "listed": [c.name for c in listed.data],
            "got": got.id,
            "archived": archived.is_archived,
            "queue": queue.dict(by_alias=True),
            "items": [i.object_id for i in items.data],
            "done": done.status,
            "queues": [q.name for q in queues.data],
            "trace_id": trace_id,
            "after": len(after.data),
        },
        default=str,
    )
)
