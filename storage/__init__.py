"""Storage: the only package that speaks SQL (schema, migrations, backends, writer, readers, projects)."""

from tracehouse import compiled

compiled.install()  # before storage.attribute_codec is imported: its compiled form, if built

from storage.projects import ApiKey, KeyPair, Project
from storage.reader import Page, SpanQuery, TraceQuery
from storage.store import Store
from storage.writer import DECODED_SPAN_FIELDS, ESTIMATED_ATTRIBUTE, SPAN_SCHEMA

__all__ = [
    "DECODED_SPAN_FIELDS",
    "ESTIMATED_ATTRIBUTE",
    "SPAN_SCHEMA",
    "ApiKey",
    "KeyPair",
    "Page",
    "Project",
    "SpanQuery",
    "Store",
    "TraceQuery",
]
