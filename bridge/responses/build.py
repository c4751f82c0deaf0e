"""Choice outputs -> a Response object, and the Responses stream events. Pure.

The stream follows OpenAI's event sequence: response.created, response.in_progress, then per
output item .output_item.added, (.content_part.added, .output_text.delta*, .output_text.done,
.content_part.done | .function_call_arguments.delta*, .function_call_arguments.done),
.output_item.done, and finally response.completed (or response.incomplete). Every event
carries a sequence_number.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from bridge.responses.request import item_id
from bridge.schemas import Usage
from bridge.translate.choice import Finished, Output, TextOut, ToolCallArgs, ToolCallBegin


def response_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.prompt_tokens_details.cached_tokens,
            "cache_write_tokens": usage.prompt_tokens_details.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.completion_tokens_details.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


@attrs.define
class ResponseBuilder:
    """Keeps the response object up to date as outputs arrive and says which events that makes."""

    id: str
    echo: dict[str, Any]
    created_at: int = attrs.field(factory=lambda: int(time.time()))
    output: list[dict[str, Any]] = attrs.field(factory=list)
    status: str = "in_progress"
    usage: dict[str, Any] | None = None
    incomplete: dict[str, Any] | None = None
    _seq: int = 0
    _open: dict[str, Any] | None = None  # the item being streamed
    _calls: dict[int, dict[str, Any]] = attrs.field(factory=dict)

    def snapshot(self) -> dict[str, Any]:
        text = "".join(part["text"] for item in self.output if item["type"] == "message" for part in item["content"])
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "completed_at": int(time.time()) if self.status == "completed" else None,
            "error": None,
            "incomplete_details": self.incomplete,
            "output": [dict(item) for item in self.output],
            "output_text": text,
            **({"usage": self.usage} if self.usage is not None else {}),
            **self.echo,
        }

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        return [
            self._event("response.created", response=self.snapshot()),
            self._event("response.in_progress", response=self.snapshot()),
        ]

    def _close(self) -> list[dict[str, Any]]:
        item, self._open = self._open, None
        if item is None:
            return []
        index = self.output.index(item)
        item["status"] = "completed"
        events = []
        if item["type"] == "message":
            part = item["content"][0]
            events.append(
                self._event(
                    "response.output_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            )
            events.append(
                self._event(
                    "response.content_part.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part=dict(part),
                )
            )
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        events.append(self._event("response.output_item.done", output_index=index, item=_copy(item)))
        return events

    def feed(self, outputs: list[Output]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for out in outputs:
            if isinstance(out, TextOut):
                if self._open is None or self._open["type"] != "message":
                    events += self._close()
                    item: dict[str, Any] = {
                        "type": "message",
                        "id": item_id("msg", self.id),
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    }
                    self.output.append(item)
                    self._open = item
                    index = len(self.output) - 1
                    events.append(self._event("response.output_item.added", output_index=index, item=_copy(item)))
                    item["content"].append(_text_part(""))
                    events.append(
                        self._event(
                            "response.content_part.added",
                            item_id=item["id"],
                            output_index=index,
                            content_index=0,
                            part=_text_part(""),
                        )
                    )
                self._open["content"][0]["text"] += out.text
                events.append(
                    self._event(
                        "response.output_text.delta",
                        item_id=self._open["id"],
                        output_index=self.output.index(self._open),
                        content_index=0,
                        delta=out.text,
                        logprobs=[],
                    )
                )
            elif isinstance(out, ToolCallBegin):
                events += self._close()
                item = {
                    "type": "function_call",
                    "id": item_id("fc", self.id),
                    "call_id": out.id,
                    "name": out.name,
                    "arguments": "",
                    "status": "in_progress",
                }
                self.output.append(item)
                self._open = item
                self._calls[out.index] = item
                events.append(
                    self._event("response.output_item.added", output_index=len(self.output) - 1, item=_copy(item))
                )
            elif isinstance(out, ToolCallArgs):
                item = self._calls[out.index]
                item["arguments"] += out.text
                events.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=self.output.index(item),
                        delta=out.text,
                    )
                )
            elif isinstance(out, Finished):
                events += self._close()
                for item in self.output:
                    if item["type"] == "function_call" and not item["arguments"]:
                        item["arguments"] = "{}"
                self.usage = response_usage(out.usage)
                if out.reason == "length":
                    self.status, self.incomplete = "incomplete", {"reason": "max_output_tokens"}
                elif out.reason == "content_filter":
                    self.status, self.incomplete = "incomplete", {"reason": "content_filter"}
                else:
                    self.status = "completed"
                kind = "response.completed" if self.status == "completed" else "response.incomplete"
                events.append(self._event(kind, response=self.snapshot()))
        return events

    def failed(self, code: str, message: str) -> dict[str, Any]:
        self.status = "failed"
        snapshot = self.snapshot()
        snapshot["error"] = {"code": code, "message": message}
        return self._event("response.failed", response=snapshot)

    def assistant_message(self) -> dict[str, Any]:
        """This response's output as one chat message, to continue the conversation from."""
        text = "".join(p["text"] for item in self.output if item["type"] == "message" for p in item["content"])
        calls = [
            {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            for item in self.output
            if item["type"] == "function_call"
        ]
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
        return message


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    copied = dict(item)
    if "content" in copied:
        copied["content"] = [dict(p) for p in copied["content"]]
    return copied
