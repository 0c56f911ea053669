"""Chat messages from every convention, normalized to one JSON format: the OTel GenAI one.

    [{"role": "user", "parts": [{"type": "text", "content": "hi"}]},
     {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {...}}],
      "finish_reason": "tool_call"},
     {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": ...}]}]

Inputs handled: GenAI ``parts`` messages (kept as they are), OpenAI-style messages
(``content`` string or blocks, ``tool_calls``, ``tool_call_id``), Anthropic blocks
(``tool_use``, ``tool_result``), the AI SDK's (``tool-call``, ``tool-result`` blocks), LangChain's
as its instrumentations write them (``{"type": "ai", "data": ...}``, ``{"lc": 1, "kwargs": ...}``,
``("user", "text")`` pairs, inside ``{"inputs"|"outputs": {"messages": ...}}``), request
bodies ``{"system"?, "messages": [...]}`` (OpenInference, Anthropic, the AI SDK's prompt, which may
hold a ``prompt`` instead), flattened attributes (OpenLLMetry ``gen_ai.prompt.N.*``, OpenInference
``llm.input_messages.N.message.*``), GenAI message events and lists of them in one attribute
(Logfire's ``events``, Pydantic AI 0.x's ``all_messages_events``), Haystack's ChatMessages (content
blocks of one key each: ``text``, ``tool_call``, ``tool_call_result``, ``reasoning``, ``image``,
``file``; a generator's ``{"replies": [...]}``), LiveKit's chat context (``{"items": [...]}``). A
value that is not messages is kept as it came.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = [
    "assistant_response",
    "from_event_list",
    "from_events",
    "from_flattened",
    "normalize",
    "to_json",
    "tool_events",
]

INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def to_json(value: Any) -> str:
    """``value`` as compact JSON. Past orjson's depth (254 levels) or 64-bit integers, the standard
    library's encoder; past that too (a value a thousand levels deep), "": the attribute it came
    from keeps its text, and one odd value never fails its request."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:
        try:
            return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
        except (RecursionError, TypeError, ValueError):
            return ""


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.lstrip()
        if text[:1] in ("[", "{"):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
    return value


def _tool_call(call: Any) -> dict[str, Any] | None:
    if not isinstance(call, dict):
        return None
    nested = call.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else call
    name = function.get("name", function.get("toolName"))  # the AI SDK's: toolName, toolCallId, input/args
    if name is None:
        return None
    arguments = _maybe_json(function.get("arguments", function.get("input", function.get("args"))))
    # The id its result answers: a Responses item's (and LiveKit's) call_id, not its own id.
    ident = call.get("call_id") or call.get("id", call.get("toolCallId"))
    part: dict[str, Any] = {"type": "tool_call", "id": ident, "name": name}
    if arguments is not None:
        part["arguments"] = arguments
    return part


def _text_of(result: Any) -> Any:
    """A tool's result: its text where it is a list of text blocks, else as it came."""
    if isinstance(result, list) and result:
        texts = [b["text"] for b in result if isinstance(b, dict) and isinstance(b.get("text"), str)]
        if len(texts) == len(result):
            return "\n".join(texts)
    return result


# Amazon Bedrock's Converse content blocks, one key each (Strands Agents sends its messages so).
_CONVERSE_BLOCKS = frozenset({"toolUse", "toolResult", "reasoningContent"})


def _converse_part(block: dict[str, Any]) -> dict[str, Any] | None:
    """A Converse block (``{"toolUse": {"toolUseId", "name", "input"}}``, ``{"toolResult":
    {"toolUseId", "content"}}``, ``{"reasoningContent": {"reasoningText": {"text"}}}``) as a part."""
    kind, body = next(iter(block.items()))
    if not isinstance(body, dict):
        return None
    if kind == "toolUse":
        name = body.get("name")
        if not isinstance(name, str):
            return None
        return {"type": "tool_call", "id": body.get("toolUseId"), "name": name, "arguments": body.get("input")}
    if kind == "toolResult":
        return {"type": "tool_call_response", "id": body.get("toolUseId"), "response": _text_of(body.get("content"))}
    reasoning = body.get("reasoningText")
    text = reasoning.get("text") if isinstance(reasoning, dict) else None
    return {"type": "reasoning", "content": text} if isinstance(text, str) else None


