"""The mapping rules, as data: for each typed column, the attribute keys that fill it, first
match wins. Sources: OTel GenAI semantic conventions (current and older generations),
OpenInference, OpenLLMetry/Traceloop, the Vercel AI SDK's ``ai.*`` spans, Pydantic AI, MLflow, Google
ADK, Genkit, Haystack and Langfuse's own keys; see shared/reference/otel.md and langfuse.md section 3 for where
each key comes from.
"""

from __future__ import annotations

__all__ = [
    "AI_SDK_DETAILS",
    "AI_SDK_DETAIL_KEYS",
    "AI_SDK_EMBEDDING_CALLS",
    "AI_SDK_EXCLUSIVE_METADATA",
    "AI_SDK_EXCLUSIVE_OUTPUT_METADATA",
    "AI_SDK_OPERATIONS",
    "AI_SDK_PROVIDER_DETAILS",
    "EXCLUSIVE_INPUT_PROVIDERS",
    "FRAMEWORK_KINDS",
    "HAYSTACK_COMPONENT_TYPES",
    "HAYSTACK_NAMES",
    "LEVEL_ALIASES",
    "OBSERVATION_TYPES",
    "OPENINFERENCE_KINDS",
    "OPERATION_TYPES",
    "ROLLUP_OPERATIONS",
    "SPEECH_IO",
    "STRING_RULES",
    "TOKEN_RULES",
    "TYPE_FROM_PRESENCE",
]

# Span-level string columns. Resource attributes are consulted after span attributes for the
# columns listed in RESOURCE_FALLBACK.
STRING_RULES: dict[str, tuple[str, ...]] = {
    "operation": ("gen_ai.operation.name", "llm.request.type"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "request_model": (
        "gen_ai.request.model",
        "llm.request.model_name",
        "llm.model_name",
        "embedding.model_name",
        "langfuse.observation.model.name",
        "ai.model.id",
        "model",
    ),
    "response_model": ("gen_ai.response.model", "llm.response.model_name", "llm.response.model"),
    "session_id": (
        "langfuse.session.id",
        "session.id",
        "gen_ai.conversation.id",
        "traceloop.association.properties.session_id",
        "langfuse.trace.metadata.langfuse_session_id",
        "ai.telemetry.metadata.sessionId",
        "conversation.id",  # Pipecat's, on its conversation's span and its turns'
    ),
    "user_id": (
        "langfuse.user.id",
        "user.id",
        "traceloop.association.properties.user_id",
        "enduser.id",
        "llm.user",
        "ai.telemetry.metadata.userId",
    ),
    "environment": ("langfuse.environment", "deployment.environment.name", "deployment.environment"),
    "release": ("langfuse.release",),
    "version": ("langfuse.version", "service.version"),
    "trace_name": ("langfuse.trace.name", "traceloop.workflow.name"),
    "prompt_name": (
        "langfuse.observation.prompt.name",
        "langfuse.prompt.name",
        "gen_ai.prompt.name",
        "traceloop.prompt.key",
    ),
    "prompt_version": (
        "langfuse.observation.prompt.version",
        "langfuse.prompt.version",
        "gen_ai.prompt.version",  # the spelling documented for other instrumentations (README "Prompts")
        "traceloop.prompt.version",
        "llm.prompt_template.version",
    ),
    "status_message": ("langfuse.observation.status_message",),
}
RESOURCE_FALLBACK = ("environment", "release", "version", "session_id", "user_id")

# Token columns: keys in precedence; all counts are inclusive as in the OTel GenAI
# conventions (input includes cached input, output includes reasoning).
TOKEN_RULES: dict[str, tuple[str, ...]] = {
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "total_tokens": ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "llm.usage.cache_read_input_tokens",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
        "llm.usage.cache_creation_input_tokens",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
        "llm.usage.reasoning_tokens",
    ),
}

# Providers whose instrumentations pass on an input count without its cached part (Bedrock's
# Converse usage: totalTokens = inputTokens + outputTokens + cacheRead + cacheWrite), against the
# GenAI conventions' inclusive count: OpenTelemetry's botocore and OpenLLMetry's Bedrock
# instrumentations (apply._usage adds the cache back).
EXCLUSIVE_INPUT_PROVIDERS = frozenset({"aws.bedrock"})

