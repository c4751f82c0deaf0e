"""The Responses API's `input` items -> chat messages, and the items as /input_items lists them. Pure.

Besides messages and function calls, a client that keeps its own conversation (Codex CLI) sends
back every item it was given: reasoning (its sealed thinking is collected for the route to open),
web search calls (their results are in the answer that follows, so they add nothing), custom tool
calls and their outputs. Items that only OpenAI's own tools or state can make sense of
(`local_shell_call`, `compaction`) are refused with a 400 naming the item.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.responses.tools import SEPARATOR
from bridge.validation.common import invalid_type, missing, unsupported


def item_id(prefix: str, response_id: str) -> str:
    """A new item id that starts with its response's hex, so an `item_reference` (which names
    only the item) leads to the stored response that holds it (see references.py)."""
    return f"{prefix}_{response_id.partition('_')[2]}{secrets.token_hex(4)}"


ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}
UNANSWERABLE = {
    "local_shell_call": "this server offers no 'local_shell' tool, so Claude never made this call and cannot "
    "continue from it; offer the shell as a function tool.",
    "local_shell_call_output": "this server offers no 'local_shell' tool, so Claude never made this call and "
    "cannot continue from it; offer the shell as a function tool.",
    "compaction": "it holds OpenAI's encrypted summary of earlier turns, which Claude cannot read; send the "
    "conversation itself (or a summary as a message).",
    "compaction_summary": "it holds OpenAI's encrypted summary of earlier turns, which Claude cannot read; send "
    "the conversation itself (or a summary as a message).",
}


@attrs.frozen
class Sealed:
    """A reasoning item's encrypted_content, to be opened by the route (it needs the key)."""

    param: str
    token: str


@attrs.frozen
class Input:
    messages: list[dict[str, Any]]  # chat messages
    items: list[dict[str, Any]]  # as stored and listed by /input_items, each with an id
    sealed: list[Sealed]


def _text_part(param: str, part: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(part.get("text"), str):
        raise invalid_type(f"{param}.text", "a string", part.get("text"))
    return {"type": "text", "text": part["text"]}


def content(param: str, raw: Any) -> str | list[dict[str, Any]]:
    """Message content, or a tool call's output: a string or input/output content parts."""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise invalid_type(param, "a string or an array of content parts", raw)
    parts = []
    for j, part in enumerate(raw):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(_text_part(where, part))
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise unsupported(f"{where}.image_url", "only inline data URLs are accepted (no file_id).")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal", ""))})
        else:
            raise InvalidRequest(
                f"Content parts of type '{kind}' are not supported.",
                param=f"{where}.type",
                code="unsupported_content_type",
            )
    return parts


def _stored(item: dict[str, Any], response_id: str) -> dict[str, Any]:
    """The item as /input_items lists it (with an id), normalised."""
    stored = dict(item)
    kind = item.get("type", "message")
    stored["type"] = kind
    if kind == "message" and isinstance(item.get("content"), str):
        role = "output_text" if item.get("role") == "assistant" else "input_text"
        stored["content"] = [{"type": role, "text": item["content"]}]
    if kind in ID_PREFIXES:
        stored.setdefault("status", "completed")
        stored.setdefault("id", item_id(ID_PREFIXES[kind], response_id))
    return stored


def _strings(param: str, item: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if not isinstance(item.get(key), str):
            raise invalid_type(f"{param}.{key}", "a string", item.get(key))


def _add_call(messages: list[dict[str, Any]], call_id: str, name: str, arguments: str) -> None:
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), (str, list)):
        last["tool_calls"] = [call]
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _model_name(param: str, item: dict[str, Any]) -> str:
    namespace = item.get("namespace")
    if namespace is None:
        return str(item["name"])
    if not isinstance(namespace, str):
        raise invalid_type(f"{param}.namespace", "a string", namespace)
    return f"{namespace}{SEPARATOR}{item['name']}"


def _message(param: str, item: dict[str, Any]) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system' and 'developer'.",
            param=f"{param}.role",
            code="invalid_value",
        )
    if "content" not in item:
        raise missing(f"{param}.content")
    return {"role": role, "content": content(f"{param}.content", item["content"])}


def input_items(raw: Any, response_id: str) -> Input:
    """Messages, stored items and sealed reasoning for `input`; item references already resolved."""
    if isinstance(raw, str):
        item = {"type": "message", "role": "user", "content": raw}
        return Input([{"role": "user", "content": raw}], [_stored(item, response_id)], [])
    if not isinstance(raw, list):
        raise invalid_type("input", "a string or an array of input items", raw)
    messages: list[dict[str, Any]] = []
    items = []
    sealed = []
    for i, item in enumerate(raw):
        param = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(param, "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(param, item))
        elif kind == "function_call":
            _strings(param, item, "call_id", "name", "arguments")
            _add_call(messages, item["call_id"], _model_name(param, item), item["arguments"])
        elif kind == "custom_tool_call":
            _strings(param, item, "call_id", "name", "input")
            arguments = json.dumps({"input": item["input"]}, ensure_ascii=False)
            _add_call(messages, item["call_id"], _model_name(param, item), arguments)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _strings(param, item, "call_id")
            output = content(f"{param}.output", item.get("output"))
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})
        elif kind == "reasoning":
            token = item.get("encrypted_content")
            if token is not None:
                if not isinstance(token, str):
                    raise invalid_type(f"{param}.encrypted_content", "a string", token)
                sealed.append(Sealed(f"{param}.encrypted_content", token))
        elif kind == "web_search_call":
            pass  # what the search found is in the answer that follows it
        elif kind in UNANSWERABLE:
            raise InvalidRequest(
                f"Input items of type '{kind}' cannot be answered by Claude: {UNANSWERABLE[kind]}",
                param=f"{param}.type",
                code="unsupported_input_item",
            )
        else:
            raise InvalidRequest(
                f"Input items of type '{kind}' are not supported.", param=f"{param}.type", code="unsupported_input_item"
            )
        items.append(_stored(item, response_id))
    if not messages:
        raise InvalidRequest("'input' holds no message.", param="input", code="empty_array")
    return Input(messages, items, sealed)