# Haystack's ChatMessage content blocks, one key each (its tracing serializes messages so).
_HAYSTACK_BLOCKS = frozenset({"tool_call", "tool_call_result", "reasoning", "image", "file"})


def _haystack_part(block: dict[str, Any]) -> dict[str, Any] | None:
    """A Haystack block as a part: ``{"tool_call": {"tool_name", "arguments", "id"}}``,
    ``{"tool_call_result": {"result", "origin": {its call}, "error"}}``, ``{"reasoning":
    {"reasoning_text"}}``, ``{"image": {"base64_image", "mime_type"}}``, ``{"file": {"base64_data",
    "mime_type", "filename"}}``. Its tracing replaces images' and files' data with a note of their size."""
    kind, body = next(iter(block.items()))
    if not isinstance(body, dict):
        return None
    if kind == "tool_call":
        name = body.get("tool_name")
        if not isinstance(name, str):
            return None
        return {"type": "tool_call", "id": body.get("id"), "name": name, "arguments": body.get("arguments")}
    if kind == "tool_call_result":
        origin = body.get("origin")
        call_id = origin.get("id") if isinstance(origin, dict) else None
        return {"type": "tool_call_response", "id": call_id, "response": _text_of(body.get("result"))}
    if kind == "reasoning":
        text = body.get("reasoning_text")
        return {"type": "reasoning", "content": text} if isinstance(text, str) else None
    data = body.get("base64_image" if kind == "image" else "base64_data")
    mime = body.get("mime_type")
    if not isinstance(data, str) or not data:
        return None
    if data.startswith("Base64 string ("):  # not sent: what it was, as text
        label = body.get("filename") if kind == "file" else mime
        what = f"{kind} {label}" if isinstance(label, str) and label else kind
        return {"type": "text", "content": f"[{what}: {data}]"}
    part: dict[str, Any] = {"type": "blob", "modality": kind if kind == "image" else "file", "content": data}
    if isinstance(mime, str):
        part["mime_type"] = mime
    return part


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return [{"type": "text", "content": to_json(content)}]
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
            continue
        if not isinstance(block, dict):
            continue
        if len(block) == 1 and next(iter(block)) in _CONVERSE_BLOCKS:
            part = _converse_part(block)
            if part:
                parts.append(part)
            continue
        if len(block) == 1 and next(iter(block)) in _HAYSTACK_BLOCKS:
            part = _haystack_part(block)
            if part:
                parts.append(part)
            continue
        kind = block.get("type")
        if "message_content" in block and isinstance(block["message_content"], dict):  # OpenInference
            block = block["message_content"]
            kind = block.get("type")
        if kind in ("text", "input_text", "output_text", None) and ("text" in block or "content" in block):
            parts.append({"type": "text", "content": block.get("text", block.get("content"))})
        elif kind in ("image_url", "image", "input_image"):
            url = block.get("image_url") or block.get("url") or block.get("image")
            if isinstance(url, dict):
                url = url.get("url") or (url.get("image") or {}).get("url")
            parts.append({"type": "uri", "modality": "image", "uri": url if isinstance(url, str) else None})
        elif kind in ("tool_use", "tool-call"):
            call = _tool_call(block)
            if call:
                parts.append(call)
        elif kind == "tool_result":
            parts.append(
                {"type": "tool_call_response", "id": block.get("tool_use_id"), "response": block.get("content")}
            )
        elif kind == "tool-result":  # the AI SDK's: its output typed, {"type": "json", "value": ...}
            output = block.get("output", block.get("result"))
            if isinstance(output, dict) and "type" in output and "value" in output:
                output = output["value"]
            parts.append({"type": "tool_call_response", "id": block.get("toolCallId"), "response": output})
        elif kind in ("reasoning", "thinking"):
            parts.append({"type": "reasoning", "content": block.get("thinking", block.get("content"))})
        elif kind is not None:
            parts.append(block)  # already a GenAI part, or a type we pass through untouched
    return parts


