"""Checks a raw chat-completions body and builds the typed request. Pure.

Every refusal names the offending parameter (`param`) the way OpenAI does, so clients and
their users can tell what to change. What Claude Code cannot do is refused, never pretended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import InvalidRequest
from bridge.schemas import ChatCompletionRequest, StreamOptions
from bridge.validation.common import (
    check_metadata,
    integer,
    invalid_type,
    invalid_value,
    missing,
    number,
    require_object,
    unsupported,
)
from bridge.validation.content import check_tool_answers, parse_messages
from bridge.validation.limits import Limits, check_count, check_replay
from bridge.validation.tools import parse_response_format, parse_tool_choice, parse_tools

# Sampling and bookkeeping knobs the Claude CLI offers no control for. They are accepted
# (clients send them by default), validated, reported back in a response header and
# documented in the README's parameter table.
UNAPPLIED = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "safety_identifier",
    "verbosity",
    "store",
)
RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}

# What Claude cannot do through the CLI; asking for it gets a 400 saying so.
REFUSED = {
    "logprobs": "Claude does not return token log probabilities.",
    "top_logprobs": "Claude does not return token log probabilities.",
    "logit_bias": "Claude does not accept token biases.",
    "audio": "audio output is not available from Claude.",
    "prediction": "predicted outputs are not available from Claude.",
    "web_search_options": "web search is not enabled on this bridge (SECURITY_MODE=web enables it).",
    "moderation": "moderation of the input and the output is not available from Claude.",
}
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh"}

KNOWN = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "n",
    "user",
    "metadata",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "response_format",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "reasoning_effort",
    "modalities",
    *UNAPPLIED,
    *REFUSED,
}


def is_neutral(name: str, value: Any) -> bool:
    if value is None or value is False:
        return True
    return name == "logit_bias" and value == {}


def check_unapplied(name: str, value: Any) -> None:
    if name in RANGES:
        number(name, value, *RANGES[name])
    elif name == "seed":
        integer(name, value, -(2**63), 2**63 - 1)
    elif name == "store":
        if not isinstance(value, bool):
            raise invalid_type(name, "a boolean", value)
    elif name == "prompt_cache_options":
        if not isinstance(value, dict):
            raise invalid_type(name, "an object", value)
    elif not isinstance(value, str):
        raise invalid_type(name, "a string", value)


def unapplied_knobs(values: Mapping[str, Any]) -> list[str]:
    """The knobs Claude cannot honour that a request set (each checked for its type), in
    UNAPPLIED's order: they are named in X-Bridge-Unapplied-Params, never silently dropped."""
    found = []
    for name in UNAPPLIED:
        if values.get(name) is not None:
            check_unapplied(name, values[name])
            found.append(name)
    return found


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise invalid_type("stop", "a string or an array of strings", raw)
    if len(raw) > 4:
        raise invalid_value("stop", "at most 4 stop sequences.")
    if any(s == "" for s in raw):
        raise invalid_value("stop", "stop sequences must not be empty.")
    return tuple(dict.fromkeys(raw))


def web_search_options(raw: Any) -> tuple[str, ...]:
    """Checks web_search_options; returns the sub-options the CLI's WebSearch cannot apply."""
    if not isinstance(raw, dict):
        raise invalid_type("web_search_options", "an object", raw)
    unknown = set(raw) - {"search_context_size", "user_location"}
    if unknown:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: web_search_options.{sorted(unknown)[0]}",
            param=f"web_search_options.{sorted(unknown)[0]}",
            code="unknown_parameter",
        )
    size = raw.get("search_context_size")
    if size is not None and size not in ("low", "medium", "high"):
        raise invalid_value("web_search_options.search_context_size", "expected 'low', 'medium' or 'high'.")
    location = raw.get("user_location")
    if location is not None and not (isinstance(location, dict) and location.get("type") == "approximate"):
        raise invalid_value("web_search_options.user_location", "expected {'type': 'approximate', ...}.")
    return tuple(f"web_search_options.{k}" for k in ("search_context_size", "user_location") if raw.get(k) is not None)


def reasoning_effort(effort: Any) -> str | None:
    """`reasoning_effort` as sent (None: not sent), checked; EFFORTS maps it to the CLI's."""
    if effort is not None and not isinstance(effort, str):
        raise invalid_type("reasoning_effort", "a string", effort)
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"Invalid value: '{effort}'. Supported values are: {', '.join(repr(e) for e in EFFORTS)}.",
            param="reasoning_effort",
            code="invalid_value",
        )
    return effort


def parse_chat_request(
    body: Any,
    limits: Limits | None = None,
    *,
    web: bool = False,
) -> ChatCompletionRequest:
    """`web`: the bridge runs in `web` security mode, where web search is available."""
    limits = limits or Limits()
    body = require_object(body, KNOWN)
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    check_count(body.get("messages"), limits)
    messages = parse_messages(body.get("messages"))
    check_replay(messages, limits)

    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    stream_options = None
    if body.get("stream_options") is not None:
        raw_options = body["stream_options"]
        if not isinstance(raw_options, dict):
            raise invalid_type("stream_options", "an object", raw_options)
        if not stream:
            raise invalid_value("stream_options", "only allowed when 'stream' is enabled.")
        include = raw_options.get("include_usage", False)
        if not isinstance(include, bool):
            raise invalid_type("stream_options.include_usage", "a boolean", include)
        stream_options = StreamOptions(include_usage=include)

    n = 1 if body.get("n") is None else integer("n", body["n"], 1, 10)
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_type("user", "a string", user)
    check_metadata(body.get("metadata"))

    web_unapplied: tuple[str, ...] = ()
    web_search = web and body.get("web_search_options") is not None
    if web_search:
        web_unapplied = web_search_options(body["web_search_options"])
    for name, why in REFUSED.items():
        if not is_neutral(name, body.get(name)) and not (name == "web_search_options" and web_search):
            raise unsupported(name, why)
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        if not isinstance(modalities, list):
            raise invalid_type("modalities", "an array", modalities)
        raise unsupported("modalities", "Claude answers with text only.")

    tools, legacy = parse_tools(body)
    tool_choice, tool_choice_name = parse_tool_choice(body, tools, legacy)
    parallel = body.get("parallel_tool_calls", True)
    if parallel is not None and not isinstance(parallel, bool):
        raise invalid_type("parallel_tool_calls", "a boolean", parallel)
    response_format = parse_response_format(body.get("response_format"))

    max_tokens = None
    for name in ("max_tokens", "max_completion_tokens"):
        if body.get(name) is not None:
            max_tokens = integer(name, body[name], 1, 128_000)
    if body.get("max_completion_tokens") is not None:
        max_tokens = int(body["max_completion_tokens"])
    effort = reasoning_effort(body.get("reasoning_effort"))

    unapplied = unapplied_knobs(body)

    check_tool_answers(messages)
    return ChatCompletionRequest(
        model=model,
        messages=messages,
        stream=bool(stream),
        stream_options=stream_options,
        n=n,
        user=user,
        unapplied=(*unapplied, *web_unapplied),
        tools=tools,
        tool_choice=tool_choice,
        tool_choice_name=tool_choice_name,
        parallel_tool_calls=parallel is not False,
        legacy_functions=legacy,
        response_format=response_format,
        stop=_stop(body.get("stop")),
        max_tokens=max_tokens,
        reasoning_effort=None if effort is None else EFFORTS[effort],
        show_reasoning=effort is not None and effort != "none",
        web_search=web_search,
    )
