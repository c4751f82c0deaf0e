from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.schemas import TextPart
from bridge.validation import parse_chat_request

USER = [{"role": "user", "content": "hi"}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


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


def test_images_must_be_real_images() -> None:
    import base64

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 20).decode()
    req = parse(
        messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}
        ]
    )
    assert req.messages[0].content[0].media_type == "image/png"  # type: ignore[index,union-attr]
    for url, code in [
        (f"data:image/jpeg;base64,{png}", "invalid_image"),
        ("data:image/png;base64,!!!", "invalid_image"),
        ("data:image/tiff;base64,AAAA", "invalid_image_format"),
        ("https://example.com/cat.png", "image_url_not_supported"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            parse(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
        assert info.value.code == code
        assert info.value.param == "messages[0].content[0].image_url.url"


def test_legacy_function_messages_pair_with_function_calls() -> None:
    req = parse(
        functions=[{"name": "f"}],
        messages=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": "42"},
        ],
    )
    assert req.legacy_functions
    call = req.messages[1].tool_calls[0]
    assert req.messages[2].role == "tool" and req.messages[2].tool_call_id == call.id


@pytest.mark.parametrize("param", ["logprobs", "top_logprobs", "audio", "prediction"])
def test_what_claude_cannot_do_is_refused(param: str) -> None:
    value = {"logprobs": True, "top_logprobs": 2, "audio": {"voice": "x"}, "prediction": {"type": "content"}}[param]
    with pytest.raises(InvalidRequest) as info:
        parse(**{param: value})
    assert info.value.param == param and info.value.code == "unsupported_parameter"


def test_unapplied_params_are_listed() -> None:
    req = parse(temperature=0.5, top_p=1, seed=3, presence_penalty=0, metadata={"k": "v"}, store=False)
    assert req.unapplied == ("temperature", "top_p", "presence_penalty", "seed", "store")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER, "model": ""}, None),
        (
            {
                "model": "m",
                "messages": [
                    *USER,
                    {"role": "assistant", "content": None, "tool_calls": [CALL]},
                    {"role": "user", "content": "x"},
                ],
            },
            "messages[1].tool_calls",
        ),
        (
            {"model": "m", "messages": [*USER, {"role": "assistant", "content": None, "audio": {"id": "audio_1"}}]},
            "messages[1].audio",
        ),
        ({"model": "m", "messages": [{"role": "system", "content": []}, *USER]}, "messages[0].content"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x", "tool_call_id": "a"}]},
            "messages[0].tool_call_id",
        ),
        ({"model": "m", "messages": USER, "n": 11}, "n"),
        ({"model": "m", "messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": "m", "messages": USER, "stop": 5}, "stop"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": USER, "reasoning_effort": "extreme"}, "reasoning_effort"),
        (
            {"model": "m", "messages": USER, "tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "properties": {"x": {"type": "nonsense"}}},
                        },
                    }
                ],
            },
            "tools[0].function.parameters",
        ),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}],
            },
            "tools[0].function.parameters",
        ),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice.function.name",
        ),
        ({"model": "m", "messages": USER, "tool_choice": "auto"}, "tool_choice"),
        (
            {"model": "m", "messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema.schema",
        ),
        ({"model": "m", "messages": USER, "response_format": {"type": "xml"}}, "response_format.type"),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "x"},
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
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