# LangChain's message types (its serialized "type", or its class's name) as roles.
_LANGCHAIN_ROLES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "HumanMessage": "user",
    "HumanMessageChunk": "user",
    "AIMessage": "assistant",
    "AIMessageChunk": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
}


def _from_langchain(raw: Any) -> dict[str, Any] | None:
    """A LangChain message as its instrumentations serialize it, in OpenAI's shape: messages_to_dict's
    ``{"type", "data"}``, dumpd's ``{"lc": 1, "id": [..., class], "kwargs"}``, or a (role, text) pair."""
    if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str) and isinstance(raw[1], str):
        role = _LANGCHAIN_ROLES.get(raw[0])
        return {"role": role, "content": raw[1]} if role else None
    if not isinstance(raw, dict):
        return None
    kwargs, data = raw.get("kwargs"), raw.get("data")
    if raw.get("lc") == 1 and isinstance(kwargs, dict) and isinstance(raw.get("id"), list) and raw["id"]:
        body, kind = kwargs, kwargs.get("type") or raw["id"][-1]
    elif isinstance(data, dict) and isinstance(raw.get("type"), str):
        body, kind = data, raw["type"]
    else:
        return None
    role = body.get("role") if kind == "chat" else _LANGCHAIN_ROLES.get(kind) if isinstance(kind, str) else None
    if not isinstance(role, str):
        return None
    message = {"role": role, "content": body.get("content"), "tool_calls": body.get("tool_calls") or []}
    if body.get("tool_call_id"):
        message["tool_call_id"] = body["tool_call_id"]
    return message


