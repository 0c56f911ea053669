"""Prompt management: versioned prompts with labels, tags and composition, served to the Langfuse
SDKs and the UI, and the rules they keep (Langfuse's). Storage is ``storage.prompts``."""

from prompts.service import CACHE_TTL_S, NewPrompt, PromptConflict, PromptService, ServedPrompt, parse_new

__all__ = ["CACHE_TTL_S", "NewPrompt", "PromptConflict", "PromptService", "ServedPrompt", "parse_new"]
