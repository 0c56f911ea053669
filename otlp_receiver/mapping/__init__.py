"""Semantic-convention mapping: OTel GenAI, OpenInference, OpenLLMetry and Langfuse attributes
to Tracehouse's typed columns. Rules are data (rules.py); apply.py walks them."""

from otlp_receiver.mapping.apply import map_span

__all__ = ["map_span"]
