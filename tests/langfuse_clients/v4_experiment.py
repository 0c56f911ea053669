"""Run with langfuse 4.x (or 5.x) on the path: an experiment over a dataset with run_experiment.
The task calls an OpenAI-compatible model (a local fake, its base URL in argv[4]); an item
evaluator scores each output and a run evaluator scores the run.

Prints one JSON line. Arguments: host public_key secret_key openai_base_url.
"""

import datetime as dt
import json
import sys
import time
import urllib.request

from langfuse import Evaluation, Langfuse

host, public_key, secret_key, openai_url = sys.argv[1:5]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

client.create_dataset(name="weather-qa", description="Weather questions")
client.create_dataset_item(
    dataset_name="weather-qa", input={"q": "Weather in Paris?"}, expected_output="sunny", id="w1"
)
client.create_dataset_item(dataset_name="weather-qa", input={"q": "Weather in Oslo?"}, expected_output="rain", id="w2")
dataset = client.get_dataset("weather-qa")


def task(*, item, **kwargs):
    messages = [{"role": "user", "content": item.input["q"]}]
    body = json.dumps({"model": "gpt-4o-mini", "messages": messages}).encode()
    request = urllib.request.Request(
        openai_url + "/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    # The model call is a generation inside the task's span, with its usage, as an app traces it.
    with client.start_as_current_observation(
        name="llm", as_type="generation", model="gpt-4o-mini", input=messages
    ) as gen:
        with urllib.request.urlopen(request, timeout=10) as r:
            answer = json.loads(r.read())["choices"][0]["message"]["content"]
        gen.update(output=answer, usage_details={"input": 12, "output": 5})
    return answer


def mentions_expected(*, output, expected_output, **kwargs):
    return Evaluation(name="mentions_expected", value=1.0 if expected_output in output.lower() else 0.0)


def average(*, item_results, **kwargs):
    values = [e.value for r in item_results for e in r.evaluations if e.name == "mentions_expected"]
    return Evaluation(name="avg_mentions", value=sum(values) / len(values))


result = dataset.run_experiment(
    name="weather-exp", run_name="weather-run-1", task=task, evaluators=[mentions_expected], run_evaluators=[average]
)
client.flush()
# langfuse 5.x reads the experiment back through its API client (/experiments, /experiment-items).
listed: dict = {}
if hasattr(client.api, "experiments"):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for _ in range(50):  # the spans are durable once flushed; the summary of a trace may lag a moment
        experiments = client.api.experiments.list(from_start_time=since, fields="core,metadata,scores")
        items = client.api.experiments.list_items(from_start_time=since, fields="core,dataset,io,scores", limit=1)
        if experiments.data and items.meta.cursor:
            break
        time.sleep(0.2)
    page2 = client.api.experiments.list_items(from_start_time=since, limit=1, cursor=items.meta.cursor)
    listed = {
        "experiments": [
            {"name": e.name, "items": e.item_count, "dataset": e.dataset_id, "scores": [s.name for s in e.scores or []]}
            for e in experiments.data
        ],
        "items": [
            {
                "item": i.experiment_item_id,
                "trace": i.trace_id,
                "expected": i.expected_output,
                "output": i.output,
                "dataset": i.experiment_dataset_id,
                "scores": sorted(s.name for s in i.scores or []),
            }
            for i in items.data + page2.data
        ],
        "last_cursor": page2.meta.cursor,
    }
# langfuse 4.x lists a run's items through its API client (GET /dataset-run-items).
run_items = []
if hasattr(client.api, "dataset_run_items") and hasattr(client.api.dataset_run_items, "list"):
    page = client.api.dataset_run_items.list(dataset_id=dataset.id, run_name="weather-run-1", limit=1)
    run_items = [(i.dataset_item_id, i.trace_id, page.meta.total_items) for i in page.data]
    more = client.api.dataset_run_items.list(dataset_id=dataset.id, run_name="weather-run-1", page=2, limit=1)
    run_items += [(i.dataset_item_id, i.trace_id, more.meta.total_items) for i in more.data]
client.shutdown()
print(
    json.dumps(
        {
            "run_id": result.dataset_run_id,
            "items": [
                {
                    "item": r.item.id,
                    "trace": r.trace_id,
                    "output": r.output,
                    "scores": {e.name: e.value for e in r.evaluations},
                }
                for r in result.item_results
            ],
            "run_scores": {e.name: e.value for e in result.run_evaluations},
            "listed": listed,
            "run_items": run_items,
        }
    )
)
