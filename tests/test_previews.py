"""Previews of inputs and outputs in lists, and the JSON escapes of text beyond ASCII: what each
shape of input gives, garbage included (storage.previews, storage.escapes)."""

import json

import pytest

from storage.escapes import needles, readable
from storage.previews import preview

LONG = "x" * 2000


def test_a_chat_is_previewed_by_its_newest_question_and_what_followed() -> None:
    chat = [
        {"role": "system", "content": "be brief " * 300},
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": [{"type": "text", "text": "看图"}, {"type": "image_url", "url": "x"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "content": LONG},
    ]
    got = json.loads(preview(json.dumps(chat), 1000))
    assert [m["role"] for m in got] == ["user", "assistant", "tool"]
    assert got[0]["content"] == "看图" and got[1]["content"] == '[{"id":"c1"}]'
    assert got[2]["content"].endswith("…") and len(got[2]["content"]) < 1000
    # {"messages": [...]} and one message alike; short text whole, as it came.
    assert json.loads(preview(json.dumps({"messages": chat[:2]}), 1000)) == [{"role": "user", "content": "first?"}]
    answer = json.loads(preview(json.dumps({"role": "assistant", "content": LONG}), 1000))
    assert answer == [{"role": "assistant", "content": LONG[:999] + "…"}]
    assert preview('{"role": "user", "content": "hi"}', 1000) == '{"role": "user", "content": "hi"}'


@pytest.mark.parametrize(
    "garbage",
    [LONG, "[" + LONG, json.dumps([{"role": 1, "content": LONG}]), json.dumps([1, 2, LONG]), json.dumps({"a": LONG}),
     json.dumps([{"role": "user", "content": [1, None, {"x": 2}, LONG]}]), json.dumps(LONG), "\\ud83d" + LONG],
)  # fmt: skip
def test_anything_else_is_cut_and_nothing_fails(garbage: str) -> None:
    out = preview(garbage, 1000)
    assert 0 < len(out) <= 1100  # cut (as messages: with some characters of JSON around them)


def test_escapes_beyond_ascii_are_given_their_characters_back() -> None:
    whole = json.dumps([{"c": '我想退货 😀 École "q" \\u4f60'}])  # as Python's json.dumps writes it
    assert readable(whole) == '[{"c": "我想退货 😀 École \\"q\\" \\\\u4f60"}]'
    assert json.loads(readable(whole)) == json.loads(whole)  # the same JSON
    cut = whole[: whole.index("\\u9000") + 3]
    assert readable(cut) == '[{"c": "我想\\u9'  # cut within an escape: the escapes whole before it
    assert readable("\\ud83d alone") == "\\ud83d alone" and readable("plain") == "plain"
    assert needles("退货") == ["退货", "\\u9000\\u8d27"] and needles("plain") == ["plain"]
    assert needles('say "hi"') == ['say "hi"', 'say \\"hi\\"']
