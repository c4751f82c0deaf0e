"""Choice outputs -> OpenAI chat completions and stream chunks. Pure."""

from __future__ import annotations

import secrets
import time
from typing import Any

import attrs

from bridge.schemas import (
    AnnotationOut,
    AssistantMessageOut,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    FunctionCallOut,
    ToolCallDelta,
    ToolCallOut,
    UrlCitationOut,
)
from bridge.translate.choice import (
    Finished,
    Output,
    TextOut,
    ToolCallArgs,
    ToolCallBegin,
)
from bridge.translate.thinking import ReasoningOut
from bridge.translate.usage import TurnUsage, openai_usage, sum_usage
from bridge.translate.websearch import Citations


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_urlsafe(21).replace("-", "x").replace("_", "y")


PART_BREAK = "\n\n"  # between two thinking blocks in one reasoning_content


def annotations_of(out: Citations) -> tuple[AnnotationOut, ...]:
    return tuple(
        AnnotationOut(UrlCitationOut(url=c.url, title=c.title, start_index=c.start_index, end_index=c.end_index))
        for c in out.annotations
    )


@attrs.define
class _Reasoning:
    """Joins the thinking of one choice; a new thinking block starts after a blank line."""

    parts: list[str] = attrs.field(factory=list)
    last: int | None = None

    def add(self, out: ReasoningOut) -> str:
        text = out.text if self.last in (None, out.part) else PART_BREAK + out.text
        self.last = out.part
        self.parts.append(text)
        return text

    @property
    def text(self) -> str | None:
        return "".join(self.parts) or None


@attrs.define
class _ChoiceState:
    text: list[str] = attrs.field(factory=list)
    calls: dict[int, list[str]] = attrs.field(factory=dict)  # index -> [id, name, arguments...]
    reasoning: _Reasoning = attrs.field(factory=_Reasoning)
    annotations: tuple[AnnotationOut, ...] = ()
    finished: Finished | None = None


@attrs.define
class CompletionBuilder:
    """Collects the outputs of n choices into one ChatCompletion."""

    model: str
    n: int = 1
    legacy_functions: bool = False
    id: str = attrs.field(factory=completion_id)
    created: int = attrs.field(factory=lambda: int(time.time()))
    _choices: dict[int, _ChoiceState] = attrs.field(factory=dict)

    def feed(self, choice: int, outputs: list[Output]) -> None:
        state = self._choices.setdefault(choice, _ChoiceState())
        for out in outputs:
            if isinstance(out, TextOut):
                state.text.append(out.text)
            elif isinstance(out, ToolCallBegin):
                state.calls[out.index] = [out.id, out.name]
            elif isinstance(out, ToolCallArgs):
                state.calls[out.index].append(out.text)
            elif isinstance(out, ReasoningOut):
                state.reasoning.add(out)
            elif isinstance(out, Citations):
                state.annotations = annotations_of(out)
            elif isinstance(out, Finished):
                state.finished = out

    @property
    def estimated(self) -> bool:
        return any(s.finished is not None and s.finished.estimated for s in self._choices.values())

    def _choice(self, index: int) -> Choice:
        state = self._choices.get(index, _ChoiceState())
        assert state.finished is not None, "the turn has not finished"
        calls = [
            ToolCallOut(id=parts[0], function=FunctionCallOut(name=parts[1], arguments="".join(parts[2:]) or "{}"))
            for _, parts in sorted(state.calls.items())
        ]
        text = "".join(state.text)
        reason = state.finished.reason
        reasoning, cited = state.reasoning.text, state.annotations or None
        if self.legacy_functions and calls:
            message = AssistantMessageOut(
                content=text or None, function_call=calls[0].function, reasoning_content=reasoning, annotations=cited
            )
            reason = "function_call"
        else:
            message = AssistantMessageOut(
                content=text or (None if calls else ""),
                tool_calls=tuple(calls) or None,
                reasoning_content=reasoning,
                annotations=cited,
            )
        return Choice(index=index, message=message, finish_reason=reason)

    def build(self) -> ChatCompletion:
        choices = tuple(self._choice(i) for i in range(self.n))
        usages = [s.finished.usage for s in self._choices.values() if s.finished is not None]
        return ChatCompletion(
            id=self.id, created=self.created, model=self.model, choices=choices, usage=openai_usage(sum_usage(usages))
        )