def _message(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or "role" not in raw:
        raw = _from_langchain(raw) or raw
    if not isinstance(raw, dict):
        return None
    if "message" in raw and isinstance(raw["message"], dict) and "role" not in raw:
        inner = dict(raw["message"])  # gen_ai.choice body, OpenInference message wrapper
        if "finish_reason" in raw:
            inner.setdefault("finish_reason", raw["finish_reason"])
        raw = inner
    role = raw.get("role")
    if not isinstance(role, str):
        return None
    message: dict[str, Any] = {"role": role}
    if isinstance(raw.get("parts"), list):
        message["parts"] = raw["parts"]
    else:
        parts = _content_parts(raw.get("content") if "content" in raw else raw.get("contents"))
        calls = raw.get("tool_calls") or []
        if calls:
            # A call already among the content's blocks is not added twice (OpenTelemetry's Bedrock
            # instrumentation sends Converse's toolUse blocks and the same calls as tool_calls).
            in_content = {p["id"] for p in parts if p.get("type") == "tool_call" and isinstance(p.get("id"), str)}
            for call in calls:
                part = _tool_call(call.get("tool_call", call) if isinstance(call, dict) else call)
                if part and not (isinstance(part["id"], str) and part["id"] in in_content):
                    parts.append(part)
        if role == "tool" and (raw.get("tool_call_id") or raw.get("id")):
            response = parts[0].get("content") if len(parts) == 1 and parts[0]["type"] == "text" else parts
            if not parts and isinstance(raw.get("content"), dict):  # a value, not content (Strands' tool's)
                response = raw["content"]
            parts = [
                {"type": "tool_call_response", "id": raw.get("tool_call_id") or raw.get("id"), "response": response}
            ]
        message["parts"] = parts
    for key in ("name", "finish_reason"):
        if raw.get(key) is not None:
            message[key] = raw[key]
    return message


# LiveKit's chat context items (``{"items": [...]}``, its ChatContext.to_dict) that are no messages.
_LIVEKIT_OTHER_ITEMS = frozenset({"agent_handoff", "agent_config_update"})


def _from_livekit(items: list[Any]) -> list[dict[str, Any]] | None:
    """LiveKit's chat context items as OpenAI-shaped messages: its messages (content a list of
    text and blocks), function calls (into the assistant's message before them) and their outputs;
    its handoffs and configuration updates left out. None where an item is none of these."""
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message" and isinstance(item.get("role"), str):
            content = item.get("content")
            if isinstance(content, list):  # its cache breakpoints are no content
                content = [c for c in content if not (isinstance(c, dict) and c.get("type") == "cache_breakpoint")]
            out.append({"role": item["role"], "content": content})
        elif kind == "function_call":
            function = {"name": item.get("name"), "arguments": item.get("arguments")}
            call = {"id": item.get("call_id"), "function": function}
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append({"role": "tool", "tool_call_id": item.get("call_id"), "name": item.get("name"),
                        "content": item.get("output")})  # fmt: skip
        elif kind not in _LIVEKIT_OTHER_ITEMS:
            return None
    return out


def _messages(value: Any) -> list[dict[str, Any]] | None:
    system: Any = None
    if isinstance(value, dict) and set(value) == {"items"} and isinstance(value["items"], list):
        value = _from_livekit(value["items"])
    if isinstance(value, dict):
        for wrapper in ("inputs", "outputs"):  # OpenLLMetry's LangChain spans: {"inputs": {...}, "tags": ...}
            inner = value.get(wrapper)
            if isinstance(inner, dict) and isinstance(inner.get("messages"), list):
                value = inner
        if isinstance(value.get("messages"), list):  # a request body: its system prompt goes first
            system, value = value.get("system"), value["messages"]
        elif isinstance(value.get("replies"), list):  # a Haystack chat generator's output
            value = value["replies"]
        elif set(value) <= {"system", "prompt"} and isinstance(value.get("prompt"), (str, list)):
            system, prompt = value.get("system"), value["prompt"]  # the AI SDK's prompt: text or messages
            value = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
    if not isinstance(value, list) or not value:
        return None
    out = [{"role": "system", "parts": _content_parts(system)}] if system else []
    for raw in value:
        message = _message(raw)
        if message is None:
            return None
        out.append(message)
    return out


def normalize(value: Any) -> str:
    """The value as normalized messages JSON when it holds messages, else as it came (text or JSON)."""
    parsed = _maybe_json(value)
    messages = _messages(parsed)
    if messages is not None:
        if messages == parsed and isinstance(value, str):
            return value  # already in this format: keep the sender's exact text
        return to_json(messages)
    if isinstance(value, str):
        return value
    return to_json(value)


def assistant_response(text: Any, tool_calls: Any, finish_reason: Any) -> str | None:
    """A reply given as its text and its tool calls apart (the AI SDK's ``ai.response.text``,
    ``.toolCalls``, ``.finishReason``; LiveKit's ``lk.pii.response.text``, ``.function_calls``) as
    an assistant message; tool calls that are not, as they came; None without either."""
    parts: list[dict[str, Any]] = [{"type": "text", "content": text}] if isinstance(text, str) and text else []
    calls = _maybe_json(tool_calls)
    for call in calls if isinstance(calls, list) else ():
        part = _tool_call(call)
        if part:
            parts.append(part)
    if not parts:
        return tool_calls if isinstance(tool_calls, str) and tool_calls and calls != [] else None
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if isinstance(finish_reason, str) and finish_reason:
        message["finish_reason"] = finish_reason
    return to_json([message])


def system_message(instructions: Any) -> dict[str, Any] | None:
    """``gen_ai.system_instructions`` (a parts array, or text) as a system message."""
    parsed = _maybe_json(instructions)
    parts = _content_parts(parsed)
    return {"role": "system", "parts": parts} if parts else None


def _unflatten(attrs: dict[str, Any], prefix: str) -> list[Any]:
    """``prefix.0.role = x`` style keys as a list of nested dicts (only numeric first segments)."""
    root: dict[Any, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        path = key[len(prefix) :].split(".")
        if not path[0].isdigit():
            continue
        node = root
        for segment in path[:-1]:
            step = int(segment) if segment.isdigit() else segment
            child = node.get(step)
            if not isinstance(child, dict):
                child = node[step] = {}
            node = child
        last = path[-1]
        node[int(last) if last.isdigit() else last] = value

    def listify(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node and all(isinstance(k, int) for k in node):
            return [listify(node[k]) for k in sorted(node)][:10_001]
        return {k: listify(v) for k, v in node.items()}

    result = listify(root)
    return result if isinstance(result, list) else []


# Role-less items of the legacy completions API, as text: OpenInference's ``llm.prompts.N.prompt.text``
# and ``llm.choices.N.completion.text``.
_TEXT_WRAPPERS = ("prompt", "completion")
# OpenLLMetry's completions prompt, ``gen_ai.prompt.0.user``: the role is the key.
_ROLE_KEYS = ("user", "system", "assistant")


def _roleless(item: dict[str, Any], role: str) -> dict[str, Any]:
    """A flattened item without a role as a message of ``role`` (its text where it is wrapped)."""
    for wrapper in _TEXT_WRAPPERS:
        inner = item.get(wrapper)
        if isinstance(inner, dict) and "text" in inner:
            message = {"role": role, "content": inner["text"]}
            if item.get("finish_reason") is not None:
                message["finish_reason"] = item["finish_reason"]
            return message
    if len(item) == 1:
        key, value = next(iter(item.items()))
        if key in _ROLE_KEYS and isinstance(value, str):
            return {"role": key, "content": value}
    return {"role": role, **item}


def from_flattened(attrs: dict[str, Any], prefix: str, role: str = "assistant") -> str | None:
    """Messages from flattened attributes (``gen_ai.prompt.`` or ``llm.input_messages.`` ...);
    ``role``: that of an item without one (the completions API's prompts and choices). None
    when no message holds anything, so that the span's other values show."""
    items = _unflatten(attrs, prefix)
    if not items:
        return None
    messages = []
    for item in items:
        if isinstance(item, dict) and "message" in item and isinstance(item["message"], dict):
            item = item["message"]
        if isinstance(item, dict) and "role" not in item:
            item = _roleless(item, role)
        message = _message(item) if isinstance(item, dict) else None
        if message is not None:
            messages.append(message)
    return to_json(messages) if any(m["parts"] for m in messages) else None


def from_prompt_list(value: Any) -> str | None:
    """The completions API's prompts as one attribute, a list of strings (OpenInference's
    ``llm.prompts`` from its LlamaIndex instrumentation), as user messages."""
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        return None
    return to_json([{"role": "user", "parts": _content_parts(p)} for p in value])


def from_events(events: list[tuple[str, dict[str, Any]]]) -> tuple[str | None, str | None]:
    """(input, output) from GenAI message events: per-message events (v1.28-1.36), the
    operation-details event (v1.37+) and the prompt/completion content events (<= v1.27)."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    raw_in: str | None = None
    raw_out: str | None = None
    for name, attrs in events:
        if name in INPUT_EVENTS:
            body = dict(attrs)
            body.setdefault("role", INPUT_EVENTS[name])
            body["content"] = _maybe_json(body.get("content"))
            body["tool_calls"] = _maybe_json(body.get("tool_calls"))
            message = _message(body)
            if message:
                inputs.append(message)
        elif name == "gen_ai.choice":
            body = {k: _maybe_json(v) for k, v in attrs.items()}
            message_body = body.get("message")
            inner: dict[str, Any] = message_body if isinstance(message_body, dict) else body
            if message_body is not None and not isinstance(message_body, dict):  # Strands': its content
                inner = {"content": message_body}
            choice = {"role": "assistant", **inner}
            if "finish_reason" in body:
                choice["finish_reason"] = body["finish_reason"]
            message = _message(choice)
            if message:
                outputs.append(message)
        elif name == "gen_ai.client.inference.operation.details":
            if attrs.get("gen_ai.input.messages") is not None:
                raw_in = normalize(attrs["gen_ai.input.messages"])
                system = system_message(attrs.get("gen_ai.system_instructions"))
                if system:
                    raw_in = prepend(raw_in, system)
            if attrs.get("gen_ai.output.messages") is not None:
                raw_out = normalize(attrs["gen_ai.output.messages"])
        elif name == "gen_ai.content.prompt" and attrs.get("gen_ai.prompt") is not None:
            raw_in = normalize(attrs["gen_ai.prompt"])
        elif name == "gen_ai.content.completion" and attrs.get("gen_ai.completion") is not None:
            raw_out = normalize(attrs["gen_ai.completion"])
    return (to_json(inputs) if inputs else raw_in), (to_json(outputs) if outputs else raw_out)


def tool_events(events: list[tuple[str, dict[str, Any]]]) -> tuple[str | None, str | None] | None:
    """A tool's own span whose arguments and result came as message events (Strands Agents: a
    ``gen_ai.tool.message`` whose content is the arguments, a ``gen_ai.choice`` whose message is
    the result): (arguments, result) as values, not as a tool's answer to a call and an
    assistant's reply. None where the events are not so."""
    sent = [attrs for name, attrs in events if name in INPUT_EVENTS]
    if len(sent) != 1 or not any(name == "gen_ai.tool.message" for name, _ in events):
        return None
    arguments = sent[0].get("content")
    raw_in = arguments if isinstance(arguments, str) else (to_json(arguments) if arguments is not None else None)
    raw_out = None
    for name, attrs in events:
        if name == "gen_ai.choice":
            result = _text_of(_maybe_json(attrs.get("message", attrs.get("content"))))
            raw_out = result if isinstance(result, str) else to_json(result)
    return raw_in, raw_out


def from_event_list(value: Any) -> tuple[str | None, str | None]:
    """(input, output) from GenAI message events listed in one attribute, each an object with its
    ``event.name`` (Logfire's ``events``: its OpenAI Agents and Responses spans; Pydantic AI 0.x's
    ``all_messages_events``). Its choices are the output; without any, the assistant's messages
    after the last of any other role (which the instrumentations append to the request's).
    Anything else: (None, None)."""
    parsed = _maybe_json(value)
    if not isinstance(parsed, list) or not parsed:
        return None, None
    events: list[tuple[str, dict[str, Any]]] = []
    for item in parsed:
        name = item.get("event.name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.startswith("gen_ai."):
            return None, None
        events.append((name, {k: v for k, v in item.items() if k != "event.name"}))
    if any(name == "gen_ai.choice" for name, _ in events):
        return from_events(events)
    split = len(events)
    while split and events[split - 1][0] == "gen_ai.assistant.message":
        split -= 1
    if split == 0:  # nothing but the assistant's: no request to tell its answer from
        return from_events(events)[0], None
    asked = from_events(events[:split])[0]
    answered = from_events(events[split:])[0] if split < len(events) else None
    return asked, answered


def prepend(messages_json: str, message: dict[str, Any]) -> str:
    """Put ``message`` first in a messages JSON array (unchanged if the value is not one, or
    starts with it already: OpenLIT sends its system instructions in both places)."""
    try:
        parsed = orjson.loads(messages_json)
    except orjson.JSONDecodeError:
        return messages_json
    if not isinstance(parsed, list) or (parsed and _message(parsed[0]) == message):
        return messages_json
    return to_json([message, *parsed])
