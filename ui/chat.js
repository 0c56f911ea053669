// An input or output as the UI shows it: chat messages (GenAI parts, OpenAI, Anthropic) as a chat
// with their media, anything else as formatted JSON or text. The trace view and the annotation
// queue show them alike.
import { h, roleLabel } from "/ui/dom.js";
import { t } from "/ui/i18n.js";
import { MEDIA_REF, mediaElement, textWithMedia, withoutRefs } from "/ui/media.js";

export function parseJson(text) {
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

// Haystack's content blocks, one key each, as parts: its Langfuse integration sends its components'
// messages as they are. Its tracing puts a note of their size in place of images' and files' data.
function haystackPart(block) {
  const keys = Object.keys(block);
  const body = block[keys[0]];
  if (keys.length !== 1 || !body || typeof body !== "object") return null;
  if (keys[0] === "tool_call" && typeof body.tool_name === "string") {
    return { type: "tool_call", id: body.id, name: body.tool_name, arguments: body.arguments };
  }
  if (keys[0] === "tool_call_result") {
    const result = Array.isArray(body.result) && body.result.every((b) => typeof b?.text === "string")
      ? body.result.map((b) => b.text).join("\n") : body.result;
    return { type: "tool_call_response", response: result };
  }
  if (keys[0] === "reasoning" && typeof body.reasoning_text === "string") return { type: "reasoning", content: body.reasoning_text };
  if (keys[0] === "image" || keys[0] === "file") {
    const data = keys[0] === "image" ? body.base64_image : body.base64_data;
    if (typeof data !== "string" || !data) return null;
    if (data.startsWith("Base64 string (")) return { type: "text", content: `[${keys[0]} ${body.filename || body.mime_type || ""}: ${data}]` };
    return { type: "media", value: `data:${body.mime_type || "application/octet-stream"};base64,${data}`, mime: body.mime_type, label: keys[0] };
  }
  return null;
}

// A content block of a message (OpenAI, Anthropic, GenAI semantic conventions, Haystack) as a part.
function blockPart(block) {
  if (block.type === "image_url") return { type: "media", value: block.image_url?.url ?? block.image_url, label: "image" };
  if (block.type === "input_audio" && block.input_audio) {
    return { type: "media", value: `data:audio/${block.input_audio.format || "wav"};base64,${block.input_audio.data}`,
      label: "audio" };
  }
  if ((block.type === "image" || block.type === "document") && block.source) {
    const src = block.source;
    const value = src.type === "base64" && !String(src.data).startsWith("@@@")
      ? `data:${src.media_type};base64,${src.data}` : src.url || src.data;
    return { type: "media", value, mime: src.media_type, label: block.type };
  }
  return block.type === undefined ? haystackPart(block) : null;
}

// LangChain's message types (its dumps' "type", or its class's name) as roles: Langfuse's LangChain
// handler stores LangChain's values as they are, LangGraph's state among them.
const LANGCHAIN_ROLES = {
  human: "user", user: "user", ai: "assistant", assistant: "assistant", system: "system", developer: "developer",
  tool: "tool", function: "function", HumanMessage: "user", HumanMessageChunk: "user", AIMessage: "assistant",
  AIMessageChunk: "assistant", SystemMessage: "system", ToolMessage: "tool", FunctionMessage: "function",
};
const langchainRole = (kind) => (typeof kind === "string" && Object.hasOwn(LANGCHAIN_ROLES, kind) ? LANGCHAIN_ROLES[kind] : null);

// A message as {role, ...}: one with a role; a LangChain (role, text) pair; a LangChain message
// dumped ({type, content}), in messages_to_dict's {type, data} or serialized ({lc, id, kwargs}).
// null for anything else.
function asMessage(m) {
  if (Array.isArray(m)) {
    const role = m.length === 2 && typeof m[1] === "string" ? langchainRole(m[0]) : null;
    return role ? { role, content: m[1] } : null;
  }
  if (!m || typeof m !== "object") return null;
  if (typeof m.role === "string") return m;
  let body = m;
  let kind = m.type;
  if (m.lc === 1 && m.kwargs && typeof m.kwargs === "object" && Array.isArray(m.id)) {
    body = m.kwargs;
    kind = m.kwargs.type || m.id[m.id.length - 1];
  } else if (m.data && typeof m.data === "object" && typeof m.type === "string") {
    body = m.data;
  } else if (!("content" in m)) {
    return null;
  }
  const role = kind === "chat" ? body.role : langchainRole(kind);
  return typeof role === "string" ? { ...body, role } : null;
}

// A message's tool calls: its own (OpenAI's, LangChain's), else those LangChain keeps in its
// additional_kwargs, which Langfuse's LangChain handlers send beside an empty text; OpenAI's
// older function_call as one call.
function toolCalls(message) {
  if (Array.isArray(message.tool_calls) && message.tool_calls.length) return message.tool_calls;
  const extra = message.additional_kwargs && typeof message.additional_kwargs === "object" ? message.additional_kwargs : {};
  if (Array.isArray(extra.tool_calls) && extra.tool_calls.length) return extra.tool_calls;
  const legacy = message.function_call || extra.function_call;
  return legacy && typeof legacy === "object" ? [legacy] : [];
}

export function partsOf(message) {
  if (Array.isArray(message.parts)) return message.parts;
  const content = message.content;
  const parts = [];
  if (typeof content === "string") parts.push({ type: "text", content });
  else if (content && typeof content === "object" && !Array.isArray(content)) {
    parts.push({ type: "value", content }); // a value, not text: tool definitions as the LangChain handler of Langfuse lists them
  } else if (typeof content === "number" || typeof content === "boolean") parts.push({ type: "text", content: String(content) });
  else if (Array.isArray(content)) {
    for (const block of content) {
      const part = block && typeof block === "object" ? blockPart(block) : null;
      if (part) parts.push(part);
      else if (typeof block === "string") parts.push({ type: "text", content: block });
      else if (block && (block.text || block.content)) parts.push({ type: "text", content: block.text || block.content });
      else if (block) parts.push({ type: block.type || "part", content: JSON.stringify(block) });
    }
  }
  for (const call of toolCalls(message)) {
    const fn = call.function || call;
    parts.push({ type: "tool_call", id: call.id, name: fn.name, arguments: fn.arguments ?? call.args });
  }
  return parts;
}

// Messages (GenAI parts or OpenAI style) as a chat; anything else as formatted JSON or text.
export function renderIo(label, text) {
  if (!text) return null;
  const value = parseJson(text);
  // A list of messages, {messages: [...]} (a request, LangGraph's state), or one message (an output
  // such as OpenAI's choices[0].message); every item a message, else the value as JSON.
  const listed = Array.isArray(value) ? value : value && Array.isArray(value.messages) ? value.messages : null;
  let messages = listed?.length ? listed.map(asMessage) : null;
  if (messages && !messages.every(Boolean)) messages = null;
  if (!messages && listed === null) {
    // A streamed answer's tool calls alone (Langfuse's OpenAI wrapper for JavaScript): the assistant's.
    const calls = value && typeof value === "object" && Object.keys(value).length === 1 && Array.isArray(value.tool_calls);
    const one = calls ? { role: "assistant", tool_calls: value.tool_calls } : asMessage(value);
    messages = one && ("content" in one || "parts" in one || "tool_calls" in one) ? [one] : null;
  }
  // The tools a request offered ({messages, tools}: OpenAI's request as Langfuse's OpenAI wrapper
  // records it), shown before its messages.
  const tools = messages && !Array.isArray(value) && Array.isArray(value?.tools) && value.tools.length ? value.tools : null;
  let body;
  if (messages) {
    const offered = tools ? [h("div", { class: "msg tools" }, h("div", { class: "role", text: t("Tools") }),
      ...tools.map((tool) => {
        const fn = tool?.function || tool;
        return h("div", { class: "part tool" }, h("strong", { text: String(fn?.name ?? "") }),
          h("pre", { text: JSON.stringify(tool, null, 2) }));
      }))] : [];
    body = h("div", { class: "chat" }, ...offered, ...messages.map((m) => h("div", { class: `msg role-${m.role}` },
      h("div", { class: "role", text: roleLabel(m.role) }),
      ...partsOf(m).map((p) => {
        if (p.type === "text" || p.type === "reasoning") return textWithMedia(String(p.content ?? ""), `part ${p.type}`);
        if (p.type === "media") return h("div", { class: "part media" }, mediaElement(p.value, p.mime, p.label));
        if (p.type === "tool_call") {
          const args = typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}, null, 2);
          return h("div", { class: "part tool" }, h("strong", { text: `→ ${p.name}` }), h("pre", { text: args }));
        }
        if (p.type === "tool_call_response") {
          const response = typeof p.response === "string" ? p.response : JSON.stringify(p.response, null, 2);
          return h("div", { class: "part tool" }, h("strong", { text: t("← result") }), h("pre", { text: response }));
        }
        if (p.type === "value") return h("pre", { class: "part", text: JSON.stringify(p.content, null, 2) });
        if (p.type === "uri") return h("div", { class: "part media" }, mediaElement(p.uri, p.mime_type, p.modality));
        if (p.type === "blob") {
          return h("div", { class: "part media" },
            mediaElement(`data:${p.mime_type || "application/octet-stream"};base64,${p.content}`, p.mime_type, p.modality));
        }
        return h("pre", { class: "part", text: JSON.stringify(p, null, 2) });
      }))));
  } else if (value !== undefined && typeof value === "object") {
    body = h("pre", { class: "json", text: withoutRefs(JSON.stringify(value, null, 2)) });
  } else {
    body = h("pre", { class: "text", text: withoutRefs(text) });
  }
  if (!messages) {
    // Files referenced anywhere in a JSON or text body, shown under it.
    const refs = [...text.matchAll(MEDIA_REF)];
    if (refs.length) body = h("div", {}, body, h("div", { class: "media-strip" }, ...refs.map((m) => mediaElement(m[0], m[1]))));
  }
  return h("section", { class: "io" }, h("h3", { text: label }), body);
}
