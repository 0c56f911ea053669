"""Run with langfuse 5.x on the path: a dataset item whose input holds an image and whose expected
output holds a PDF (LangfuseMedia). SDK 5 uploads both for the item (datasetId + datasetItemId)
before it creates the item; the item is read back and its references resolved.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import base64
import json
import sys

from langfuse import Langfuse
from langfuse.media import LangfuseMedia

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4o6GBFTEMLQkAe3tLAfuiUfAAAAAASUVORK5CYII="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n% item\n"

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
client.create_dataset(name="vision-cases")
item = client.create_dataset_item(
    dataset_name="vision-cases",
    input={"question": "What colour is this?", "image": LangfuseMedia(content_bytes=PNG, content_type="image/png")},
    expected_output={"answer": "red", "sheet": LangfuseMedia(content_bytes=PDF, content_type="application/pdf")},
)
read = client.api.dataset_items.get(item.id)
resolved = LangfuseMedia.resolve_media_references(
    obj={"input": read.input, "expected": read.expected_output}, langfuse_client=client, resolve_with="base64_data_uri"
)
client.shutdown()
print(
    json.dumps(
        {
            "item_id": item.id,
            "dataset_id": item.dataset_id,
            "input": read.input,
            "expected": read.expected_output,
            "resolved": resolved,
            "png": base64.b64encode(PNG).decode(),
            "pdf": base64.b64encode(PDF).decode(),
        }
    )
)
