"""A Responses API request -> the neutral request, plus what the response must echo. Pure.

The wire request's own fields are checked here; what it shares with /v1/chat/completions (tools,
structured output, images, limits) is checked once, by the chat API's checkers, in
bridge.responses.neutral, so both APIs behave identically there.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.responses.items import Sealed, input_items
from bridge.responses.items import item_id as item_id  # re-exported: ids are made here for the route
from bridge.responses.neutral import Checked, neutral_request
from bridge.responses.tools import WEB_SEARCH_TOOLS, Named, echo_tool, parse_tools
from bridge.schemas import ChatCompletionRequest
from bridge.validation.common import integer, invalid_type, missing, require_object, unsupported
from bridge.validation.limits import Limits, check_count

# model, parallel_tool_calls, temperature, top_p, user, metadata, service_tier, safety_identifier,
# prompt_cache_key, prompt_cache_retention, prompt_cache_options, moderation and top_logprobs are
# checked as /v1/chat/completions checks them (bridge.responses.neutral): applied, reported as not
# applied (X-Bridge-Unapplied-Params) or refused.

# OpenAI-side state and features the bridge does not have.
REFUSED = {
    "conversation": "OpenAI conversations are not available; continue with previous_response_id.",
    "prompt": "stored prompt templates are not available; send instructions and input.",
    "context_management": "server-side compaction is not available.",
}
KNOWN = {
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "tools",
    "tool_choice",
    "text",
    "max_output_tokens",
    "store",
    "stream",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "user",
    "reasoning",
    "truncation",
    "include",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "background",
    "stream_options",
    "prompt_cache_retention",
    "prompt_cache_options",
    "moderation",
    "top_logprobs",
    "max_tool_calls",
    "client_metadata",
    *REFUSED,
}
INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)
# What `include` can ask for that the bridge returns: sealed reasoning, and the sources a web
# search found (always in its web_search_call item).
INCLUDED = ("reasoning.encrypted_content", "web_search_call.action.sources")


AFFINITY = re.compile(r"\A[0-9a-f]{16}\Z")
SUMMARIES = ("auto", "concise", "detailed")


def response_id(affinity: str | None) -> str:
    """`resp_` and 48 hex digits. Behind the shipped nginx, the first 16 are the affinity token
    nginx routed this request by (X-Bridge-Affinity), so that a continuation naming this id as
    previous_response_id is routed to the replica its chain began on."""
    if affinity is not None and AFFINITY.fullmatch(affinity):
        return f"resp_{affinity}{secrets.token_hex(16)}"
    return f"resp_{secrets.token_hex(24)}"


@attrs.frozen
class ResponsesRequest:
    chat: ChatCompletionRequest  # the neutral request the turn service answers
    input_items: list[dict[str, Any]]  # as stored and listed by /input_items, each with an id
    new_messages: list[dict[str, Any]]  # chat messages this request adds to the conversation
    echo: dict[str, Any]  # request fields the response object repeats
    previous_response_id: str | None
    store: bool
    stream: bool
    show_reasoning: bool = False  # `reasoning` asked for a summary or an effort: thinking is returned
    names: dict[str, Named] = attrs.field(factory=dict)  # function offered to Claude -> the client's tool
    sealed: list[Sealed] = attrs.field(factory=list)  # encrypted_content of the reasoning items in `input`
    encrypted_reasoning: bool = False  # include: reasoning.encrypted_content


def _include(raw: Any) -> tuple[bool, tuple[str, ...]]:
    """(sealed reasoning asked for, the include values not applied)."""
    if raw is None:
        return False, ()
    if not isinstance(raw, list):
        raise invalid_type("include", "an array", raw)
    for i, value in enumerate(raw):
        if value not in INCLUDABLE:
            raise InvalidRequest(
                f"Invalid value: '{value}'. Supported values are: {', '.join(repr(v) for v in INCLUDABLE)}.",
                param=f"include[{i}]",
                code="invalid_value",
            )
    unapplied = tuple(f"include[{i}]" for i, value in enumerate(raw) if value not in INCLUDED)
    return "reasoning.encrypted_content" in raw, unapplied


def _client_metadata(raw: Any) -> None:
    """Codex CLI's own bookkeeping (installation, session, turn and thread ids), as string values."""
    if not isinstance(raw, dict):
        raise invalid_type("client_metadata", "an object", raw)
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid_type(f"client_metadata.{key}", "a string", value)


