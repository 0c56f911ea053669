"""Run with LiveKit Agents 1.x and its OpenAI plugin on the path (./dev test installs them in
.venv/sdk/livekit): an agent session run in text (LiveKit's own test mode, no room) with a weather
tool, against a fake of the OpenAI API, traced as Langfuse's guide for LiveKit sets it up: LiveKit's
tracer provider exporting over OTLP/HTTP to this host, the session id in its metadata.

Prints one JSON line with the ids of the traces it sent (the session's one).
Arguments: host public_key secret_key openai_base_url.
"""

import asyncio
import base64
import json
import sys

from livekit.agents import Agent, AgentSession, RunContext, function_tool
from livekit.agents.telemetry import set_tracer_provider
from livekit.plugins import openai
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from root_spans import Roots

host, public_key, secret_key, base_url = sys.argv[1:5]
auth = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
exporter = OTLPSpanExporter(endpoint=f"{host}/api/public/otel/v1/traces", headers={"Authorization": f"Basic {auth}"})
provider = TracerProvider(resource=Resource.create({"service.name": "livekit-agent"}))
roots = Roots()
provider.add_span_processor(roots)
provider.add_span_processor(SimpleSpanProcessor(exporter))
set_tracer_provider(provider, allow_pii=True, metadata={"langfuse.session.id": "room-42"})


class Forecaster(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Be brief.")

    @function_tool
    async def weather(self, context: RunContext, city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"


async def main() -> None:
    model = openai.LLM(model="gpt-4o-mini", base_url=base_url, api_key="sk-fake")
    async with model, AgentSession(llm=model) as session:
        await session.start(Forecaster())
        await session.run(user_input="Weather in Paris?")


asyncio.run(main())
provider.shutdown()
print(json.dumps({"trace_ids": roots.ids}))
