from __future__ import annotations

from bridge.convert import chunk_json, to_json
from bridge.translate.chat_request import to_turn
from bridge.translate.chat_response import ChunkBuilder, CompletionBuilder, finish_reason, usage_from_result
from bridge.validation import parse_chat_request
from supervisor.events import AssistantMessage, MessageStart, Result, TextDelta
from supervisor.launch import LaunchProfile
from supervisor.turn import Line


def result(stop: str = "end_turn", usage: dict | None = None) -> Result:  # type: ignore[type-arg]
    return Result(
        False, "success", stop, "completed", None, "x", usage or {"input_tokens": 5, "output_tokens": 2}, 1, {}
    )


def test_turn_from_request() -> None:
    req = parse_chat_request(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "S1"},
                {"role": "user", "content": "u1"},
                {"role": "developer", "content": "S2"},
                {"role": "assistant", "content": "a1"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": [{"type": "text", "text": "u2"}]},
            ],
        }
    )
    turn = to_turn(req, "sonnet")
    assert turn.profile == LaunchProfile(system_prompt="S1\n\nS2")
    assert turn.history == (Line("user", "u1"), Line("assistant", "a1"))
    assert turn.message == [{"type": "text", "text": "u2"}]
    assert turn.model == "sonnet"


def test_same_system_prompt_same_profile_key() -> None:
    assert LaunchProfile("a").key == LaunchProfile("a").key != LaunchProfile("b").key
    assert "secret prompt" not in repr(LaunchProfile("secret prompt a")), "reprs never print prompts"


def test_finish_reasons() -> None:
    assert finish_reason("end_turn") == "stop"
    assert finish_reason("max_tokens") == "length"
    assert finish_reason("tool_deferred") == "tool_calls"
    assert finish_reason("refusal") == "content_filter"
    assert finish_reason(None) == "stop"
    assert finish_reason("something_new") == "stop"


def test_usage_counts_cache_as_prompt() -> None:
    usage = usage_from_result(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 7,
            "output_tokens": 3,
            "output_tokens_details": {"thinking_tokens": 1},
        }
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (117, 3, 120)
    assert usage.prompt_tokens_details.cached_tokens == 100
    assert usage.completion_tokens_details.reasoning_tokens == 1


def test_completion_from_deltas_ignores_the_duplicate_assistant_message() -> None:
    builder = CompletionBuilder(model="gpt-4o")
    for event in [
        MessageStart("m1", "x"),
        TextDelta(None, "Hel"),
        TextDelta(None, "lo\n\n"),
        AssistantMessage("m1", "x", [{"type": "text", "text": "Hello\n\n"}]),
        result(),
    ]:
        builder.feed(event)
    body = to_json(builder.build())
    assert body["choices"][0]["message"] == {"content": "Hello\n\n", "refusal": None, "role": "assistant"}
    assert body["choices"][0]["logprobs"] is None
    assert body["usage"]["total_tokens"] == 7
    assert body["id"].startswith("chatcmpl-")


def test_whole_message_without_deltas_is_emitted_once() -> None:
    builder = ChunkBuilder(model="m")
    chunks = builder.feed(AssistantMessage("m2", "x", [{"type": "text", "text": "fallback"}]))
    assert [c.choices[0].delta.content for c in chunks] == ["fallback"]


def test_synthetic_error_messages_are_never_output() -> None:
    builder = CompletionBuilder(model="m")
    builder.feed(AssistantMessage("e", "<synthetic>", [{"type": "text", "text": "API Error: 529"}]))
    builder.feed(result())
    assert builder.build().choices[0].message.content == ""


def test_chunks_role_first_then_content_then_finish_then_usage() -> None:
    builder = ChunkBuilder(model="m", include_usage=True)
    opening = chunk_json(builder.opening(), include_usage=True)
    assert opening["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert opening["usage"] is None
    content = builder.feed(TextDelta(None, " a "))
    assert chunk_json(content[0], include_usage=True)["choices"][0]["delta"] == {"content": " a "}
    finish, usage = builder.feed(result("max_tokens"))
    assert chunk_json(finish, include_usage=True)["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "length",
        "logprobs": None,
    }
    last = chunk_json(usage, include_usage=True)
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 2


def test_chunks_without_include_usage_have_no_usage_key() -> None:
    builder = ChunkBuilder(model="m")
    assert "usage" not in chunk_json(builder.opening(), include_usage=False)
    assert len(builder.feed(result())) == 1
