"""The typed-attribute encoding (storage.attribute_codec) both ways, without a store: every
AnyValue the decoders may meet comes back from its stored text and tag as it was sent."""

from __future__ import annotations

from hypothesis import given, settings
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from storage.attribute_codec import anyvalue_from_text, anyvalue_json, read_attributes, restore_attributes, typed_text
from tests.otlp_strategies import any_values, attribute_lists


def _same(a: AnyValue, b: AnyValue) -> bool:
    # Compared in OTLP/JSON form: NaN payload bits may differ, NaN is NaN.
    return anyvalue_json(a) == anyvalue_json(b)


@settings(max_examples=300, deadline=None)
@given(any_values())
def test_every_value_comes_back_typed(value: AnyValue) -> None:
    _, text, tag = typed_text(value)
    assert _same(anyvalue_from_text(text, tag or None), value)


@settings(max_examples=100, deadline=None)
@given(attribute_lists())
def test_attribute_lists_keep_strings_untagged(kvs: list[KeyValue]) -> None:
    keys: list[str] = []
    values: list[str] = []
    type_keys: list[str] = []
    type_values: list[str] = []
    read_attributes(kvs, keys, values, type_keys, type_values)
    tags = dict(zip(type_keys, type_values, strict=True))
    last = {kv.key: kv.value for kv in kvs}
    stored = dict(zip(keys, values, strict=True))
    for key, value in last.items():
        assert (value.WhichOneof("value") == "string_value") == (key not in tags or tags[key] == "")
        assert _same(anyvalue_from_text(stored[key], tags.get(key)), value)


def test_values_stored_once_in_a_column_are_put_back() -> None:
    row = {
        "input": "the prompt",
        "output": "the answer",
        "span_attributes": {"gen_ai.prompt": "", "gen_ai.completion": "", "n": "3"},
        "span_attribute_types": {"gen_ai.prompt": "input", "gen_ai.completion": "output", "n": "int"},
    }
    restored = restore_attributes(row)
    assert restored["span_attributes"] == {"gen_ai.prompt": "the prompt", "gen_ai.completion": "the answer", "n": "3"}
    assert restored["span_attribute_types"] == {"n": "int"}


def test_unknown_tags_read_as_text() -> None:
    assert anyvalue_from_text("x", "a-tag-from-the-future").string_value == "x"
    assert anyvalue_from_text("", "empty").WhichOneof("value") is None
