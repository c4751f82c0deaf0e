"""One choice's CLI events -> neutral outputs (text, tool calls, finish). Pure, stateful per turn.

Both the non-streamed body and the stream chunks are rendered from these outputs, so the two
can never disagree. Handles: text that came as deltas or only as a whole message (the CLI's
non-streaming fallback), client tool calls (the CLI's `mcp__c__` prefix removed), the JSON of
the structured-output tool, stop sequences, and a forced tool call (`bridge.translate.forced`):
its structured output becomes the call, and a turn asked again (`ReAsked`) still counts its usage.
Claude's thinking (`bridge.translate.thinking`) and the CLI's web searches
(`bridge.translate.websearch`) are followed alongside.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from jsonschema import Draft202012Validator

from bridge import jsonsafe
from bridge.tokens import estimate_tokens
from bridge.translate.forced import ForcedCall, call_id
from bridge.translate.stops import StopCutter
from bridge.translate.thinking import KeptThinking, ReasoningOut, ThinkingTracker
from bridge.translate.usage import TurnUsage, finish_reason, sum_usage, usage_from_result
from bridge.translate.websearch import Citations, SearchCall, SearchTracker
from supervisor.client_tools import STRUCTURED_OUTPUT
from supervisor.events import (
    AssistantMessage,
    Event,
    MessageDelta,
    MessageStart,
    ReAsked,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStart,
    UserMessage,
)
from supervisor.launch import MCP_PREFIX

IGNORED, JSON_BLOCK = -1, -2


class StructuredOutputError(Exception):
    """The model did not produce JSON that matches the requested schema."""


class ForcedCallError(StructuredOutputError):
    """`tool_choice` demanded a call, and the model did not make one (asked again, in vain)."""


@attrs.frozen
class TextOut:
    text: str


@attrs.frozen
class ToolCallBegin:
    index: int
    id: str
    name: str


@attrs.frozen
class ToolCallArgs:
    index: int
    text: str


@attrs.frozen
class Finished:
    reason: str
    usage: TurnUsage
    estimated: bool = False  # completion_tokens counted by the bridge (text cut at a stop sequence)
    stop_sequence: str | None = None  # which of the request's stop sequences ended the answer


@attrs.frozen
class Started:
    """The upstream's message_start usage (the prompt's tokens). It rides with the turn's first
    other output, so it never changes when a response starts; only the Messages API shows it."""

    usage: TurnUsage


Output = (
    TextOut | ToolCallBegin | ToolCallArgs | Finished | Started | ReasoningOut | SearchCall | Citations | KeptThinking
)


@attrs.define
class ChoiceAssembler:
    json_schema: str | None = None
    stops: tuple[str, ...] = ()
    parallel_tool_calls: bool = True
    forced: ForcedCall | None = None
    tool_names: frozenset[str] | None = None  # the client functions a call may name (None: any)
    show_reasoning: bool = False
    done: bool = False
    _message: str = ""
    _streamed: set[str] = attrs.field(factory=set)
    _blocks: dict[int, int] = attrs.field(factory=dict)
    _tool_ids: set[str] = attrs.field(factory=set)
    _calls: int = 0
    _json: list[str] = attrs.field(factory=list)
    _text: list[str] = attrs.field(factory=list)
    _prompt_usage: dict[str, Any] | None = None
    _message_usage: dict[str, Any] = attrs.field(factory=dict)
    _cutter: StopCutter | None = None
    _asked: list[TurnUsage] = attrs.field(factory=list)  # usage of the results that were asked again
    _start: Started | None = None  # not yet handed out
    _started: bool = False
    _ended_by_result: bool = False
    _dropped: bool = False  # something the model said is not in the answer
    _thinking: ThinkingTracker = attrs.field(factory=ThinkingTracker)
    _search: SearchTracker = attrs.field(factory=SearchTracker)
    _json_message: str = ""  # the upstream message of the structured-output call

    def __attrs_post_init__(self) -> None:
        if self.stops:
            self._cutter = StopCutter(self.stops)
        self._thinking.show = self.show_reasoning

    @property
    def tool_calls(self) -> int:
        return self._calls

    @property
    def faithful(self) -> bool:
        """The answer is everything the model said, as it said it (so a process may keep it)."""
        return self._ended_by_result and not self._dropped and self.json_schema is None

    def feed(self, event: Event) -> list[Output]:
        if self.done:
            return []
        outputs = self._feed(event)
        if outputs and self._start is not None:
            outputs.insert(0, self._start)
            self._start, self._started = None, True
        return outputs

    def _feed(self, event: Event) -> list[Output]:
        if isinstance(event, MessageStart):
            self._message = event.message_id
            self._thinking.started(event.message_id, event.model)
            self._blocks = {}
            self._message_usage = event.usage
            if self._prompt_usage is None:
                self._prompt_usage = event.usage
            if not self._started:  # a retried attempt's message_start replaces a failed one's
                self._start = Started(usage_from_result(event.usage))
            return []
        if isinstance(event, MessageDelta):
            return self._cut_at_limit(event) if event.stop_reason == "max_tokens" else []
        if isinstance(event, TextDelta):
            if self.json_schema is not None or not event.text:
                return []
            self._streamed.add(self._message)
            return self._emit_text(event.text)
        if isinstance(event, ThinkingDelta):
            return list(self._thinking.delta(self._message, event))
        if isinstance(event, ToolUseStart):
            return self._begin_tool(event.index, event.id, event.name, self._message)
        if isinstance(event, ToolInputDelta):
            return self._tool_input(event.index, event.partial_json)
        if isinstance(event, AssistantMessage) and not event.synthetic:
            return [*self._thinking.whole(event), *self._whole_message(event), *self._search.asked(event)]
        if isinstance(event, UserMessage):
            return list(self._search.answered(event))
        if isinstance(event, Result):
            return self._finish(event)
        if isinstance(event, ReAsked):
            self._asked.append(usage_from_result(event.result.usage))
            self._json = []
        return []

    # -- pieces ---------------------------------------------------------------------------

    def _emit_text(self, text: str) -> list[Output]:
        if self._cutter is None:
            self._text.append(text)
            return [TextOut(text)]
        safe, hit = self._cutter.feed(text)
        out: list[Output] = []
        if safe:
            self._text.append(safe)
            out.append(TextOut(safe))
        if hit:
            out.append(self._cut_short())
        return out

    def _cut_short(self) -> Finished:
        """A stop sequence ended the answer; the turn is aborted, so usage is partly estimated."""
        self.done = True
        self._dropped = True
        prompt = usage_from_result(self._prompt_usage or {})
        usage = attrs.evolve(prompt, output_tokens=estimate_tokens("".join(self._text)), thinking_tokens=0)
        return Finished(
            "stop",
            usage,
            estimated=True,
            stop_sequence=self._cutter.matched if self._cutter is not None else None,
        )

    def _cut_at_limit(self, event: MessageDelta) -> list[Output]:
        """max_tokens reached: the answer ends here with `length`.

        The CLI would otherwise send an automatic "Output token limit hit. Resume" request and
        keep generating; the turn is interrupted instead. Usage is this message's own figures.
        """
        out: list[Output] = []
        if self._cutter is not None and (rest := self._cutter.flush()):
            self._text.append(rest)
            out.append(TextOut(rest))
        self.done = True
        self._dropped = True
        if self.json_schema is not None and self.forced is None:
            raise StructuredOutputError("the JSON output was cut off at max_tokens")
        usage = usage_from_result({**self._message_usage, **event.usage})
        out.append(Finished("length", sum_usage([*self._asked, usage])))
        return out

    def _begin_tool(self, block: int, tool_id: str, name: str, message: str) -> list[Output]:
        if tool_id in self._tool_ids:
            self._blocks[block] = IGNORED
            return []
        self._tool_ids.add(tool_id)
        if self.json_schema is not None and name == STRUCTURED_OUTPUT:
            self._blocks[block] = JSON_BLOCK
            self._json = []  # if the CLI asked again, only the last attempt counts
            self._json_message = message
            return []
        allowed = self.tool_names is None or name[len(MCP_PREFIX) :] in self.tool_names
        if not name.startswith(MCP_PREFIX) or not allowed or (self._calls and not self.parallel_tool_calls):
            self._blocks[block] = IGNORED
            self._dropped = True
            return []
        self._blocks[block] = self._calls
        self._calls += 1
        self._thinking.called(tool_id, message)
        return [ToolCallBegin(self._calls - 1, tool_id, name[len(MCP_PREFIX) :])]

    def _tool_input(self, block: int, text: str) -> list[Output]:
        target = self._blocks.get(block, IGNORED)
        if target == JSON_BLOCK:
            self._json.append(text)
            return [TextOut(text)] if text and self.forced is None else []
        if target >= 0 and text:
            return [ToolCallArgs(target, text)]
        return []

    def _whole_message(self, event: AssistantMessage) -> list[Output]:
        out: list[Output] = []
        if self.json_schema is None and (event.message_id or "") not in self._streamed and event.text:
            out += self._emit_text(event.text)
        for position, block in enumerate(event.tool_uses):
            if block.get("id") in self._tool_ids:
                continue
            slot = 10_000 + position  # not a streamed block index
            out += self._begin_tool(slot, str(block.get("id")), str(block.get("name")), event.message_id or "")
            out += self._tool_input(slot, json.dumps(block.get("input") or {}, ensure_ascii=False))
        return out

    def _finish(self, result: Result) -> list[Output]:
        out: list[Output] = []
        if self._cutter is not None:
            rest = self._cutter.flush()
            if rest:
                self._text.append(rest)
                out.append(TextOut(rest))
        self.done = True
        self._ended_by_result = True
        if self.forced is not None and not self._calls:
            out += self._forced_call(result)
            reason = "tool_calls"
        elif self.json_schema is not None and self.forced is None and not self._calls:
            out += self._check_json(result)
            reason = "length" if result.stop_reason == "max_tokens" else "stop"
        elif self._calls:
            reason = "tool_calls"
        else:
            reason = finish_reason(result.stop_reason)
            if reason == "tool_calls":  # a non-client tool was refused; no call to report
                reason = "stop"
        if self.json_schema is None:
            out += self._search.citations("".join(self._text))
        out += self._thinking.kept()
        out.append(Finished(reason, sum_usage([*self._asked, usage_from_result(result.usage)])))
        return out

    def _forced_call(self, result: Result) -> list[Output]:
        """The structured output stands for the call `tool_choice` demanded (validated again)."""
        assert self.forced is not None and self.json_schema is not None
        structured = result.structured_output
        asks = len(self._asked) + 1
        if structured is None:
            raise ForcedCallError(f"the model did not call the tool that tool_choice requires ({asks} attempts)")
        error = next(iter(Draft202012Validator(json.loads(self.json_schema)).iter_errors(structured)), None)
        if error is not None:
            raise ForcedCallError(f"the model's tool call does not match the function's parameters: {error.message}")
        name, arguments = self.forced.call(structured)
        self._calls = 1
        made = call_id()
        self._thinking.called(made, self._json_message)  # the call was made after that thinking
        return [ToolCallBegin(0, made, name), ToolCallArgs(0, json.dumps(arguments, ensure_ascii=False))]

    def _check_json(self, result: Result) -> list[Output]:
        out: list[Output] = []
        text = "".join(self._json)
        if not text and result.structured_output is not None:
            text = json.dumps(result.structured_output, ensure_ascii=False)
            out.append(TextOut(text))
        if not text:
            raise StructuredOutputError("the model did not produce the requested JSON output")
        try:
            value = jsonsafe.loads(text)  # bounded: the schema check below walks it recursively
        except ValueError as exc:
            raise StructuredOutputError(f"the model's output is not valid JSON: {exc}") from None
        schema = json.loads(self.json_schema or "{}")
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
        if error is not None:
            raise StructuredOutputError(f"the model's JSON does not match the schema: {error.message}")
        return out
