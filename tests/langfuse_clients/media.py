"""Run with langfuse 4.x or 5.x on the path: a generation whose input holds an image (a base64 data
URI, as OpenAI's message parts carry it) and whose output holds a PDF (LangfuseMedia). The SDK
uploads both out of band (POST /api/public/media, PUT, PATCH) and puts reference strings in the
trace; then the trace is read back and the references resolved through GET /api/public/media.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import base64
import json
import sys
import time

import httpx
from langfuse import Langfuse
from langfuse.media import LangfuseMedia

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4o6GBFTEMLQkAe3tLAfuiUfAAAAAASUVORK5CYII="
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
image = f"data:image/png;base64,{PNG}"
messages = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": image}},
        ],
    }
]
with client.start_as_current_observation(as_type="generation", name="vision", model="gpt-4o", input=messages) as gen:
    gen.update(
        output={"answer": "a red square", "report": LangfuseMedia(content_bytes=PDF, content_type="application/pdf")}
    )
    trace_id = client.get_current_trace_id()
client.flush()

# The observation as Langfuse's API returns it: reference strings where the files were. (SDK 5's
# client reads observations through the v2 API only; the v1 read is what every version serves.)
deadline = time.time() + 30
while True:
    found = httpx.get(
        f"{host}/api/public/observations", params={"traceId": trace_id}, auth=(public_key, secret_key)
    ).json()["data"]
    observation = next((o for o in found if o["name"] == "vision"), None)
    if observation or time.time() > deadline:
        break
    time.sleep(0.3)
resolved = LangfuseMedia.resolve_media_references(
    obj={"input": observation["input"], "output": observation["output"]},
    langfuse_client=client,
    resolve_with="base64_data_uri",
)
client.shutdown()
print(
    json.dumps(
        {
            "trace_id": trace_id,
            "observation_id": observation["id"],
            "input": observation["input"],
            "output": observation["output"],
            "resolved": resolved,
            "png": PNG,
            "pdf": base64.b64encode(PDF).decode(),
        }
    )
)
