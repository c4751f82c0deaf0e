"""The Messages API translation, both ways, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import ApiError, InsufficientQuota, InvalidRequest, anthropic_error
from bridge.messages.build import MessageBuilder
from bridge.messages.request import parse_messages_request
from bridge.schemas import ImageUrlPart
from bridge.translate.chat_request import to_turn
from bridge.translate.choice import Finished, Started, TextOut, ToolCallArgs, ToolCallBegin
from bridge.translate.usage import TurnUsage

TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **extra}


def usage(prompt: int, output: int, read: int = 0, write: int = 0) -> TurnUsage:
    """`prompt` counts the cache reads and writes too, as OpenAI's prompt_tokens does."""
    return TurnUsage(
        input_tokens=prompt - read - write, cache_read_tokens=read, cache_write_tokens=write, output_tokens=output
    )


def test_parameters_map_onto_the_internal_request() -> None:
    req = parse_messages_request(
        body(
            system=[
                {"type": "text", "text": "A"},
                {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
            ],
            stop_sequences=["END", "END", "\n\nHuman:"],
            metadata={"user_id": "u1"},
            tools=[TOOL],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            output_config={"effort": "max"},
            temperature=0.5,
            top_k=3,
        )
    )
    chat = req.chat
    assert [m.role for m in chat.messages] == ["system", "system", "user"]
    assert chat.stop == ("END", "\n\nHuman:") and chat.user == "u1" and chat.max_tokens == 100
    assert (chat.tool_choice, chat.parallel_tool_calls) == ("required", False)
    assert chat.reasoning_effort == "max" and chat.max_thinking_tokens is None
    assert chat.unapplied == ("cache_control", "temperature", "top_k")
    spec = to_turn(chat, "sonnet")
    assert spec.system_prompt == "A\n\nB"
    assert [t.name for t in spec.client_tools] == ["get_weather"]


@pytest.mark.parametrize(
    ("thinking", "kind", "budget"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, "enabled", 2048),
        ({"type": "disabled"}, "disabled", 0),
        ({"type": "adaptive"}, "adaptive", None),
        (None, None, None),
    ],
)
def test_thinking_becomes_the_clis_budget(thinking: Any, kind: str | None, budget: int | None) -> None:
    req = parse_messages_request(body(max_tokens=4096, **({"thinking": thinking} if thinking else {})))
    assert req.thinking == kind and req.chat.max_thinking_tokens == budget
    assert to_turn(req.chat, "sonnet").settings.max_thinking_tokens == budget


def test_a_conversation_with_tools_round_trips_into_lines() -> None:
    req = parse_messages_request(
        body(
            tools=[TOOL],
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hm", "signature": "sig"},
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "here:"},
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "RAIN", "is_error": True},
                        {"type": "image", "source": {"type": "url", "url": "https://e.x/a.png"}},
                    ],
                },
            ],
        )
    )
    assert req.chat.unapplied == ("thinking",), "earlier thinking blocks are not replayed: said so"
    spec = to_turn(req.chat, "sonnet")
    assert [line.role for line in spec.history] == ["user", "assistant"]
    assert spec.history[1].content == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "mcp__c__get_weather", "input": {"city": "Oslo"}},
    ]
    # One user turn, as the client sent it, tool results first (as Anthropic requires).
    assert spec.message == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "RAIN", "is_error": True},
        {"type": "text", "text": "here:"},
        {"type": "image", "source": {"type": "url", "url": "https://e.x/a.png"}},
    ]
    assert isinstance(req.chat.messages[-1].content[1], ImageUrlPart)  # type: ignore[index]


