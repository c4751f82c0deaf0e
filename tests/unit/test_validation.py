from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.schemas import TextPart
from bridge.validation import parse_chat_request

USER = [{"role": "user", "content": "hi"}]


def parse(**body: Any):  # type: ignore[no-untyped-def]
    return parse_chat_request({"model": "gpt-4o", "messages": USER, **body})


def test_minimal_request() -> None:
    req = parse()
    assert req.model == "gpt-4o" and req.n == 1 and not req.stream and req.unapplied == ()
    assert req.messages[0].content == "hi"


def test_parts_and_roles() -> None:
    req = parse_chat_request(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ],
        }
    )
    assert req.messages[1].content == (TextPart("a"), TextPart("b"))
    assert req.messages[1].text == "ab"


def test_stream_options_need_stream() -> None:
    assert parse(stream=True, stream_options={"include_usage": True}).stream_options.include_usage  # type: ignore[union-attr]
    with pytest.raises(InvalidRequest) as info:
        parse(stream_options={"include_usage": True})
    assert info.value.param == "stream_options"


def test_neutral_values_of_unimplemented_params_are_fine() -> None:
    parse(
        tools=[],
        stop=None,
        logprobs=False,
        response_format={"type": "text"},
        modalities=["text"],
        logit_bias={},
        parallel_tool_calls=True,
    )


def test_unapplied_params_are_listed() -> None:
    req = parse(temperature=0.5, top_p=1, seed=3, presence_penalty=0, metadata={"k": "v"}, store=False)
    assert req.unapplied == ("temperature", "top_p", "presence_penalty", "seed", "store")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER, "model": ""}, None),
        ({"model": "m", "messages": [{"role": "assistant", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x", "tool_call_id": "a"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": []}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user", "content": "x", "name": 3}]}, "messages[0].name"),
        ({"model": "m", "messages": USER, "n": True}, "n"),
        ({"model": "m", "messages": USER, "n": 500}, "n"),
        ({"model": "m", "messages": USER, "seed": 1.5}, "seed"),
        ({"model": "m", "messages": USER, "metadata": {"a": 1}}, "metadata"),
        ({"model": "m", "messages": USER, "user": 7}, "user"),
    ],
)
def test_refusals_name_the_parameter(body: dict[str, Any], param: str | None) -> None:
    if param is None:  # an empty model name is valid JSON; the model map refuses it later
        parse_chat_request(body)
        return
    with pytest.raises(InvalidRequest) as info:
        parse_chat_request(body)
    assert info.value.param == param
    assert info.value.status == 400
