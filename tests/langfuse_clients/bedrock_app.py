"""Run with boto3 and one Bedrock instrumentation on the path (./dev test installs them in
.venv/sdk/bedrock): an app's root span around a Converse tool loop (a call answered with a tool
call, the tool's result sent back) and a ConverseStream call, with boto3 pointed at a fake of
Bedrock's runtime API, exported over OTLP/HTTP to this host. The instrumentation is one of
``botocore`` (OpenTelemetry's, its messages as log records, exported here too), ``openllmetry``
(OpenLLMetry's) or ``openinference`` (OpenInference's).

Prints one JSON line with the trace id. Arguments: host public_key secret_key bedrock_url instrumentation.
"""

import base64
import json
import os
import sys

from opentelemetry import _logs, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from root_spans import Roots

host, public_key, secret_key, bedrock_url, instrumentation = sys.argv[1:6]
headers = {"Authorization": "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()}
provider = TracerProvider(resource=Resource.create({"service.name": f"bedrock-{instrumentation}"}))
roots = Roots()
provider.add_span_processor(roots)
provider.add_span_processor(
    SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{host}/api/public/otel/v1/traces", headers=headers))
)
trace.set_tracer_provider(provider)
logs = LoggerProvider()
logs.add_log_record_processor(
    SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{host}/api/public/otel/v1/logs", headers=headers))
)
_logs.set_logger_provider(logs)

if instrumentation == "botocore":
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    BotocoreInstrumentor().instrument()
elif instrumentation == "openllmetry":
    from opentelemetry.instrumentation.bedrock import BedrockInstrumentor

    BedrockInstrumentor().instrument()
else:
    from openinference.instrumentation.bedrock import BedrockInstrumentor

    BedrockInstrumentor().instrument()

import boto3  # noqa: E402 (after the instrumentation, as its guides do)

client = boto3.client(
    "bedrock-runtime",
    region_name="us-east-1",
    endpoint_url=bedrock_url,
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
WEATHER = {
    "toolSpec": {
        "name": "weather",
        "description": "The weather in a city.",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}
system = [{"text": "Be brief."}]
with trace.get_tracer("bedrock-app").start_as_current_span("weather-app"):
    messages = [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]
    first = client.converse(modelId=MODEL, messages=messages, system=system, toolConfig={"tools": [WEATHER]})
    reply = first["output"]["message"]
    messages.append(reply)
    call = next(block["toolUse"] for block in reply["content"] if "toolUse" in block)
    result = {"toolUseId": call["toolUseId"], "content": [{"text": "sunny"}]}
    messages.append({"role": "user", "content": [{"toolResult": result}]})
    client.converse(modelId=MODEL, messages=messages, system=system, toolConfig={"tools": [WEATHER]})
    streamed = client.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "And Rome?"}]}])
    for _event in streamed["stream"]:
        pass
provider.force_flush()
logs.force_flush()
print(json.dumps({"trace_id": roots.ids[-1]}))
