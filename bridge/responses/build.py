"""Choice outputs -> a Response object, and the Responses stream events. Pure.

The stream follows OpenAI's event sequence: response.created, response.in_progress, then per
output item .output_item.added, (.content_part.added, .output_text.delta*,
.output_text.annotation.added*, .output_text.done, .content_part.done
| .function_call_arguments.delta*, .function_call_arguments.done
| per thinking block .reasoning_summary_part.added, .reasoning_summary_text.delta*,
.reasoning_summary_text.done, .reasoning_summary_part.done
| .web_search_call.in_progress, .web_search_call.searching, .web_search_call.completed),
.output_item.done, and finally response.completed (or response.incomplete). Every event
carries a sequence_number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import attrs

from bridge.responses.items import item_id
from bridge.responses.tools import Named
from bridge.translate.choice import (
    Finished,
    Output,
    TextOut,
    ToolCallArgs,
    ToolCallBegin,
)
from bridge.translate.thinking import ReasoningOut
from bridge.translate.usage import TurnUsage
from bridge.translate.websearch import Citations, SearchCall


def response_usage(usage: TurnUsage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.thinking_tokens},
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
    _part: int | None = None  # the thinking block the open reasoning item's last summary came from
    _searches: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # CLI tool id -> web_search_call
    # The function Claude called -> the client's tool (a namespace member, a custom tool).
    names: dict[str, Named] = attrs.field(factory=dict)
    # Makes the sealed reasoning item's encrypted_content at the end (None: not asked for, or nothing to seal).
    seal: Callable[[], str | None] | None = None
    _raw: dict[str, tuple[str, str]] = attrs.field(factory=dict)  # call item id -> (Claude's name, arguments)

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
        if "status" in item:
            item["status"] = "completed"
        events = []
        if item["type"] == "reasoning":
            events += self._close_summary(item, index)
        elif item["type"] == "message":
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
        elif item["type"] == "custom_tool_call":
            item["input"] = _custom_input(self._raw[item["id"]][1])
            where = {"item_id": item["id"], "output_index": index}
            if item["input"]:
                events.append(self._event("response.custom_tool_call_input.delta", **where, delta=item["input"]))
            events.append(self._event("response.custom_tool_call_input.done", **where, input=item["input"]))
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

    def _close_summary(self, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
        summary_index = len(item["summary"]) - 1
        part = dict(item["summary"][-1])
        where = {"item_id": item["id"], "output_index": index, "summary_index": summary_index}
        return [
            self._event("response.reasoning_summary_text.done", **where, text=part["text"]),
            self._event("response.reasoning_summary_part.done", **where, part=part),
        ]

    def _reasoning(self, out: ReasoningOut) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        item = self._open
        if item is None or item["type"] != "reasoning":
            events += self._close()
            item = {"type": "reasoning", "id": item_id("rs", self.id), "summary": [], "status": "in_progress"}
            self.output.append(item)
            self._open, self._part = item, None
            events.append(
                self._event("response.output_item.added", output_index=len(self.output) - 1, item=_copy(item))
            )
        index = self.output.index(item)
        if self._part != out.part:
            if self._part is not None:
                events += self._close_summary(item, index)
            self._part = out.part
            item["summary"].append({"type": "summary_text", "text": ""})
            where = {"item_id": item["id"], "output_index": index, "summary_index": len(item["summary"]) - 1}
            part = {"type": "summary_text", "text": ""}
            events.append(self._event("response.reasoning_summary_part.added", **where, part=part))
        item["summary"][-1]["text"] += out.text
        where = {"item_id": item["id"], "output_index": index, "summary_index": len(item["summary"]) - 1}
        events.append(self._event("response.reasoning_summary_text.delta", **where, delta=out.text))
        return events

    def _search(self, out: SearchCall) -> list[dict[str, Any]]:
        item = self._searches.get(out.id)
        if item is None:  # the search begins
            events = self._close()
            action = {"type": "search", "query": out.query}
            item = {"type": "web_search_call", "id": item_id("ws", self.id), "status": "in_progress", "action": action}
            self._searches[out.id] = item
            self.output.append(item)
            index = len(self.output) - 1
            events.append(self._event("response.output_item.added", output_index=index, item=_copy(item)))
            events.append(self._event("response.web_search_call.in_progress", output_index=index, item_id=item["id"]))
            item["status"] = "searching"
            events.append(self._event("response.web_search_call.searching", output_index=index, item_id=item["id"]))
            if out.status == "searching":
                return events
        else:
            events = []
        return events + self._search_done(item, out)

    def _search_done(self, item: dict[str, Any], out: SearchCall | None) -> list[dict[str, Any]]:
        index = self.output.index(item)
        events = []
        if out is not None and out.status == "completed":
            item["status"] = "completed"
            item["action"]["sources"] = [{"type": "url", "url": s.url} for s in out.sources]
            events.append(self._event("response.web_search_call.completed", output_index=index, item_id=item["id"]))
        else:
            item["status"] = "failed"
        self._searches = {k: v for k, v in self._searches.items() if v is not item}
        events.append(self._event("response.output_item.done", output_index=index, item=_copy(item)))
        return events

    def _annotate(self, out: Citations) -> list[dict[str, Any]]:
        """Annotation indexes count in the whole answer; each goes to the message item holding it."""
        events = []
        offset = 0
        for index, item in enumerate(self.output):
            if item["type"] != "message":
                continue
            part = item["content"][0]
            end = offset + len(part["text"])
            for c in out.annotations:
                if offset <= c.start_index < end:
                    annotation = {
                        "type": "url_citation",
                        "url": c.url,
                        "title": c.title,
                        "start_index": c.start_index - offset,
                        "end_index": min(c.end_index, end) - offset,
                    }
                    part["annotations"].append(annotation)
                    if item is self._open:
                        events.append(
                            self._event(
                                "response.output_text.annotation.added",
                                item_id=item["id"],
                                output_index=index,
                                content_index=0,
                                annotation_index=len(part["annotations"]) - 1,
                                annotation=annotation,
                            )
                        )
            offset = end
        return events

    def feed(self, outputs: list[Output]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for out in outputs:
            if isinstance(out, ReasoningOut):
                events += self._reasoning(out)
            elif isinstance(out, SearchCall):
                events += self._search(out)
            elif isinstance(out, Citations):
                events += self._annotate(out)
            elif isinstance(out, TextOut):
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
                item = self._call_item(out)
                self.output.append(item)
                self._open = item
                self._calls[out.index] = item
                events.append(
                    self._event("response.output_item.added", output_index=len(self.output) - 1, item=_copy(item))
                )
            elif isinstance(out, ToolCallArgs):
                item = self._calls[out.index]
                name, raw = self._raw[item["id"]]
                self._raw[item["id"]] = (name, raw + out.text)
                if item["type"] == "custom_tool_call":
                    continue  # its input is the `input` argument, known once the arguments are whole
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
                for item in list(self._searches.values()):
                    events += self._search_done(item, None)
                for item in self.output:
                    if item["type"] == "function_call" and not item["arguments"]:
                        item["arguments"] = "{}"
                events += self._sealed()
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

    def _call_item(self, out: ToolCallBegin) -> dict[str, Any]:
        """A call as the client knows the tool: a namespace member carries its namespace apart."""
        named = self.names.get(out.name, Named(out.name))
        item: dict[str, Any]
        if named.custom:
            item = {"type": "custom_tool_call", "id": item_id("ctc", self.id), "call_id": out.id}
        else:
            item = {"type": "function_call", "id": item_id("fc", self.id), "call_id": out.id}
        if named.namespace is not None:
            item["namespace"] = named.namespace
        item["name"] = named.name
        if named.custom:
            item["input"] = ""
        else:
            item.update(arguments="", status="in_progress")
        self._raw[item["id"]] = (out.name, "")
        return item

    def _sealed(self) -> list[dict[str, Any]]:
        """The reasoning item that carries the sealed thinking of this response's tool calls."""
        token = self.seal() if self.seal is not None else None
        if token is None:
            return []
        item = {
            "type": "reasoning",
            "id": item_id("rs", self.id),
            "summary": [],
            "encrypted_content": token,
            "status": "completed",
        }
        self.output.append(item)
        index = len(self.output) - 1
        return [
            self._event("response.output_item.added", output_index=index, item=_copy(item)),
            self._event("response.output_item.done", output_index=index, item=_copy(item)),
        ]

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
                "function": {"name": self._raw[item["id"]][0], "arguments": self._raw[item["id"]][1] or "{}"},
            }
            for item in self.output
            if item["type"] in ("function_call", "custom_tool_call")
        ]
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            message["tool_calls"] = calls
        return message


def _custom_input(arguments: str) -> str:
    """A custom tool's input: the `input` string Claude was asked for (its whole arguments otherwise)."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get("input"), str) and len(parsed) == 1:
        return str(parsed["input"])
    return arguments


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    copied = dict(item)
    for key in ("content", "summary"):
        if key in copied:
            copied[key] = [dict(p) for p in copied[key]]
    if "action" in copied:
        copied["action"] = dict(copied["action"])
    for part in copied.get("content", []):
        if "annotations" in part:
            part["annotations"] = list(part["annotations"])
    return copied