@attrs.define
class ChunkBuilder:
    """Outputs -> stream chunks: role first, content and tool-call deltas, finish, then usage."""

    model: str
    include_usage: bool = False
    legacy_functions: bool = False
    id: str = attrs.field(factory=completion_id)
    created: int = attrs.field(factory=lambda: int(time.time()))
    _usages: list[TurnUsage] = attrs.field(factory=list)
    _reasoning: dict[int, _Reasoning] = attrs.field(factory=dict)
    estimated: bool = False

    def _chunk(self, choice: int, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=(ChunkChoice(index=choice, delta=delta, finish_reason=finish),),
        )

    def opening(self, choice: int = 0) -> ChatCompletionChunk:
        return self._chunk(choice, Delta(role="assistant", content=""))

    def feed(self, choice: int, outputs: list[Output]) -> list[ChatCompletionChunk]:
        chunks = []
        for out in outputs:
            if isinstance(out, TextOut):
                chunks.append(self._chunk(choice, Delta(content=out.text)))
            elif isinstance(out, ReasoningOut):
                text = self._reasoning.setdefault(choice, _Reasoning()).add(out)
                chunks.append(self._chunk(choice, Delta(reasoning_content=text)))
            elif isinstance(out, Citations):
                if out.annotations:
                    chunks.append(self._chunk(choice, Delta(annotations=annotations_of(out))))
            elif isinstance(out, ToolCallBegin):
                if self.legacy_functions:
                    if out.index == 0:
                        chunks.append(self._chunk(choice, Delta(function_call=FunctionCallDelta(out.name, ""))))
                    continue
                call = ToolCallDelta(
                    index=out.index, id=out.id, type="function", function=FunctionCallDelta(name=out.name, arguments="")
                )
                chunks.append(self._chunk(choice, Delta(tool_calls=(call,))))
            elif isinstance(out, ToolCallArgs):
                if self.legacy_functions:
                    if out.index == 0:
                        delta = Delta(function_call=FunctionCallDelta(arguments=out.text))
                        chunks.append(self._chunk(choice, delta))
                    continue
                call = ToolCallDelta(index=out.index, function=FunctionCallDelta(arguments=out.text))
                chunks.append(self._chunk(choice, Delta(tool_calls=(call,))))
            elif isinstance(out, Finished):
                self._usages.append(out.usage)
                self.estimated = self.estimated or out.estimated
                reason = "function_call" if self.legacy_functions and out.reason == "tool_calls" else out.reason
                chunks.append(self._chunk(choice, Delta(), reason))
        return chunks

    def usage_chunk(self) -> ChatCompletionChunk | None:
        if not self.include_usage:
            return None
        return ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=(), usage=openai_usage(sum_usage(self._usages))
        )


def completion_chunks(completion: dict[str, Any], *, include_usage: bool) -> list[dict[str, Any]]:
    """A finished completion as the stream chunks that carry it (a stored answer sent again)."""
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
    }

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        data = {**head, "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        if include_usage:
            data["usage"] = None
        return data

    chunks = []
    for choice in completion["choices"]:
        index, message = choice["index"], choice["message"]
        chunks.append(chunk(index, {"role": "assistant", "content": ""}))
        if message.get("content"):
            chunks.append(chunk(index, {"content": message["content"]}))
        for n, call in enumerate(message.get("tool_calls") or []):
            chunks.append(chunk(index, {"tool_calls": [{"index": n, **call}]}))
        if message.get("function_call"):
            chunks.append(chunk(index, {"function_call": message["function_call"]}))
        chunks.append(chunk(index, {}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": completion.get("usage")})
    return chunks