# The AI SDK's (5 to 7's ai.* spans) usage details, beside gen_ai.usage.input/output_tokens on its
# calls' spans: read there only, as its function's spans total their calls in ai.usage.* alone
# (apply._usage). 6 and 7 give details of an inclusive input; 5 only cachedInputTokens.
AI_SDK_DETAILS: dict[str, tuple[str, ...]] = {
    "cache_read_tokens": ("ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens"),
    "cache_write_tokens": ("ai.usage.inputTokenDetails.cacheWriteTokens",),
    "reasoning_tokens": ("ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens"),
}

# The AI SDK 6 and 7's detail keys: a call's span with any of them gives its details there (and
# an inclusive input); the AI SDK 4 and 5's give them, where at all, in its provider's metadata.
AI_SDK_DETAIL_KEYS = (
    "ai.usage.inputTokenDetails.noCacheTokens",
    "ai.usage.inputTokenDetails.cacheReadTokens",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
    "ai.usage.outputTokenDetails.textTokens",
    "ai.usage.outputTokenDetails.reasoningTokens",
)

# The AI SDK 4 and 5's provider metadata (ai.response.providerMetadata, JSON text), as Langfuse
# reads it: a call's counts by provider, (column, path). Its generateText calls' spans give their
# cache reads nowhere else (5 keeps ai.usage.cachedInputTokens to its streamed calls), Anthropic's
# cache writes neither. Anthropic's and Bedrock's input counts, passed on as they came, leave the
# cache out (AI_SDK_EXCLUSIVE_METADATA); OpenAI's and Gemini's include it.
AI_SDK_PROVIDER_DETAILS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "anthropic": (
        ("cache_read_tokens", ("usage", "cache_read_input_tokens")),  # 5: Anthropic's usage as it came
        ("cache_read_tokens", ("cacheReadInputTokens",)),  # 4
        ("cache_write_tokens", ("usage", "cache_creation_input_tokens")),
        ("cache_write_tokens", ("cacheCreationInputTokens",)),
    ),
    "bedrock": (
        ("cache_read_tokens", ("usage", "cacheReadInputTokens")),
        ("cache_write_tokens", ("usage", "cacheWriteInputTokens")),
    ),
    "openai": (("cache_read_tokens", ("cachedPromptTokens",)), ("reasoning_tokens", ("reasoningTokens",))),
    "google": (
        ("cache_read_tokens", ("usageMetadata", "cachedContentTokenCount")),
        ("reasoning_tokens", ("usageMetadata", "thoughtsTokenCount")),
    ),
}
AI_SDK_EXCLUSIVE_METADATA = frozenset({"anthropic", "bedrock"})
# Gemini's output count (candidatesTokenCount), which the AI SDK 5 passes on, leaves its thoughts out.
AI_SDK_EXCLUSIVE_OUTPUT_METADATA = frozenset({"google"})

# Provided cost, USD, by cost_details name.
COST_RULES: dict[str, tuple[str, ...]] = {
    "total": ("gen_ai.usage.cost", "llm.cost.total"),
    "input": ("llm.cost.prompt",),
    "output": ("llm.cost.completion",),
}

