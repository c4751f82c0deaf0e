"""The neutral request (bridge.schemas.ChatCompletionRequest) of a Responses API request. Pure.

request.py checks the wire request's own shape (items, tools, include, text, reasoning) and turns
`input` into the conversation's chat-shaped messages, the form a stored response keeps. Here the
rest is checked, once, with the chat completions API's checkers on the typed pieces: the model,
the message caps, images, tool-call ids and arguments, the tool results' pairing, the functions'
schemas, tool_choice, the output format and the sampling knobs. They run in the order
/v1/chat/completions runs them, and name the same params (`messages[i]` counts the instructions
and the stored conversation, `tools[i]` the functions offered), so a request with several faults
is refused for the same one as before the Responses API had a parser of its own.
"""

from __future__ import annotations

from typing import Any

import attrs

from bridge.responses.tools import ToolPlan
from bridge.schemas import ChatCompletionRequest, ChatMessageIn, FunctionDef, Part, TextPart, ToolCallIn
from bridge.validation.chat import (
    EFFORTS,
    REFUSED,
    UNAPPLIED,
    is_neutral,
    reasoning_effort,
    unapplied_knobs,
    web_search_options,
)
from bridge.validation.common import check_metadata, integer, invalid_type, max_items, missing, unsupported
from bridge.validation.content import (
    MAX_TOOL_CALLS,
    answer_call,
    arguments,
    check_call_id,
    check_tool_answers,
    empty_content,
    image_url,
    part_not_here,
)
from bridge.validation.limits import Limits, check_count, check_replay
from bridge.validation.tools import function_def, parse_response_format, tool_choice_value

PASSED_ON_REFUSED = ("top_logprobs", "moderation")  # the chat API's refusals a Responses request can meet


@attrs.frozen
class Checked:
    """What request.py has checked and translated, still to be checked as the chat API would."""

    body: dict[str, Any]  # the Responses request as sent
    conversation: list[dict[str, Any]]  # instructions, the stored conversation and the new messages
    plan: ToolPlan
    tool_choice: Any  # chat-shaped; None: not sent
    response_format: dict[str, Any] | None  # chat-shaped `text.format`
    verbosity: Any  # text.verbosity
    effort: Any  # reasoning.effort
    unapplied: tuple[str, ...]  # the Responses request's own


def _parts(param: str, role: str, raw: list[dict[str, Any]]) -> tuple[Part, ...]:
    """request.py made the parts: text (a string) or an image (its URL a string)."""
    parts: list[Part] = []
    for j, part in enumerate(raw):
        where = f"{param}.content[{j}]"
        if part["type"] == "text":
            parts.append(TextPart(part["text"]))
        elif role in ("user", "tool"):
            parts.append(image_url(f"{where}.image_url.url", part["image_url"]["url"]))
        else:
            raise part_not_here(where, part["type"])
    return tuple(parts)


def _content(param: str, role: str, raw: Any) -> str | tuple[Part, ...] | None:
    if raw is None or isinstance(raw, str):
        return raw  # None: an assistant message of tool calls only
    if not raw:
        raise empty_content(param)
    return _parts(param, role, raw)


def _calls(param: str, raw: list[dict[str, Any]]) -> tuple[ToolCallIn, ...]:
    max_items(param, raw, MAX_TOOL_CALLS)
    calls = []
    for k, call in enumerate(raw):
        where = f"{param}[{k}]"
        check_call_id(where, call["id"])
        function = call["function"]
        calls.append(
            ToolCallIn(call["id"], function["name"], arguments(f"{where}.function.arguments", function["arguments"]))
        )
    return tuple(calls)


def messages(conversation: list[dict[str, Any]]) -> tuple[ChatMessageIn, ...]:
    """The chat-shaped conversation (request.py's, or a stored response's) as typed messages."""
    typed: list[ChatMessageIn] = []
    open_calls: dict[str, str] = {}  # tool call id -> function name, not yet answered
    for i, message in enumerate(conversation):
        param, role = f"messages[{i}]", message["role"]
        content = _content(param, role, message.get("content"))
        if role == "assistant":
            calls = _calls(f"{param}.tool_calls", message["tool_calls"]) if message.get("tool_calls") else ()
            open_calls.update({c.id: c.name for c in calls})
            typed.append(ChatMessageIn("assistant", content, tool_calls=calls))
        elif role == "tool":
            answer_call(param, message["tool_call_id"], open_calls)
            typed.append(ChatMessageIn("tool", content, tool_call_id=message["tool_call_id"]))
        else:
            typed.append(ChatMessageIn(role, content))
    return tuple(typed)


def neutral_request(checked: Checked, limits: Limits, web: bool) -> ChatCompletionRequest:
    """`web`: the bridge runs in `web` security mode, where web search is available."""
    body = checked.body
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    check_count(checked.conversation, limits, "input")
    typed = messages(checked.conversation)
    check_replay(typed, limits, "input")

    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_type("user", "a string", user)
    check_metadata(body.get("metadata"))
    web_search = web and checked.plan.web_search is not None
    web_unapplied = web_search_options(checked.plan.web_search) if web_search else ()
    for name in REFUSED:
        if name in PASSED_ON_REFUSED and not is_neutral(name, body.get(name)):
            raise unsupported(name, REFUSED[name])

    tools = tuple(
        function_def(f"tools[{i}].function", offer.name, offer.description, offer.parameters)
        for i, offer in enumerate(checked.plan.functions)
    )
    tool_choice, tool_choice_name = (
        ("auto", None) if checked.tool_choice is None else _tool_choice(checked.tool_choice, tools)
    )
    parallel = body.get("parallel_tool_calls", True)
    if parallel is not None and not isinstance(parallel, bool):
        raise invalid_type("parallel_tool_calls", "a boolean", parallel)
    response_format = parse_response_format(checked.response_format)
    max_output = body.get("max_output_tokens")
    max_tokens = None if max_output is None else integer("max_completion_tokens", max_output, 1, 128_000)
    effort = reasoning_effort(checked.effort)

    # The chat API's knobs a Responses request can carry (`store` is the Responses API's own).
    knobs = {name: body.get(name) for name in UNAPPLIED if name != "store"}
    knobs["verbosity"] = checked.verbosity
    unapplied = unapplied_knobs(knobs)

    check_tool_answers(typed)
    return ChatCompletionRequest(
        model=model,
        messages=typed,
        user=user,
        unapplied=(*unapplied, *web_unapplied, *checked.unapplied),
        tools=tools,
        tool_choice=tool_choice,
        tool_choice_name=tool_choice_name,
        parallel_tool_calls=parallel is not False,
        response_format=response_format,
        max_tokens=max_tokens,
        reasoning_effort=None if effort is None else EFFORTS[effort],
        show_reasoning=effort is not None and effort != "none",
        web_search=web_search,
    )


def _tool_choice(raw: Any, tools: tuple[FunctionDef, ...]) -> tuple[str, str | None]:
    """Unlike chat completions, the Responses API takes `tool_choice: "auto"` or `"none"` with no
    function tools (Codex's compaction request sends `tools: []` with `"auto"`; so do tool sets
    whose only tool, a web search, was left out): nothing to choose from, nothing to refuse."""
    if not tools and raw in ("auto", "none"):
        return raw, None
    return tool_choice_value("tool_choice", raw, tools)
