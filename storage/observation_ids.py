"""A Langfuse observation whose id is its trace's id is stored under a span id of its own.

Langfuse keeps traces and observations apart, so one id may name both: Langfuse's LangChain
handler for JavaScript makes its root run the trace and that trace's first span. Here a trace is
the row whose span id is the trace id, and two rows of one (trace, span) id become one when
ClickHouse merges them: the trace's name, user, session and tags were lost. Its span is stored as
``<id>`` + OWN_SPAN_SUFFIX instead, its children's parent likewise, and readers give the id back as
it was sent."""

from __future__ import annotations

__all__ = ["OWN_SPAN_SUFFIX", "sent_observation_id", "stored_observation_id"]

OWN_SPAN_SUFFIX = "~span"


def stored_observation_id(observation_id: str, trace_id: str | None) -> str:
    """The span id an observation (or a parent observation) id is stored under in ``trace_id``."""
    return observation_id + OWN_SPAN_SUFFIX if observation_id and observation_id == trace_id else observation_id


def sent_observation_id(span_id: str, trace_id: str) -> str:
    """The observation id a client sent, from the span id it is stored under in ``trace_id``."""
    return trace_id if span_id == trace_id + OWN_SPAN_SUFFIX else span_id
