from __future__ import annotations

import pytest

from supervisor.events import (
    ApiRetry,
    AssistantMessage,
    ControlRequest,
    ControlResponse,
    MessageStart,
    Other,
    Result,
    TextDelta,
    ThinkingDelta,
    UserMessage,
)
from supervisor.framing import FramingError, LineBuffer, decode_line, to_event


def test_line_buffer_joins_partial_reads_and_skips_blank_lines() -> None:
    buf = LineBuffer()
    assert buf.feed(b'{"type":"a"') == []
    assert buf.feed(b'}\n\n{"type":"b"}\r\n{"ty') == [b'{"type":"a"}', b'{"type":"b"}']
    assert buf.feed(b'pe":"c"}') == []
    assert buf.flush() == [b'{"type":"c"}']
    assert buf.flush() == []


def test_line_buffer_refuses_runaway_lines() -> None:
    buf = LineBuffer(max_line=10)
    with pytest.raises(FramingError):
        buf.feed(b"x" * 11)


@pytest.mark.parametrize("line", [b"not json", b"[1,2]", b'{"no_type": 1}'])
def test_decode_rejects_what_is_not_stream_json(line: bytes) -> None:
    with pytest.raises(FramingError):
        decode_line(line)


def test_control_frames() -> None:
    ok = to_event(
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r1", "response": {"models": []}}}
    )
    assert ok == ControlResponse("r1", True, {"models": []})
    bad = to_event({"type": "control_response", "response": {"subtype": "error", "request_id": "r2", "error": "no"}})
    assert isinstance(bad, ControlResponse) and not bad.ok and bad.error == "no"
    req = to_event({"type": "control_request", "request_id": "c1", "request": {"subtype": "can_use_tool"}})
    assert req == ControlRequest("c1", "can_use_tool", {"subtype": "can_use_tool"})


def test_stream_events() -> None:
    start = {"type": "stream_event", "event": {"type": "message_start", "message": {"id": "msg_1", "model": "m"}}}
    assert to_event(start) == MessageStart("msg_1", "m")
    delta = {
        "type": "stream_event",
        "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "\n\n  x"}},
    }
    assert to_event(delta) == TextDelta(None, "\n\n  x")
    thinking = {
        "type": "stream_event",
        "event": {"type": "content_block_delta", "index": 2, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
    }
    assert to_event(thinking) == ThinkingDelta(2, "hmm")
    signature = {
        "type": "stream_event",
        "event": {"type": "content_block_delta", "delta": {"type": "signature_delta", "signature": "c2ln"}},
    }
    assert isinstance(to_event(signature), Other), "a signature is never turned into readable text"


def test_user_lines_of_the_cli_carry_built_in_tool_results() -> None:
    line = {
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]},
        "tool_use_result": {"query": "q", "results": []},
    }
    event = to_event(line)
    assert isinstance(event, UserMessage)
    assert event.tool_results == [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]
    assert event.tool_use_result == {"query": "q", "results": []}


def test_assistant_result_and_retry() -> None:
    msg = to_event(
        {
            "type": "assistant",
            "message": {"id": "m", "model": "<synthetic>", "content": [{"type": "text", "text": "API Error"}]},
        }
    )
    assert isinstance(msg, AssistantMessage) and msg.synthetic and msg.text == "API Error"
    result = to_event(
        {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "api_error_status": 529,
            "terminal_reason": "api_error",
            "result": "overloaded",
            "usage": {"input_tokens": 3},
            "num_turns": 1,
            "stop_reason": "stop_sequence",
        }
    )
    assert isinstance(result, Result)
    assert (result.is_error, result.api_error_status, result.text, result.usage) == (
        True,
        529,
        "overloaded",
        {"input_tokens": 3},
    )
    retry = to_event(
        {"type": "system", "subtype": "api_retry", "attempt": 2, "error_status": 529, "error": "overloaded"}
    )
    assert retry == ApiRetry(2, 529, "overloaded")
