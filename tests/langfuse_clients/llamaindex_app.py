"""Run with LlamaIndex, its OpenAI model and OpenInference's LlamaIndex instrumentation on the path
(./dev test installs them in .venv/sdk/llamaindex), against a fake of the OpenAI API, exported over
OTLP/HTTP to this host's Langfuse-compatible endpoint, as Langfuse's guide for LlamaIndex sets it up.
Two traces: a FunctionAgent with a weather tool (its model calls streamed, which report no usage;
OpenInference also marks the step that prepares each call as a model call), and ``llm.predict``
of a prompt template (marked a model call around the chat call, which reports its usage).

Prints one JSON line with the traces' ids. Arguments: host public_key secret_key openai_base_url.
"""

import asyncio
import base64
import json
import sys

from llama_index.core import PromptTemplate
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.llms.openai import OpenAI
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from root_spans import Roots

host, public_key, secret_key, base_url = sys.argv[1:5]


auth = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
exporter = OTLPSpanExporter(endpoint=f"{host}/api/public/otel/v1/traces", headers={"Authorization": f"Basic {auth}"})
provider = TracerProvider(resource=Resource.create({"service.name": "llamaindex-app"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
roots = Roots()
provider.add_span_processor(roots)
LlamaIndexInstrumentor().instrument(tracer_provider=provider)


def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


llm = OpenAI(model="gpt-4o-mini", api_base=base_url, api_key="sk-fake")
agent = FunctionAgent(tools=[weather], llm=llm, system_prompt="Be brief.")


async def ask() -> str:
    return str(await agent.run("Weather in Paris?"))  # its workflow starts in a running loop


answer = asyncio.run(ask())
predicted = llm.predict(PromptTemplate("Tell me about {city}"), city="Paris")
provider.force_flush()
provider.shutdown()
print(json.dumps({"agent": roots.ids[-2], "predict": roots.ids[-1], "answers": [answer, predicted]}))
