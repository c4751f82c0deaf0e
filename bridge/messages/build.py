"""Choice outputs -> an Anthropic Message, and the Messages stream events. Pure.

The stream follows Anthropic's sequence: message_start (with the prompt's usage), then per
content block content_block_start, content_block_delta* (text_delta | input_json_delta),
content_block_stop; one `ping` after the first block starts; message_delta (stop_reason,
stop_sequence, the final usage) and message_stop. Both the body and the events are rendered
from the same outputs, so they cannot disagree.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import attrs

from bridge.translate.choice import Finished, Output, Started, TextOut, ToolCallArgs, ToolCallBegin
from bridge.translate.thinking import ReasoningOut
from bridge.translate.usage import TurnUsage

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
Event = tuple[str, dict[str, Any]]  # (SSE event name, data)


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def anthropic_usage(usage: TurnUsage | None) -> dict[str, Any]:
    """The CLI's figures, in the terms it reports them in."""
    if usage is None:
        return {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.thinking_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.thinking_tokens}
    return out


def _start(block: dict[str, Any]) -> dict[str, Any]:
    return {"content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> Event:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def _input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@attrs.define
class MessageBuilder:
    model: str
    id: str = attrs.field(factory=message_id)
    content: list[dict[str, Any]] = attrs.field(factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    estimated: bool = False  # output_tokens counted by the bridge (text cut at a stop sequence)
    _start_usage: TurnUsage | None = None
    _final_usage: TurnUsage | None = None
    _started: bool = False
    _pinged: bool = False
    _open: int | None = None  # index of the block being streamed
    _args: dict[int, list[str]] = attrs.field(factory=dict)  # tool call index -> argument pieces
    _blocks: dict[int, int] = attrs.field(factory=dict)  # tool call index -> content index
    _thinking_part: int | None = None  # the thinking block of the turn being streamed

    def _head(self) -> dict[str, Any]:
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.model}

    def snapshot(self) -> dict[str, Any]:
        """The whole Message, once the turn has finished."""
        return {
            **self._head(),
            "content": [dict(block) for block in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": anthropic_usage(self._final_usage),
        }

    def _message_start(self) -> Event:
        self._started = True
        usage = anthropic_usage(self._start_usage)
        message = {**self._head(), "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
        return "message_start", {"type": "message_start", "message": message}

    def _ping(self) -> list[Event]:
        if self._pinged:
            return []
        self._pinged = True
        return [("ping", {"type": "ping"})]

    def _open_block(self, block: dict[str, Any], start: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.content.append(block)
        self._open = len(self.content) - 1
        events.append(("content_block_start", {"type": "content_block_start", "index": self._open, **start}))
        return events + self._ping()

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def feed(self, outputs: list[Output]) -> list[Event]:
        events: list[Event] = []
        for out in outputs:
            if isinstance(out, Started):
                self._start_usage = self._start_usage or out.usage
                continue
            if not self._started:
                events.append(self._message_start())
            if isinstance(out, ReasoningOut):
                events += self._thinking(out)
            elif isinstance(out, TextOut):
                if self._open is None or self.content[self._open]["type"] != "text":
                    events += self._open_block({"type": "text", "text": ""}, _start({"type": "text", "text": ""}))
                assert self._open is not None
                self.content[self._open]["text"] += out.text
                events.append(_delta(self._open, {"type": "text_delta", "text": out.text}))
            elif isinstance(out, ToolCallBegin):
                block = {"type": "tool_use", "id": out.id, "name": out.name, "input": {}}
                events += self._open_block(block, _start(dict(block, input={})))
                assert self._open is not None
                self._blocks[out.index] = self._open
                self._args[out.index] = []
            elif isinstance(out, ToolCallArgs):
                index = self._blocks[out.index]
                self._args[out.index].append(out.text)
                events.append(_delta(index, {"type": "input_json_delta", "partial_json": out.text}))
            elif isinstance(out, Finished):
                events += self._finish(out)
        return events

    def _thinking(self, out: ReasoningOut) -> list[Event]:
        """Claude's readable thinking as `thinking` blocks. The signatures stay with the bridge,
        which puts the signed blocks back itself when the conversation comes back (see the
        README), so the blocks carry an empty one."""
        events: list[Event] = []
        if self._open is None or self.content[self._open]["type"] != "thinking" or self._thinking_part != out.part:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            events += self._open_block(block, _start(dict(block)))
            self._thinking_part = out.part
        assert self._open is not None
        self.content[self._open]["thinking"] += out.text
        events.append(_delta(self._open, {"type": "thinking_delta", "thinking": out.text}))
        return events

    def _finish(self, out: Finished) -> list[Event]:
        events = self._close() + self._ping()
        for call, index in self._blocks.items():
            self.content[index]["input"] = _input("".join(self._args[call]))
        self.stop_reason = "stop_sequence" if out.stop_sequence else STOP_REASONS.get(out.reason, "end_turn")
        self.stop_sequence = out.stop_sequence
        self.estimated = out.estimated
        self._final_usage = out.usage
        delta = {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence}
        usage = anthropic_usage(out.usage)
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events
