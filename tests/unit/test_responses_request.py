"""The Responses API parses its wire request straight into the neutral request, validating once.

Until issue 20 it built a chat completions body and had /v1/chat/completions' validator check it
a second time; the checks it shares with that API now run once, on the typed pieces, and refuse
a bad request with the same error body as before (the params below are what clients saw then).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.responses.request import ResponsesRequest, parse_responses_request, response_id
from bridge.schemas import ChatCompletionRequest
from bridge.validation import content, tools
from bridge.validation.chat import parse_chat_request

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
# The chat API's body validators: a Responses request must reach none of them.
BODY_VALIDATORS = (parse_chat_request, content.parse_messages, tools.parse_tools, tools.parse_tool_choice)


def calls(action: Callable[[], Any]) -> list[str]:
    """The body validators `action` calls, however it reaches them (an alias, a re-export)."""
    codes: set[CodeType] = {fn.__code__ for fn in BODY_VALIDATORS}
    seen: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            seen.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen


def test_the_chat_body_validator_is_never_called() -> None:
    body = {
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                ],
            },
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a": 1}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}, "verbosity": "low"},
        "reasoning": {"effort": "high"},
        "max_output_tokens": 100,
        "temperature": 0.5,
    }
    parsed: list[ResponsesRequest] = []
    assert calls(lambda: parsed.append(parse_responses_request(body, [], response_id(None)))) == []
    req = parsed[0]
    assert isinstance(req.chat, ChatCompletionRequest) and not hasattr(req, "chat_body")
    assert [m.role for m in req.chat.messages] == ["system", "user", "assistant", "tool"]
    assert req.chat.tool_choice_name == "f" and req.chat.max_tokens == 100 and req.chat.reasoning_effort == "high"
    assert req.chat.unapplied == ("temperature", "verbosity")
    # The spy sees the validator when it is called: the assertion above can fail.
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert calls(lambda: parse_chat_request(chat)) == [
        "parse_chat_request",
        "parse_messages",
        "parse_tools",
        "parse_tool_choice",
    ]


CALL = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
F = [{"type": "function", "name": "f"}]


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        (
            {"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "data:x"}]}]},
            "messages[1].content[0].type",
            "unsupported_content_type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://a/b.png"}]}]},
            "messages[1].content[0].image_url.url",
            "image_url_not_supported",
        ),
        ({"input": [{"role": "user", "content": []}]}, "messages[1].content", "empty_array"),
        (
            {"input": [{"role": "user", "content": "q"}, {**CALL, "call_id": "bad id"}]},
            "messages[2].tool_calls[0].id",
            "invalid_value",
        ),
        (
            {"input": [{"role": "user", "content": "q"}, {**CALL, "arguments": "[1]"}]},
            "messages[2].tool_calls[0].function.arguments",
            "invalid_value",
        ),
        (
            {"input": [{"role": "user", "content": "q"}, CALL, {"role": "user", "content": "r"}]},
            "messages[2].tool_calls",
            "invalid_value",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "zz", "output": "x"}]},
            "messages[1].tool_call_id",
            "invalid_value",
        ),
        (
            {"tools": [{"type": "web_search"}, {"type": "function", "name": "f", "description": 5}]},
            "tools[0].function.description",
            "invalid_type",
        ),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"type": "array"}}]},
            "tools[0].function.parameters",
            "invalid_schema",
        ),
        ({"tools": F, "tool_choice": {"type": "function", "name": "g"}}, "tool_choice.function.name", "invalid_value"),
        (
            {"text": {"format": {"type": "json_schema", "name": "a b", "schema": {}}}},
            "response_format.json_schema.name",
            "invalid_value",
        ),
        ({"max_output_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"reasoning": {"effort": "huge"}}, "reasoning_effort", "invalid_value"),
        ({"text": {"verbosity": 5}}, "verbosity", "invalid_type"),
        ({"top_logprobs": 2}, "top_logprobs", "unsupported_parameter"),
        # Two faults: refused for the one the two passes met first (the Responses API's own).
        ({"model": 5, "include": ["nope"]}, "include[0]", "invalid_value"),
        ({"user": 5, "tools": F, "tool_choice": "bogus"}, "user", "invalid_type"),
    ],
)
def test_a_bad_request_is_refused_as_before(extra: dict[str, Any], param: str, code: str) -> None:
    body = {"model": "gpt-4o", "instructions": "Be brief.", "input": "hi", **extra}
    with pytest.raises(InvalidRequest) as refused:
        parse_responses_request(body, [], response_id(None))
    assert (refused.value.param, refused.value.code) == (param, code)


def test_web_search_sub_options_are_reported_where_chat_reports_them() -> None:
    body = {
        "model": "m",
        "input": "x",
        "temperature": 1,
        "tools": [{"type": "web_search", "search_context_size": "low"}],
    }
    req = parse_responses_request({**body, "include": ["file_search_call.results"]}, [], response_id(None), True)
    assert req.chat.web_search
    assert req.chat.unapplied == ("temperature", "web_search_options.search_context_size", "include[0]")
