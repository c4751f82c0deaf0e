"""Bytes -> lines -> dicts -> typed events. Pure: no I/O, tested on its own."""

from __future__ import annotations

import json
from typing import Any

import orjson

from supervisor.events import (
    ApiRetry,
    AssistantMessage,
    ControlRequest,
    ControlResponse,
    Event,
    MessageDelta,
    MessageStart,
    Other,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStart,
    UserMessage,
)

MAX_LINE = 64 * 1024 * 1024


class FramingError(ValueError):
    """The CLI wrote something that is not a stream-json line."""


class LineBuffer:
    """Splits a byte stream into lines without assuming reads end on a newline."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._max = max_line

    def feed(self, data: bytes) -> list[bytes]:
        self._buf.extend(data)
        lines: list[bytes] = []
        while True:
            idx = self._buf.find(b"\n")
            if idx < 0:
                break
            line = bytes(self._buf[:idx]).rstrip(b"\r")
            del self._buf[: idx + 1]
            if line.strip():
                lines.append(line)
        if len(self._buf) > self._max:
            self._buf.clear()
            raise FramingError(f"a line longer than {self._max} bytes")
        return lines

    def flush(self) -> list[bytes]:
        """What is left when the stream ends (a last line without newline)."""
        rest = bytes(self._buf).strip()
        self._buf.clear()
        return [rest] if rest else []


def decode_line(line: bytes) -> dict[str, Any]:
    """One line of the CLI's output. orjson (the standard library took ~4 % of the bridge's CPU
    on agent turns, profiled); the standard library for what orjson refuses and JavaScript
    writes (a lone surrogate escape, split from its pair in a streamed delta)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise FramingError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise FramingError(f"not a stream-json message: {line[:200]!r}")
    return obj


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_event(msg: dict[str, Any]) -> Event:
    kind = msg["type"]
    if kind == "control_response":
        resp = msg.get("response") or {}
        ok = resp.get("subtype") == "success"
        return ControlResponse(
            request_id=str(resp.get("request_id", "")),
            ok=ok,
            response=resp.get("response") or {},
            error=None if ok else str(resp.get("error", "unknown error")),
        )
    if kind == "control_request":
        req = msg.get("request") or {}
        return ControlRequest(str(msg.get("request_id", "")), str(req.get("subtype", "")), req)
    if kind == "stream_event":
        ev = msg.get("event") or {}
        etype = ev.get("type")
        if etype == "message_start":
            m = ev.get("message") or {}
            return MessageStart(str(m.get("id", "")), str(m.get("model", "")), dict(m.get("usage") or {}))
        if etype == "message_delta":
            delta = ev.get("delta") or {}
            return MessageDelta(delta.get("stop_reason"), dict(ev.get("usage") or {}))
        if etype == "content_block_start":
            block = ev.get("content_block") or {}
            if block.get("type") == "tool_use":
                return ToolUseStart(int(ev.get("index") or 0), str(block.get("id", "")), str(block.get("name", "")))
        if etype == "content_block_delta":
            delta = ev.get("delta") or {}
            if delta.get("type") == "text_delta":
                return TextDelta(None, str(delta.get("text", "")))
            if delta.get("type") == "input_json_delta":
                return ToolInputDelta(int(ev.get("index") or 0), str(delta.get("partial_json", "")))
            if delta.get("type") == "thinking_delta":
                return ThinkingDelta(int(ev.get("index") or 0), str(delta.get("thinking", "")))
        return Other("stream_event", etype, msg)
    if kind == "assistant":
        m = msg.get("message") or {}
        content = m.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        return AssistantMessage(m.get("id"), m.get("model"), list(content or []))
    if kind == "user":
        content = (msg.get("message") or {}).get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        return UserMessage(blocks, msg.get("tool_use_result"))
    if kind == "system" and msg.get("subtype") == "api_retry":
        return ApiRetry(
            int(msg.get("attempt") or 0),
            _int_or_none(msg.get("error_status")),
            msg.get("error"),
        )
    if kind == "result":
        return Result(
            is_error=bool(msg.get("is_error")),
            subtype=str(msg.get("subtype", "")),
            stop_reason=msg.get("stop_reason"),
            terminal_reason=msg.get("terminal_reason"),
            api_error_status=_int_or_none(msg.get("api_error_status")),
            text=msg.get("result") if isinstance(msg.get("result"), str) else None,
            usage=dict(msg.get("usage") or {}),
            num_turns=int(msg.get("num_turns") or 0),
            raw=msg,
        )
    return Other(kind, msg.get("subtype"), msg)
