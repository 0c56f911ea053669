"""Typed attributes, both ways: OTLP AnyValues to stored text + type tags, and back.

The one module that knows the encoding: the decoders write with it (``read_attributes``,
``typed_text``), the readers and the Tempo/OTLP encoder read with it (``restore_attributes``,
``anyvalue_from_text``).

Storage keeps every attribute as a string in a map, and names in a parallel map the
OTLP type of each value that is not a string, so that it can be given back typed:
``int`` and ``double`` as decimal text, ``bool`` as true/false, ``bytes`` as base64,
``array`` and ``kvlist`` as the OTLP/JSON form of the whole AnyValue, ``empty`` for an
unset value. Two more tags are written by the decoder: ``input`` and ``output`` mean the
value is the span's input or output column, stored there once (storage.reader restores it).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = [
    "MOVED_TO_COLUMN",
    "anyvalue_from_text",
    "anyvalue_json",
    "attributes_json",
    "read_attributes",
    "restore_attributes",
    "to_python",
    "typed_text",
]

# Attribute type tags meaning "the value is this column's text" (written once, see the decoder).
MOVED_TO_COLUMN = {"input": "input", "output": "output"}


def _double_json(x: float) -> float | str:
    # proto3 JSON writes non-finite doubles as strings.
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def anyvalue_json(v: Any) -> dict[str, Any]:
    """An AnyValue message in OTLP/JSON form (int64 as strings, bytes as base64)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "double_value":
        return {"doubleValue": _double_json(v.double_value)}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "array_value":
        return {"arrayValue": {"values": [anyvalue_json(x) for x in v.array_value.values]}}
    if which == "kvlist_value":
        return {
            "kvlistValue": {
                "values": [{"key": kv.key, "value": anyvalue_json(kv.value)} for kv in v.kvlist_value.values]
            }
        }
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode()}
    return {}


def attributes_json(kvs: Any) -> str:
    """A repeated KeyValue in OTLP/JSON form, as a string ("[]" when empty)."""
    if not kvs:
        return "[]"
    return orjson.dumps([{"key": kv.key, "value": anyvalue_json(kv.value)} for kv in kvs]).decode()


def to_python(v: Any) -> Any:
    """An AnyValue as a plain Python value (lists and dicts for arrays and kvlists)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        return [to_python(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value
    return None


def typed_text(v: Any) -> tuple[Any, str, str]:
    """(Python value, stored text, type tag) of one AnyValue; the tag is "" for a string."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value, v.string_value, ""
    if which == "int_value":
        return v.int_value, str(v.int_value), "int"
    if which == "double_value":
        return v.double_value, repr(v.double_value), "double"
    if which == "bool_value":
        return v.bool_value, ("true" if v.bool_value else "false"), "bool"
    if which == "array_value" or which == "kvlist_value":
        return to_python(v), orjson.dumps(anyvalue_json(v)).decode(), which[:-6]
    if which == "bytes_value":
        return v.bytes_value, base64.b64encode(v.bytes_value).decode(), "bytes"
    return None, "", "empty"


def read_attributes(
    kvs: Any, keys: list[str], values: list[str], type_keys: list[str], type_values: list[str]
) -> dict[str, Any]:
    """Append the attributes to the storage lists (string map + type map) and return them as a
    dict of Python values for the mapper. The last value of a repeated key wins, as in the SDKs."""
    native: dict[str, Any] = {}
    for kv in kvs:
        key = kv.key
        v = kv.value
        if v.WhichOneof("value") == "string_value":  # most attributes: the short path
            s = v.string_value
            native[key] = s
            keys.append(key)
            values.append(s)
            continue
        x, text, tag = typed_text(v)
        native[key] = x
        keys.append(key)
        values.append(text)
        type_keys.append(key)
        type_values.append(tag)
    return native


def anyvalue_from_text(text: str, tag: str | None) -> AnyValue:
    """The AnyValue a stored text and its type tag (None or "" for a string) stand for."""
    v = AnyValue()
    if not tag:
        v.string_value = text
    elif tag == "int":
        v.int_value = int(text)
    elif tag == "double":
        v.double_value = float(text)
    elif tag == "bool":
        v.bool_value = text == "true"
    elif tag == "bytes":
        v.bytes_value = base64.b64decode(text)
    elif tag in ("array", "kvlist"):
        json_format.ParseDict(orjson.loads(text), v)
    elif tag != "empty":
        v.string_value = text  # "input"/"output" rows restored already; unknown tags stay text
    return v


def restore_attributes(row: dict[str, Any]) -> dict[str, Any]:
    """Put back attribute values that were stored once, in the input or output column."""
    types = row.get("span_attribute_types")
    if types and ("input" in types.values() or "output" in types.values()):
        attrs = dict(row["span_attributes"])
        kept = {}
        for key, tag in types.items():
            if tag in MOVED_TO_COLUMN:
                attrs[key] = row[MOVED_TO_COLUMN[tag]]
            else:
                kept[key] = tag
        row["span_attributes"] = attrs
        row["span_attribute_types"] = kept
    return row
