"""Checks a raw chat-completions body and builds the typed request. Pure.

Every refusal names the offending parameter (`param`) the way OpenAI does, so clients and
their users can tell what to change.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.errors import InvalidRequest
from bridge.schemas import ChatCompletionRequest, ChatMessageIn, StreamOptions, TextPart

ROLES = ("system", "developer", "user", "assistant", "tool", "function")

# Sampling and bookkeeping knobs the Claude CLI offers no control for. They are accepted
# (clients send them by default), validated, reported back in a response header and
# documented in the README's parameter table.
UNAPPLIED = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
    "seed": None,
    "service_tier": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "metadata": None,
    "store": None,
}

# Parameters that change the answer and that this release does not implement yet: refused
# when they ask for something, accepted when they hold their neutral value.
NOT_YET = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "response_format",
    "stop",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "max_tokens",
    "max_completion_tokens",
    "modalities",
    "audio",
    "prediction",
    "reasoning_effort",
    "web_search_options",
    "verbosity",
)

KNOWN = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "n",
    "user",
    *UNAPPLIED,
    *NOT_YET,
}

_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def not_supported(param: str, why: str = "") -> InvalidRequest:
    return InvalidRequest(
        f"The '{param}' parameter is not supported by this bridge yet{': ' + why if why else ''}.",
        param=param,
        code="unsupported_parameter",
    )


def _is_neutral(name: str, value: Any) -> bool:
    if value is None:
        return True
    if name in ("logprobs", "parallel_tool_calls"):
        return value is False or (name == "parallel_tool_calls" and value is True)
    if name in ("tools", "functions", "logit_bias"):
        return bool(value == [] or value == {})
    if name == "response_format":
        return isinstance(value, dict) and value.get("type") == "text" and len(value) == 1
    if name == "modalities":
        return bool(value == ["text"])
    if name == "tool_choice":
        return bool(value == "none")
    return False


def _number(name: str, value: Any, bounds: tuple[float, float] | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid_type(name, "a number", value)
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise InvalidRequest(
            f"Invalid '{name}': {value} is outside the allowed range [{bounds[0]:g}, {bounds[1]:g}].",
            param=name,
            code="invalid_value",
        )


def _check_unapplied(name: str, value: Any) -> None:
    if value is None:
        return
    if name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        _number(name, value, UNAPPLIED[name])  # type: ignore[arg-type]
    elif name == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_type(name, "an integer", value)
    elif name == "store":
        if not isinstance(value, bool):
            raise invalid_type(name, "a boolean", value)
    elif name == "metadata":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise invalid_type(name, "an object of strings", value)
        if len(value) > 16:
            raise InvalidRequest("Invalid 'metadata': at most 16 keys.", param=name, code="invalid_value")
    elif not isinstance(value, str):
        raise invalid_type(name, "a string", value)


def _parts(param: str, content: list[Any]) -> tuple[TextPart, ...]:
    parts = []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise invalid_type(f"{where}.text", "a string", part.get("text"))
            parts.append(TextPart(part["text"]))
        elif kind in ("image_url", "input_audio", "file"):
            raise InvalidRequest(
                f"Content parts of type '{kind}' are not supported by this bridge yet.",
                param=f"{where}.type",
                code="unsupported_content_type",
            )
        else:
            raise InvalidRequest(
                f"Invalid value: '{kind}'. Supported values are: 'text'.",
                param=f"{where}.type",
                code="invalid_value",
            )
    return tuple(parts)


def _message(i: int, raw: Any) -> ChatMessageIn:
    param = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    role = raw.get("role")
    if role is None:
        raise missing(f"{param}.role")
    if role not in ROLES:
        raise InvalidRequest(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
            "'tool', and 'developer'.",
            param=f"{param}.role",
            code="invalid_value",
        )
    if role in ("tool", "function") or raw.get("tool_calls") or raw.get("function_call"):
        raise not_supported(
            f"{param}.role" if role in ("tool", "function") else f"{param}.tool_calls",
            "function calling lands in a later release",
        )
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise invalid_type(f"{param}.name", "a string", name)
    content = raw.get("content")
    if "content" not in raw and role != "assistant":
        raise missing(f"{param}.content")
    if content is None:
        raise invalid_type(f"{param}.content", "a string or an array of content parts", content)
    if isinstance(content, str):
        return ChatMessageIn(role, content, name)
    if isinstance(content, list):
        if not content and role == "user":
            raise InvalidRequest(
                f"Invalid '{param}.content': empty array. Expected an array with minimum length 1.",
                param=f"{param}.content",
                code="empty_array",
            )
        return ChatMessageIn(role, _parts(f"{param}.content", content), name)
    raise invalid_type(f"{param}.content", "a string or an array of content parts", content)


def parse_chat_request(body: Any) -> ChatCompletionRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {unknown[0]}",
            param=unknown[0],
            code="unknown_parameter",
        )
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    messages = body.get("messages")
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    parsed = tuple(_message(i, m) for i, m in enumerate(messages))

    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    stream_options = None
    raw_options = body.get("stream_options")
    if raw_options is not None:
        if not isinstance(raw_options, dict):
            raise invalid_type("stream_options", "an object", raw_options)
        if not stream:
            raise InvalidRequest(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
        include = raw_options.get("include_usage", False)
        if not isinstance(include, bool):
            raise invalid_type("stream_options.include_usage", "a boolean", include)
        stream_options = StreamOptions(include_usage=include)

    n = body.get("n")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise invalid_type("n", "an integer", n)
        if n < 1:
            raise InvalidRequest(
                f"{n} is less than the minimum of 1 - 'n'",
                param="n",
                code="integer_below_min_value",
            )
        if n > 128:
            raise InvalidRequest(
                f"{n} is greater than the maximum of 128 - 'n'",
                param="n",
                code="integer_above_max_value",
            )
        if n > 1:
            raise not_supported("n", "only n=1 is served in this release")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_type("user", "a string", user)

    for name in NOT_YET:
        if not _is_neutral(name, body.get(name)):
            raise not_supported(name)
    unapplied = []
    for name in UNAPPLIED:
        if body.get(name) is not None:
            _check_unapplied(name, body[name])
            if name != "metadata":
                unapplied.append(name)

    if parsed[-1].role != "user":
        raise InvalidRequest(
            f"The last message must have role 'user' (got '{parsed[-1].role}'): Claude answers a user turn.",
            param=f"messages[{len(parsed) - 1}].role",
            code="invalid_value",
        )
    return ChatCompletionRequest(
        model=model,
        messages=parsed,
        stream=bool(stream),
        stream_options=stream_options,
        n=n or 1,
        user=user,
        unapplied=tuple(unapplied),
    )
