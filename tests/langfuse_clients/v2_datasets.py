"""Run with langfuse 2.x on the path: a dataset as a 2.x user builds and runs it. Create a dataset
and items, fetch it, run the app over each item and link each trace to the item with
``item.link`` in a named run (twice for one item: a repetition), and score the outputs.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

client.create_dataset(name="capitals", description="Capital cities", metadata={"owner": "qa"})
client.create_dataset_item(dataset_name="capitals", input={"country": "France"}, expected_output="Paris", id="fr")
client.create_dataset_item(dataset_name="capitals", input={"country": "Japan"}, expected_output="Tokyo", id="jp")
dataset = client.get_dataset("capitals")
links = []
for item in dataset.items:
    for _attempt in range(2 if item.id == "fr" else 1):
        trace = client.trace(name="capital-app", input=item.input)
        answer = {"fr": "Paris", "jp": "Kyoto"}[item.id]
        generation = trace.generation(
            name="llm", model="gpt-4o-mini", input=item.input, output=answer, usage={"input": 10, "output": 2}
        )
        trace.update(output=answer)
        item.link(generation, "v2-run", run_description="first try", run_metadata={"model": "gpt-4o-mini"})
        trace.score(name="exact", value=1.0 if answer == item.expected_output else 0.0)
        links.append({"item": item.id, "trace": trace.id, "observation": generation.id})
client.flush()
run = client.get_dataset_run("capitals", "v2-run")
print(
    json.dumps(
        {
            "items": sorted(i.id for i in dataset.items),
            "links": links,
            "run_id": run.id,
            "run_items": [
                {"item": ri.dataset_item_id, "trace": ri.trace_id, "observation": ri.observation_id}
                for ri in run.dataset_run_items
            ],
        }
    )
)
