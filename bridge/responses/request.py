"""A Responses API request -> a chat-completions body, plus what the response must echo. Pure.

The chat body then goes through the same validation and translation as /v1/chat/completions,
so tools, structured output, images and limits behave identically on both APIs.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.validation.common import integer, invalid_type, max_items, missing, require_object, unsupported
from bridge.validation.limits import Limits, check_count
from bridge.validation.tools import MAX_TOOLS

# Passed to the chat-completions validation, which applies them, reports them as not applied
# (X-Bridge-Unapplied-Params) or refuses them, exactly as on /v1/chat/completions.
PASSED_ON = (
    "model",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "user",
    "metadata",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "moderation",
    "top_logprobs",
)
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
    *REFUSED,
}


AFFINITY = re.compile(r"\A[0-9a-f]{16}\Z")
WEB_SEARCH_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
SUMMARIES = ("auto", "concise", "detailed")


def item_id(prefix: str, response_id: str) -> str:
    """A new item id that starts with its response's hex, so an `item_reference` (which names
    only the item) leads to the stored response that holds it (see references.py)."""
    return f"{prefix}_{response_id.partition('_')[2]}{secrets.token_hex(4)}"


def response_id(affinity: str | None) -> str:
    """`resp_` and 48 hex digits. Behind the shipped nginx, the first 16 are the affinity token
    nginx routed this request by (X-Bridge-Affinity), so that a continuation naming this id as
    previous_response_id is routed to the replica its chain began on."""
    if affinity is not None and AFFINITY.fullmatch(affinity):
        return f"resp_{affinity}{secrets.token_hex(16)}"
    return f"resp_{secrets.token_hex(24)}"


@attrs.frozen
class ResponsesRequest:
    chat_body: dict[str, Any]
    input_items: list[dict[str, Any]]  # as stored and listed by /input_items, each with an id
    new_messages: list[dict[str, Any]]  # chat messages this request adds to the conversation
    echo: dict[str, Any]  # request fields the response object repeats
    previous_response_id: str | None
    store: bool
    stream: bool
    show_reasoning: bool = False  # `reasoning` asked for a summary or an effort: thinking is returned


def _text_part(param: str, part: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(part.get("text"), str):
        raise invalid_type(f"{param}.text", "a string", part.get("text"))
    return {"type": "text", "text": part["text"]}


def _content(param: str, content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_type(param, "a string or an array of content parts", content)
    parts = []
    for j, part in enumerate(content):
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


def _input_item(param: str, item: dict[str, Any], response_id: str) -> dict[str, Any]:
    """The item as /input_items lists it (with an id), normalised."""
    stored = dict(item)
    kind = item.get("type", "message")
    stored["type"] = kind
    if kind == "message":
        content = item.get("content")
        if isinstance(content, str):
            stored["content"] = [
                {"type": "input_text" if item.get("role") != "assistant" else "output_text", "text": content}
            ]
        stored.setdefault("status", "completed")
        stored.setdefault("id", item_id("msg", response_id))
    elif kind == "function_call":
        stored.setdefault("id", item_id("fc", response_id))
        stored.setdefault("status", "completed")
    elif kind == "function_call_output":
        stored.setdefault("id", item_id("fco", response_id))
        stored.setdefault("status", "completed")
    return stored


def input_messages(raw: Any, response_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(chat messages, stored input items) for `input`; item references already resolved."""
    if isinstance(raw, str):
        message = {"role": "user", "content": raw}
        return [message], [_input_item("input", {"type": "message", "role": "user", "content": raw}, response_id)]
    if not isinstance(raw, list):
        raise invalid_type("input", "a string or an array of input items", raw)
    messages: list[dict[str, Any]] = []
    items = []
    for i, item in enumerate(raw):
        param = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(param, "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise InvalidRequest(
                    f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system' and 'developer'.",
                    param=f"{param}.role",
                    code="invalid_value",
                )
            if "content" not in item:
                raise missing(f"{param}.content")
            messages.append({"role": role, "content": _content(f"{param}.content", item["content"])})
        elif kind == "function_call":
            for key in ("call_id", "name", "arguments"):
                if not isinstance(item.get(key), str):
                    raise invalid_type(f"{param}.{key}", "a string", item.get(key))
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), (str, list)):
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise invalid_type(f"{param}.call_id", "a string", item.get("call_id"))
            output = item.get("output")
            content = output if isinstance(output, str) else _content(f"{param}.output", output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": content})
        elif kind == "reasoning":
            continue  # Claude's thinking is not replayed; the item is kept for /input_items
        else:
            raise InvalidRequest(
                f"Input items of type '{kind}' are not supported.", param=f"{param}.type", code="unsupported_input_item"
            )
        items.append(_input_item(param, item, response_id))
    if not messages:
        raise InvalidRequest("'input' holds no message.", param="input", code="empty_array")
    return messages, items


def _web_search_tool(param: str, tool: dict[str, Any], web: bool) -> dict[str, Any]:
    """A web search tool -> the chat API's web_search_options (the CLI's WebSearch runs it)."""
    if not web:
        raise unsupported(f"{param}.type", "web search is not enabled on this bridge (SECURITY_MODE=web enables it).")
    if tool.get("filters") is not None:
        raise unsupported(f"{param}.filters", "the CLI's web search cannot be restricted to domains by the bridge.")
    options = {k: tool[k] for k in ("search_context_size", "user_location") if tool.get(k) is not None}
    if "user_location" in options:
        location = options["user_location"]
        if not isinstance(location, dict):
            raise invalid_type(f"{param}.user_location", "an object", location)
        details = {k: v for k, v in location.items() if k != "type"}
        options["user_location"] = {"type": "approximate", "approximate": details}
    return options


def _tools(raw: Any, web: bool) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(function tools in chat form, web_search_options or None)."""
    if raw is None:
        return [], None
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    max_items("tools", raw, MAX_TOOLS)
    tools = []
    search: dict[str, Any] | None = None
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise invalid_type(f"tools[{i}]", "an object", tool)
        if tool.get("type") in WEB_SEARCH_TOOLS:
            search = _web_search_tool(f"tools[{i}]", tool, web)
            continue
        if tool.get("type") != "function":
            available = "'function' and 'web_search'" if web else "only 'function'"
            raise unsupported(f"tools[{i}].type", f"'{tool.get('type')}' tools are not available; {available}.")
        function = {k: tool[k] for k in ("name", "description", "parameters") if tool.get(k) is not None}
        tools.append({"type": "function", "function": function})
    return tools, search


def _echo_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") in WEB_SEARCH_TOOLS:
        return dict(tool)
    return {
        "type": "function",
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


def _tool_choice(raw: Any) -> Any:
    if isinstance(raw, dict) and raw.get("type") in WEB_SEARCH_TOOLS:
        raise unsupported("tool_choice", "a web search cannot be forced on this bridge; use 'auto'.")
    if isinstance(raw, dict) and raw.get("type") == "function":
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
        check_count([*previous, *body["input"]], limits or Limits(), "input")
    messages, items = input_messages(body["input"], response_id)
    chat: dict[str, Any] = {k: body[k] for k in PASSED_ON if body.get(k) is not None}
    system = [{"role": "system", "content": instructions}] if instructions else []
    chat["messages"] = [*system, *previous, *messages]
    tools, search = _tools(body.get("tools"), web)
    if tools:
        chat["tools"] = tools
    if search is not None:
        chat["web_search_options"] = search
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    if isinstance(body.get("text"), dict) and body["text"].get("verbosity") is not None:
        chat["verbosity"] = body["text"]["verbosity"]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    reasoning, show_reasoning = _reasoning(body.get("reasoning"))
    if reasoning["effort"] is not None:
        chat["reasoning_effort"] = reasoning["effort"]
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
        "tools": [_echo_tool(raw) for raw in body.get("tools") or []],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
    }
    if body.get("user") is not None:
        echo["user"] = body["user"]
    return ResponsesRequest(
        chat, items, messages, echo, body.get("previous_response_id"), store, stream, show_reasoning
    )
