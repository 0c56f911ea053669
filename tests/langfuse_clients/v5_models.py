"""Run with langfuse 5.x on the path: the project's model prices through SDK 5's API client
(create, list, get, delete, upsert by id), and a generation priced by the model created.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

created = client.api.models.create(
    model_name="my-finetune",
    match_pattern="(?i)^my-finetune$",
    unit="TOKENS",
    input_price=0.000002,
    output_price=0.000008,
)
listed = client.api.models.list(limit=100)
got = client.api.models.get(created.id)
with client.start_as_current_observation(as_type="generation", name="llm", model="my-finetune") as gen:
    gen.update(input="hi", output="hello", usage_details={"input": 1000, "output": 500})
    trace_id = client.get_current_trace_id()
client.flush()
temporary = client.api.models.create(model_name="gone", match_pattern="^gone$", unit="TOKENS", input_price=0.000001)
client.api.models.delete(temporary.id)
after = [m.id for m in client.api.models.list(limit=100).data]
# upsert by a chosen id: made, then replaced; a built-in model cannot be changed.
client.api.models.upsert("team-model", model_name="team", match_pattern="^team$", unit="TOKENS", input_price=0.000001)
upserted = client.api.models.upsert(
    "team-model", model_name="team", match_pattern="^team-v2$", unit="TOKENS", input_price=0.000003
)
try:
    client.api.models.upsert(
        listed.data[-1].id, model_name="x", match_pattern="^x$", unit="TOKENS", input_price=0.000001
    ) if listed.data[-1].is_langfuse_managed else None
    builtin = "changed"
except Exception as exc:  # noqa: BLE001 (the SDK's error class is what is reported)
    builtin = f"{type(exc).__name__} {getattr(exc, 'status_code', '')}"
client.shutdown()
print(
    json.dumps(
        {
            "created": created.dict(by_alias=True),
            "got": got.dict(by_alias=True),
            "listed": [m.dict(by_alias=True) for m in listed.data],
            "total": listed.meta.total_items,
            "trace_id": trace_id,
            "temporary": temporary.id,
            "after": after,
            "upserted": upserted.dict(by_alias=True),
            "builtin_upsert": builtin,
        },
        default=str,
    )
)