OBSERVATION_TYPES = frozenset(
    {"SPAN", "GENERATION", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EMBEDDING", "GUARDRAIL", "EVALUATOR"}
)

OPENINFERENCE_KINDS = {
    "LLM": "GENERATION",
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
    "RERANKER": "RETRIEVER",
}

OPERATION_TYPES = {
    "chat": "GENERATION",
    "completion": "GENERATION",
    "text_completion": "GENERATION",
    "generate_content": "GENERATION",
    "generate": "GENERATION",
    "embeddings": "EMBEDDING",
    "embedding": "EMBEDDING",
    "retrieval": "RETRIEVER",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
    "invoke_workflow": "CHAIN",
    "rerank": "RETRIEVER",
}

# Operations whose usage, on a span run in-process, totals the model calls nested under it: the
# GenAI conventions give an agent's invocation the tokens of its run, and the AI SDK 7 puts them
# on its agent span as well as on each call (its steps are agent_step). Counted there too, a
# trace's tokens and cost would be twice what was spent, so these spans' usage stays in their
# attributes only. An agent invoked remotely (span kind CLIENT) is the one record of its run.
ROLLUP_OPERATIONS = frozenset({"invoke_agent", "agent_step"})
# OpenInference's agent kind alike: smolagents puts its run's tokens on its AGENT span and on
# each model call's LLM span.
ROLLUP_OPENINFERENCE_KINDS = frozenset({"AGENT"})

# The Vercel AI SDK's spans (``ai.operationId``; AI SDK <= 6, and 7's LegacyOpenTelemetry): its
# provider calls and its tool calls. The calls' spans also carry gen_ai.* keys, the rest only ai.*.
AI_SDK_OPERATIONS = {
    "ai.generateText.doGenerate": "GENERATION",
    "ai.streamText.doStream": "GENERATION",
    "ai.generateObject.doGenerate": "GENERATION",
    "ai.streamObject.doStream": "GENERATION",
    "ai.embed.doEmbed": "EMBEDDING",
    "ai.embedMany.doEmbed": "EMBEDDING",
    "ai.toolCall": "TOOL",
}
# Its embedding calls count their tokens only in ai.usage.tokens (their function's span totals them).
AI_SDK_EMBEDDING_CALLS = frozenset({"ai.embed.doEmbed", "ai.embedMany.doEmbed"})

FRAMEWORK_KINDS = {
    # traceloop.span.kind (OpenLLMetry's decorators)
    "agent": "AGENT",
    "tool": "TOOL",
    "workflow": "CHAIN",
    "task": "SPAN",
    # mastra.span.type (Mastra's OpenTelemetry exporter; its model calls are GENERATIONs by operation)
    "agent_run": "AGENT",
    "tool_call": "TOOL",
    "mcp_tool_call": "TOOL",
    "workflow_run": "CHAIN",
    # logfire.msg_template (Logfire's OpenAI Agents SDK integration names each kind of span so)
    "Agent run: {name!r}": "AGENT",
    "Function: {name}": "TOOL",
    "Guardrail {name!r} {triggered=}": "GUARDRAIL",
}

# Speech services' spans by their operation (Pipecat's): what a text-to-speech request said, its
# input, and what speech-to-text heard, its output, each in a key of its own.
SPEECH_IO = {"tts": ("input", "text"), "stt": ("output", "transcript")}

# Present keys that decide the type when nothing above did, in order.
TYPE_FROM_PRESENCE: tuple[tuple[str, str], ...] = (
    ("gen_ai.tool.name", "TOOL"),
    ("gen_ai.tool.call.id", "TOOL"),
    # LiveKit's llm_node: the step around its model call (its llm_request child, which reports
    # the usage); the context it sent as input, a GENERATION would have it counted twice.
    ("lk.pii.chat_ctx", "SPAN"),
    ("lk.chat_ctx", "SPAN"),
    ("langfuse.observation.model.name", "GENERATION"),
    ("gen_ai.request.model", "GENERATION"),
    ("gen_ai.response.model", "GENERATION"),
    ("llm.model_name", "GENERATION"),
    ("embedding.model_name", "EMBEDDING"),
    ("haystack.agent.step.llm.input", "GENERATION"),
    ("haystack.tool.name", "TOOL"),
    ("haystack.agent.max_steps", "AGENT"),
)

LEVEL_ALIASES = {
    "DEBUG": "DEBUG",
    "TRACE": "DEBUG",
    "VERBOSE": "DEBUG",
    "DEFAULT": "DEFAULT",
    "INFO": "DEFAULT",
    "OK": "DEFAULT",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "ERROR",
    "CRITICAL": "ERROR",
}

TAG_KEYS = ("langfuse.trace.tags", "langfuse.tags", "tag.tags", "ai.telemetry.metadata.tags")

# Input / output: keys holding the value as a whole, in precedence; flattened message
# forms and message events are consulted between the two groups (see apply.py).
# Pydantic AI's agent run holds the run's messages (its calls' are gen_ai.input.messages).
INPUT_FIRST = ("langfuse.observation.input", "gen_ai.input.messages", "pydantic_ai.all_messages")
OUTPUT_FIRST = ("langfuse.observation.output", "gen_ai.output.messages")
# Langfuse's own: an SDK reads the value back through Langfuse's API as it sent it,
# so it is stored as it came, never rewritten into GenAI messages (the UI reads both forms).
VERBATIM_IO = frozenset({"langfuse.observation.input", "langfuse.observation.output"})
# The trace's input and output (SDK 3-4 ``set_trace_io``/``update_trace``, JS ``setTraceIO``), set
# on any of its spans: the trace's, not that span's. They stay span attributes, which readers take
# as the trace's (storage.trace_io); a root span without its own input shows them as its input
# too (it stands for the trace in lists and searches), as before they were told apart.
TRACE_INPUT, TRACE_OUTPUT = "langfuse.trace.input", "langfuse.trace.output"
# Haystack's own tracing: a model call's, a tool's, an agent's, a component's, a pipeline's values
# (sent when its content tracing is on). A model call's model and usage are in its output (haystack.py).
HAYSTACK_INPUTS = (
    "haystack.agent.step.llm.input",
    "haystack.agent.step.tool.input",
    "haystack.agent.input",
    "haystack.component.input",
    "haystack.pipeline.input_data",
)
HAYSTACK_OUTPUTS = (
    "haystack.agent.step.llm.output",
    "haystack.agent.step.tool.output",
    "haystack.agent.output",
    "haystack.component.output",
    "haystack.pipeline.output_data",
)
HAYSTACK_CALL_OUTPUTS = ("haystack.agent.step.llm.output", "haystack.component.output")
# LiveKit Agents' values (``lk.pii.*`` since 1.8, ``lk.*`` before): an llm_node's context, a turn's
# user input, a user turn's transcript, a TTS request's text, a tool's arguments and output. A
# reply's text and function calls are one assistant message (as the AI SDK's: RESPONSE_TEXT).
LIVEKIT_INPUTS = (
    "lk.pii.chat_ctx",
    "lk.chat_ctx",
    "lk.pii.user_input",
    "lk.user_input",
    "lk.pii.user_transcript",
    "lk.user_transcript",
    "lk.pii.input_text",
    "lk.input_text",
    "lk.pii.function_tool.arguments",
    "lk.function_tool.arguments",
)
LIVEKIT_OUTPUTS = ("lk.pii.function_tool.output", "lk.function_tool.output")
RESPONSE_TEXT = ("ai.response.text", "lk.pii.response.text", "lk.response.text")
RESPONSE_CALLS = ("ai.response.toolCalls", "lk.pii.response.function_calls", "lk.response.function_calls")
# A Haystack component's type by its class's name (OpenAIChatGenerator, OllamaGenerator,
# OpenAITextEmbedder, InMemoryBM25Retriever, TransformersSimilarityRanker ...).
HAYSTACK_COMPONENT_TYPES = (
    ("Generator", "GENERATION"),
    ("Embedder", "EMBEDDING"),
    ("Retriever", "RETRIEVER"),
    ("Ranker", "RETRIEVER"),
)
# Its spans named for what they run rather than by it: shown by the name it gives that.
HAYSTACK_NAMES = {"haystack.component.run": "haystack.component.name", "haystack.agent.step.tool": "haystack.tool.name"}
# The AI SDK's: a call's messages, else its function's prompt (``{"system", "messages"|"prompt"}``),
# a tool's arguments, the values embedded; its object or its tool's result (its text and tool calls:
# apply.py). Then Pydantic AI's agent result and tool spans (its format 2), MLflow's span values,
# Google ADK's model requests, responses and tool calls (as JSON, in Gemini's shape), Genkit's, and
# last a plain ``input`` and ``output`` (Logfire's OpenAI Agents function spans, Pipecat's).
INPUT_LAST = (
    "traceloop.entity.input",
    "input.value",
    "gen_ai.tool.call.arguments",
    "tool.parameters",
    "ai.prompt.messages",
    "ai.prompt",
    "ai.toolCall.args",
    "ai.values",
    "ai.value",
    "tool_arguments",
    "mlflow.spanInputs",
    "gcp.vertex.agent.llm_request",
    "gcp.vertex.agent.tool_call_args",
    "genkit:input",
    *HAYSTACK_INPUTS,
    *LIVEKIT_INPUTS,
    "input",
)
OUTPUT_LAST = (
    "traceloop.entity.output",
    "output.value",
    "gen_ai.tool.call.result",
    "ai.response.object",
    "ai.toolCall.result",
    "final_result",
    "tool_response",
    "mlflow.spanOutputs",
    "gcp.vertex.agent.llm_response",
    "gcp.vertex.agent.tool_response",
    "genkit:output",
    *HAYSTACK_OUTPUTS,
    *LIVEKIT_OUTPUTS,
    "output",
)

# GenAI message events listed in one attribute (messages.from_event_list): Logfire's OpenAI Agents
# and Responses spans, Pydantic AI 0.x's agent run and model calls. Consulted after the span's
# own events.
EVENT_LISTS = ("all_messages_events", "events")

# Logfire's levels by number (``logfire.level_num``: trace 1, debug 5, info 9, notice 10, warn 13,
# error 17, fatal 21), the lowest of each observation level.
LOGFIRE_LEVELS = ((17, "ERROR"), (13, "WARNING"), (6, "DEFAULT"), (0, "DEBUG"))
# What Logfire puts in place of a value its scrubbing removes, by default that of every key naming
# a session (``session.id``, ``langfuse.session.id``): no session, rather than one for all traces.
LOGFIRE_SCRUBBED = "[Scrubbed due to "
SCRUBBED_COLUMNS = ("session_id", "user_id")
# Logfire's message and the template it names its span by (apply.span_name).
LOGFIRE_MESSAGE, LOGFIRE_TEMPLATE = "logfire.msg", "logfire.msg_template"

MODEL_PARAMETER_JSON = ("langfuse.observation.model.parameters", "llm.invocation_parameters")
# Seconds to the first chunk; the AI SDK 7's on its streamed calls (its OpenTelemetry integration).
TTFT_SECONDS = (
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.server.time_to_first_token",
    "gen_ai.client.operation.time_to_first_chunk",
)
TTFT_ISO = ("langfuse.observation.completion_start_time",)
METADATA_PREFIXES = (
    "langfuse.observation.metadata.",
    "langfuse.trace.metadata.",
    "langfuse.metadata.",
    "ai.telemetry.metadata.",
)
METADATA_JSON = ("langfuse.observation.metadata", "metadata")
USAGE_DETAILS_JSON = "langfuse.observation.usage_details"
COST_DETAILS_JSON = "langfuse.observation.cost_details"
LANGFUSE_TYPE = "langfuse.observation.type"
LANGFUSE_LEVEL = "langfuse.observation.level"

# Keys consumed by prefix rather than by name.
REQUEST_PARAMETER_PREFIX = "gen_ai.request."
FLATTENED_INPUT = ("gen_ai.prompt.", "llm.input_messages.", "llm.prompts.")
FLATTENED_OUTPUT = ("gen_ai.completion.", "llm.output_messages.", "llm.choices.")

# Every lookup by exact key, as one table: name -> keys in precedence. Names starting with
# "_" are inputs of derived fields rather than columns.
LOOKUPS: dict[str, tuple[str, ...]] = {
    **STRING_RULES,
    **TOKEN_RULES,
    **{f"_cost_{name}": keys for name, keys in COST_RULES.items()},
    "_in_first": INPUT_FIRST,
    "_out_first": OUTPUT_FIRST,
    "_in_last": INPUT_LAST,
    "_out_last": OUTPUT_LAST,
    "_trace_in": (TRACE_INPUT,),
    "_trace_out": (TRACE_OUTPUT,),
    "_system_instructions": ("gen_ai.system_instructions",),
    "_prompt_list": ("llm.prompts",),
    "_event_list": EVENT_LISTS,
    "_params_json": MODEL_PARAMETER_JSON,
    "_ttft_s": TTFT_SECONDS,
    "_ttft_iso": TTFT_ISO,
    "_ttft_ms": ("ai.response.msToFirstChunk", "ai.stream.msToFirstChunk"),
    "_tags": TAG_KEYS,
    "_usage_json": (USAGE_DETAILS_JSON,),
    "_cost_json": (COST_DETAILS_JSON,),
    "_lf_type": (LANGFUSE_TYPE,),
    "_lf_level": (LANGFUSE_LEVEL,),
    "_logfire_level": ("logfire.level_num",),
    "_oi_kind": ("openinference.span.kind",),
    "_framework_kind": ("traceloop.span.kind", "mastra.span.type", "logfire.msg_template"),
    "_ai_op": ("ai.operationId",),
    "_response_text": RESPONSE_TEXT,
    "_response_calls": RESPONSE_CALLS,
    "_ai_finish": ("ai.response.finishReason",),
    "_ai_tokens": ("ai.usage.tokens",),
    **{f"_ai_{column}": keys for column, keys in AI_SDK_DETAILS.items()},
    "_ai_details": AI_SDK_DETAIL_KEYS,
    "_ai_provider_metadata": ("ai.response.providerMetadata",),
    "_presence": tuple(key for key, _ in TYPE_FROM_PRESENCE),
    "_hs_component": ("haystack.component.type",),
    "_hs_call_out": HAYSTACK_CALL_OUTPUTS,
    **{f"_metadata_json{i}": (key,) for i, key in enumerate(METADATA_JSON)},
}
