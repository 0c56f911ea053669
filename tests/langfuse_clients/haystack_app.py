"""Run with Haystack 3.x, langfuse-haystack and opentelemetry-haystack on the path (./dev test
installs them in .venv/sdk/haystack): the same two Haystack pipelines traced twice, against a
fake of the OpenAI API. First by Haystack's own OpenTelemetry tracer (its ``haystack.*`` keys,
exported over OTLP/HTTP), then by Langfuse's Haystack integration (the langfuse SDK it brings).
Pipelines: a chat prompt builder feeding OpenAI's chat generator; an agent with a weather tool.
The OpenTelemetry run also sends the chat generator a picture, which Haystack's tracing replaces
with a note of its size.

Prints one JSON line with each run's trace ids. Arguments: host public_key secret_key openai_base_url.
"""

import base64
import json
import os
import sys

os.environ["HAYSTACK_CONTENT_TRACING_ENABLED"] = "true"  # inputs and outputs, read at import
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"

from haystack import Pipeline, tracing
from haystack.components.agents import Agent
from haystack.components.builders import ChatPromptBuilder
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.dataclasses import ChatMessage, ImageContent
from haystack.tools import tool
from haystack_integrations.components.connectors.langfuse import LangfuseConnector
from haystack_integrations.tracing.opentelemetry import OpenTelemetryTracer
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from root_spans import Roots

host, public_key, secret_key, base_url = sys.argv[1:5]
os.environ.update(OPENAI_API_KEY="sk-fake", LANGFUSE_PUBLIC_KEY=public_key, LANGFUSE_SECRET_KEY=secret_key)
os.environ["LANGFUSE_HOST"] = os.environ["LANGFUSE_BASE_URL"] = host
# A 1x1 PNG.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def chat_pipeline(tracer: str | None) -> Pipeline:
    pipeline = Pipeline()
    if tracer:
        pipeline.add_component("tracer", LangfuseConnector(tracer))
    template = [ChatMessage.from_user("Tell me about {{city}}")]
    pipeline.add_component("prompt", ChatPromptBuilder(template=template, required_variables=["city"]))
    pipeline.add_component("llm", OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=base_url))
    pipeline.connect("prompt.prompt", "llm.messages")
    return pipeline


def agent_pipeline(tracer: str | None) -> Pipeline:
    pipeline = Pipeline()
    if tracer:
        pipeline.add_component("tracer", LangfuseConnector(tracer))
    model = OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=base_url)
    pipeline.add_component("agent", Agent(chat_generator=model, tools=[weather]))
    return pipeline


def run_both(tracer_names: tuple[str, str] | tuple[None, None]) -> list[str]:
    """Run both pipelines; the trace ids (Langfuse's connector gives them; else the span in view)."""
    ids = []
    chat = chat_pipeline(tracer_names[0]).run({"prompt": {"city": "Paris"}})
    question = [ChatMessage.from_user("Weather in Paris?")]
    agent = agent_pipeline(tracer_names[1]).run({"agent": {"messages": question}})
    assert agent["agent"]["messages"][-1].text == "Paris is sunny, 21°C.", agent
    for result in (chat, agent):
        ids.append(result["tracer"]["trace_id"] if "tracer" in result else "")
    return ids


# Haystack's own tracer, over OTLP to this host's Langfuse-compatible endpoint.
roots = Roots()
auth = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
exporter = OTLPSpanExporter(endpoint=f"{host}/api/public/otel/v1/traces", headers={"Authorization": f"Basic {auth}"})
provider = TracerProvider(resource=Resource.create({"service.name": "haystack-app"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
provider.add_span_processor(roots)
tracing.enable_tracing(OpenTelemetryTracer(provider.get_tracer("haystack")))
run_both((None, None))
picture = ChatMessage.from_user(
    content_parts=["What is this?", ImageContent(base64_image=PIXEL, mime_type="image/png")]
)
looking = Pipeline()
looking.add_component("llm", OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=base_url))
looking.run({"llm": {"messages": [picture]}})
provider.force_flush()
provider.shutdown()
tracing.disable_tracing()

# Langfuse's Haystack integration (its connector enables its own tracer).
chat_id, agent_id = run_both(("Haystack chat", "Haystack agent"))
from langfuse import get_client  # noqa: E402

get_client().flush()
otel = dict(zip(("chat", "agent", "picture"), roots.ids, strict=True))
print(json.dumps({"otel": otel, "langfuse": {"chat": chat_id, "agent": agent_id}}))
