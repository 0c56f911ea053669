"""Model connections and calls: per-project OpenAI-compatible or Anthropic endpoints with their keys
sealed at rest, and one chat call used by experiments from the UI and by LLM-as-a-judge."""

from llm.client import ChatResult, ModelError, chat
from llm.connections import ConnectionService, ConnectionView

__all__ = ["ChatResult", "ConnectionService", "ConnectionView", "ModelError", "chat"]