DOCUMENT_SOURCE = {"type": "text", "media_type": "text/plain", "data": "d"}


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"stream": "yes"}, "stream"),
        ({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [TOOL]}, "tool_choice.name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"tools": [{"name": "x" * 57, "input_schema": {"type": "object"}}]}, "tools.0.name"),
        ({"tools": [{"type": "computer_20250124", "name": "c"}]}, "tools.0.type"),
        ({"tools": [TOOL, TOOL]}, "tools.1.name"),
        ({"stop_sequences": ["  "]}, "stop_sequences.0"),
        ({"metadata": {"user_id": "u", "other": 1}}, "metadata.other"),
        ({"container": "c1"}, "container"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking.budget_tokens"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages.0.content.0.source.type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": DOCUMENT_SOURCE}]}]},
            "messages.0.content.0.type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}
                ]
            },
            "messages.0.content.0.source",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "prefill"}]},
            "messages.1.role",
        ),
        ({"messages": [{"role": "user", "content": [{"type": 3}]}]}, "messages.0.content.0.type"),
    ],
)
def test_refusals_name_the_field(extra: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_messages_request(body(**extra))
    assert caught.value.param == path and caught.value.message.startswith(path)


def test_web_tools_only_in_web_mode() -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]
    with pytest.raises(InvalidRequest):
        parse_messages_request(body(tools=tools))
    req = parse_messages_request(body(tools=tools), web_mode=True)
    assert req.chat.tools == () and req.chat.unapplied == ("tools.max_uses",)
    with pytest.raises(InvalidRequest, match="restricted"):
        parse_messages_request(body(tools=[{**tools[0], "allowed_domains": ["a.b"]}]), web_mode=True)


def test_the_builder_renders_events_and_body_from_the_same_outputs() -> None:
    builder = MessageBuilder(model="sonnet", id="msg_x")
    outputs = [
        [Started(usage(50, 1, read=10, write=5)), TextOut("Hel")],
        [TextOut("lo")],
        [ToolCallBegin(0, "toolu_1", "f"), ToolCallArgs(0, '{"a"'), ToolCallArgs(0, ":1}")],
        [Finished("tool_calls", usage(50, 9, read=10, write=5))],
    ]
    events = [e for batch in outputs for e in builder.feed(batch)]
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["usage"] == {
        "input_tokens": 35,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 10,
        "output_tokens": 1,
    }
    assert events[6][1]["content_block"] == {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    message = builder.snapshot()
    assert message["content"] == [
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use" and message["usage"]["output_tokens"] == 9
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}


def test_a_stop_sequence_and_an_empty_answer() -> None:
    builder = MessageBuilder(model="m")
    events = builder.feed([Finished("stop", usage(3, 0), estimated=True, stop_sequence="###")])
    assert [name for name, _ in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert builder.snapshot()["stop_reason"] == "stop_sequence" and builder.snapshot()["stop_sequence"] == "###"
    assert builder.snapshot()["content"] == [] and builder.estimated


@pytest.mark.parametrize(
    ("err", "status", "kind"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error"),
        (ApiError("no key", status=401), 401, "authentication_error"),
        (ApiError("gone", status=404), 404, "not_found_error"),
        (ApiError("method", status=405), 405, "invalid_request_error"),
        (ApiError("big", status=413), 413, "request_too_large"),
        (InsufficientQuota("spent"), 429, "rate_limit_error"),
        (ApiError("upstream", status=502, code="upstream_error"), 500, "api_error"),
        (ApiError("busy", status=503, code="upstream_overloaded"), 529, "overloaded_error"),
        (ApiError("no cli", status=503, code="cli_unavailable"), 500, "api_error"),
        (ApiError("slow", status=504, code="timeout"), 504, "timeout_error"),
    ],
)
def test_anthropic_error_pairs(err: ApiError, status: int, kind: str) -> None:
    got_status, got = anthropic_error(err, "req_1")
    assert (got_status, got["error"]["type"]) == (status, kind)
    assert got == {"type": "error", "error": {"type": kind, "message": err.message}, "request_id": "req_1"}


def test_a_count_tokens_body_needs_no_max_tokens_and_takes_no_generation_settings() -> None:
    req = parse_messages_request(
        {
            "model": "sonnet",
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 4096},
        },
        counting=True,
    )
    assert req.chat.max_thinking_tokens == 4096
    for extra in ({"max_tokens": 10}, {"stream": True}, {"stop_sequences": ["x"]}, {"temperature": 0.1}):
        with pytest.raises(InvalidRequest, match="Extra inputs"):
            parse_messages_request(
                {"model": "sonnet", "messages": [{"role": "user", "content": "hi"}], **extra}, counting=True
            )
