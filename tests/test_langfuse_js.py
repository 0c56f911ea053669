"""The langfuse JS SDKs 3.x and 5.x (npm), as an application uses them: tracing with an image, prompts,
datasets and runs, and the reads (tests/langfuse_clients/js_sdk.cjs and js5_sdk.cjs)."""

import asyncio
from decimal import Decimal

from tests.langfuse_helpers import JS5_SDK, make_key, run_js
from tracehouse.server import Running

PNG_URI = "data:image/png;base64," + (
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4o6GBFTEMLQkAe3tLAfuiUfAAAAAASUVORK5CYII="
)


async def test_the_js_sdk_traces_prompts_datasets_and_reads(live: Running) -> None:
    out = await asyncio.to_thread(run_js, "js_sdk.cjs", live.api_url, await make_key(live))

    prompts = out["prompts"]
    assert prompts["production"] == [1, "Answer Where is my order? briefly."]
    assert prompts["staging"] == [2, "Answer {{question}} in one line."] and prompts["first"] == 1
    assert prompts["chat"] == [
        {"role": "system", "content": "You help with returns."},
        {"role": "user", "content": "Can I return it?"},
    ]
    assert prompts["production_after_move"] == 2  # the label moved to version 2

    read = out["read"]
    assert (read["name"], read["userId"], read["sessionId"], read["tags"], read["release"]) == (
        "js-support", "js-user", "js-session", ["js", "sdk"], "r-7"
    )  # fmt: skip
    assert read["metadata"] == {"tenant": "acme"} and read["output"] == "It ships today."
    assert read["question"] == "Where is my order?" and read["photo"] == PNG_URI  # uploaded, then resolved
    assert read["scores"] == [["helpful", 1, None], ["tone", 0, "polite"]]
    assert read["observations"] == [["EVENT", "cache-miss"], ["GENERATION", "chat"], ["SPAN", "retrieve"]]
    assert read["generation"] == ["gpt-4o-mini", "js/answer", 1, 120, 15, {"temperature": 0.2}]
    assert read["listed"] == [out["trace_id"]] and read["total"] == 1 and read["sessions"] == ["js-session"]

    dataset = out["dataset"]
    assert dataset["items"] == ["Can I return it?", "Where is my order?"] and dataset["runs"] == ["js-run-1"]
    assert dataset["run_items"] == [[True, out["trace_id"], out["generation_id"]]]

    # What the store holds: the generation priced from the table, linked to the prompt's version.
    spans = await live.store.reader.trace("default", out["trace_id"])
    [generation] = [s for s in spans if s["span_id"] == out["generation_id"]]
    assert generation["total_cost"] == Decimal("0.000027")  # 120 x $0.15/M + 15 x $0.60/M
    assert (generation["prompt_name"], generation["prompt_version"]) == ("js/answer", "1")
    assert "@@@langfuseMedia:type=image/png" in next(s for s in spans if s["observation_type"] == "TRACE")["input"]


async def test_the_js_sdk_5_traces_over_opentelemetry_prompts_scores_and_reads(live: Running) -> None:
    """The langfuse JS SDK 5.x: @langfuse/otel's span processor exports the trace over OTLP/HTTP,
    @langfuse/client makes and fetches a prompt, scores the trace and reads it back."""
    out = await asyncio.to_thread(run_js, "js5_sdk.cjs", live.api_url, await make_key(live), modules=JS5_SDK)
    assert out["prompt"] == [1, "Answer Where is my order? briefly."]
    read = out["read"]
    assert (read["name"], read["userId"], read["sessionId"], read["tags"]) == (
        "js5-support", "js5-user", "js5-session", ["js5"]
    )  # fmt: skip
    assert read["input"] == {"question": "Where is my order?"} and read["output"] == "It ships today."
    assert read["metadata"] == {"tenant": "acme"} and read["scores"] == [["helpful", 1]]
    assert read["observations"] == [["GENERATION", "chat"], ["SPAN", "js5-support"], ["TOOL", "lookup-order"]]
    assert read["generation"] == ["gpt-4o-mini", "js5/answer", 1, 120, 15, {"temperature": 0.2}]
    # setTraceIO on a child: the trace's input and output, not the child's.
    assert out["trace_io"] == {
        "input": "Where is my order?", "output": {"answer": "today"},
        "observations": {"js5-io": {"raw": True}, "step": {"n": 1}},
    }  # fmt: skip
    # What the store holds: the generation priced from the table, linked to the prompt's version.
    spans = await live.store.reader.trace("default", out["trace_id"])
    [generation] = [s for s in spans if s["observation_type"] == "GENERATION"]
    assert generation["total_cost"] == Decimal("0.000027")  # 120 x $0.15/M + 15 x $0.60/M
    assert (generation["prompt_name"], generation["prompt_version"]) == ("js5/answer", "1")
