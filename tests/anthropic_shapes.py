"""Anthropic's documented shapes, taken from the `anthropic` package's own pydantic models.

A body passes when it validates strictly (no coercion) and no object anywhere carries a field
the model does not declare (the SDK's models allow extras; Anthropic's API does not send them).
"""

from __future__ import annotations

import json
from typing import Any

from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from pydantic import BaseModel, TypeAdapter

from tests.openapi import sse_payloads

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "Message": TypeAdapter(Message),
    "RawMessageStreamEvent": TypeAdapter(RawMessageStreamEvent),
    "MessageTokensCount": TypeAdapter(MessageTokensCount),
    "ErrorResponse": TypeAdapter(ErrorResponse),
}


def _no_extra(value: Any, path: str) -> None:
    if isinstance(value, BaseModel):
        extra = value.model_extra or {}
        assert not extra, f"{path or 'body'}: fields Anthropic's types do not declare: {sorted(extra)}"
        for name in type(value).model_fields:
            _no_extra(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _no_extra(item, f"{path}[{i}]")


def assert_shape(kind: str, data: Any) -> Any:
    value = _ADAPTERS[kind].validate_python(data, strict=True)
    _no_extra(value, "")
    return value


def stream_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of an SSE body, each event's data checked against its shape."""
    events = []
    for payload in sse_payloads(raw):
        data = json.loads(payload)
        kind = data.get("type")
        if kind == "ping":
            assert data == {"type": "ping"}
        elif kind == "error":
            assert_shape("ErrorResponse", data)
        else:
            assert_shape("RawMessageStreamEvent", data)
        events.append((kind, data))
    return events


def event_names(raw: bytes) -> list[str]:
    """The `event:` field of every event, in order (Anthropic's clients skip events without one)."""
    return [line[6:].strip() for line in raw.decode().splitlines() if line.startswith("event:")]