def _tool_choice(raw: Any) -> Any:
    if isinstance(raw, dict) and raw.get("type") in WEB_SEARCH_TOOLS:
        raise unsupported("tool_choice", "a web search cannot be forced on this bridge; use 'auto'.")
    if isinstance(raw, dict) and raw.get("type") in ("function", "custom"):
        return {"type": "function", "function": {"name": raw.get("name")}}
    return raw


def _format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_type("text", "an object", raw)
    fmt = raw.get("format")
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if not isinstance(fmt, dict):
        raise invalid_type("text.format", "an object", fmt)
    if fmt.get("type") == "json_schema":
        return {"type": "json_schema", "json_schema": {k: fmt[k] for k in ("name", "schema", "strict") if k in fmt}}
    return {"type": fmt.get("type")}


def _reasoning(raw: Any) -> tuple[dict[str, Any], bool]:
    """(the echoed `reasoning`, whether Claude's thinking is returned)."""
    if raw is None:
        return {"effort": None, "summary": None}, False
    if not isinstance(raw, dict):
        raise invalid_type("reasoning", "an object", raw)
    summary = raw.get("summary", raw.get("generate_summary"))
    if summary is not None and summary not in SUMMARIES:
        raise InvalidRequest(
            f"Invalid value: '{summary}'. Supported values are: 'auto', 'concise' and 'detailed'.",
            param="reasoning.summary",
            code="invalid_value",
        )
    effort = raw.get("effort")
    return {"effort": effort, "summary": summary}, summary is not None or (effort is not None and effort != "none")


def parse_responses_request(
    body: Any, previous: list[dict[str, Any]], response_id: str, web: bool = False, limits: Limits | None = None
) -> ResponsesRequest:
    """`previous` is the stored conversation of `previous_response_id` (empty without one);
    `response_id` is the id the response will have (its input items' ids derive from it).

    `web`: the bridge runs in `web` security mode, where a web search tool is accepted.
    `limits`: MAX_MESSAGES counts the stored conversation with the new input items.
    """
    limits = limits or Limits()
    body = require_object(body, KNOWN)
    if body.get("background"):
        raise unsupported("background", "background responses are not available.")
    for name, why in REFUSED.items():
        if body.get(name) is not None:
            raise unsupported(name, why)
    if body.get("max_tool_calls") is not None:  # limits built-in tool calls; only functions are offered
        integer("max_tool_calls", body["max_tool_calls"], 0, 2**31 - 1)
    if "input" not in body:
        raise missing("input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid_type("instructions", "a string", instructions)
    store = body.get("store", True)
    if not isinstance(store, bool):
        raise invalid_type("store", "a boolean", store)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    if isinstance(body["input"], list):
        check_count([*previous, *body["input"]], limits, "input")
    parsed = input_items(body["input"], response_id)
    messages = parsed.messages
    system = [{"role": "system", "content": instructions}] if instructions else []
    plan = parse_tools(body.get("tools"), web)
    encrypted, unapplied = _include(body.get("include"))
    unapplied += plan.unapplied
    if body.get("client_metadata") is not None:
        _client_metadata(body["client_metadata"])
        unapplied += ("client_metadata",)
    tool_choice = None if body.get("tool_choice") is None else _tool_choice(body["tool_choice"])
    response_format = _format(body.get("text"))
    verbosity = body["text"].get("verbosity") if isinstance(body.get("text"), dict) else None
    reasoning, show_reasoning = _reasoning(body.get("reasoning"))
    checked = Checked(
        body,
        [*system, *previous, *messages],
        plan,
        tool_choice,
        response_format,
        verbosity,
        reasoning["effort"],
        unapplied,
    )
    chat = neutral_request(checked, limits, web)
    echo = {
        "instructions": instructions,
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": body.get("model"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": reasoning,
        "store": store,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [echo_tool(raw) for raw in body.get("tools") or []],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
    }
    if body.get("user") is not None:
        echo["user"] = body["user"]
    return ResponsesRequest(
        chat,
        parsed.items,
        messages,
        echo,
        body.get("previous_response_id"),
        store,
        stream,
        show_reasoning,
        names=plan.names,
        sealed=parsed.sealed,
        encrypted_reasoning=encrypted,
    )
