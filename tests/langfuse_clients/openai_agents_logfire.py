"""Run with the project's test dependencies: an OpenAI Agents SDK agent with a tool, instrumented
by Logfire and exported over OTLP to Langfuse's endpoint, as Langfuse's guide for the SDK sets it
up; its model is the fake OpenAI Responses API (tests/fake_openai.py).

Prints one JSON line. Arguments: host public_key secret_key openai_base_url.
"""

import base64
import json
import sys

import logfire
from agents import Agent, Runner, function_tool, set_default_openai_client, set_trace_processors
from openai import AsyncOpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

host, public_key, secret_key, base_url = sys.argv[1:5]
auth = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
exporter = OTLPSpanExporter(endpoint=f"{host}/api/public/otel/v1/traces", headers={"Authorization": f"Basic {auth}"})
logfire.configure(
    send_to_logfire=False,
    service_name="openai-agents",
    console=False,
    additional_span_processors=[SimpleSpanProcessor(exporter)],
)
set_default_openai_client(AsyncOpenAI(base_url=base_url, api_key="sk-fake"), use_for_tracing=False)
set_trace_processors([])  # no export to OpenAI's own tracing
logfire.instrument_openai_agents()


@function_tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


# A session and a user, as Langfuse's guide sets them: Logfire's default scrubbing removes the
# session's value (its key names a session), not the user's.
with logfire.span("ask {question}", question="weather", **{"session.id": "chat-42", "user.id": "ada"}):
    logfire.warn("low on {item}", item="umbrellas")  # a span of its own, at Logfire's warn level
    result = Runner.run_sync(Agent(name="Helper", instructions="Be brief.", tools=[weather]), "Weather in Paris?")
logfire.force_flush()
print(json.dumps({"output": result.final_output}))
