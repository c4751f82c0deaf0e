"""An Anthropic Messages request -> the internal chat request (`ChatCompletionRequest`). Pure.

Chat completions, the Responses API and the Messages API meet in that one model; from there the
same translation (`translate/chat_request.to_turn`) makes the turn. Parameters map as follows:
`system` and system-role messages -> instructions; `tools` -> client functions; `tool_choice`
auto/any/tool/none -> auto/required/function/none (`disable_parallel_tool_use` -> one call at
most); `stop_sequences` -> stop (cut by the bridge); `max_tokens` -> the upstream max_tokens;
`thinking` -> the CLI's thinking budget; `output_config.effort` -> effort; `output_config.format`
-> structured output; `metadata.user_id` -> user. Sampling knobs are checked, not applied.
"""

from __future__ import annotations

from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.messages.block_parts import CACHE
from bridge.messages.block_table import CACHE_CONTROL, OBJECTS
from bridge.messages.content import Notes, parse_messages, system_messages
from bridge.messages.fields import array, bad, boolean, integer, number, obj, one_of, string, unsupported
from bridge.messages.specs import BOOLEAN, OBJECT, STRING, Field, check, check_object, list_of, lit, nullable, opt, req
from bridge.schemas import ChatCompletionRequest, FunctionDef, ResponseFormat
from bridge.validation.limits import Limits, check_count, check_replay
from bridge.validation.server_tools import server_tool_refusal
from bridge.validation.tools import NAME, check_schema

MAX_OUTPUT_TOKENS = 128_000
EFFORTS = ("low", "medium", "high", "xhigh", "max")
REQUIRED = ("model", "messages", "max_tokens")
# Accepted and validated, but the CLI has no control for them: reported in X-Bridge-Unapplied-Params.
UNAPPLIED = (
    "temperature",
    "top_p",
    "top_k",
    "service_tier",
    "inference_geo",
    "speed",
    "cache_control",
    "diagnostics",
    "user_profile_id",
    "workspace_id",
)
REFUSED = {
    "container": "there are no code-execution containers on this bridge.",
    "mcp_servers": "MCP servers are not available on this bridge.",
    "context_management": "context management is the CLI's own and cannot be set per request.",
}
KNOWN = {
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "stream",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    *UNAPPLIED,
    *REFUSED,
}
# /v1/messages/count_tokens takes the request's content and tools, not its generation settings.
COUNT_KNOWN = {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", *UNAPPLIED} - {
    "temperature",
    "top_p",
    "top_k",
    "service_tier",
    "inference_geo",
    "diagnostics",
}
# A custom tool's fields (the SDK's ToolParam): checked like content blocks.
CUSTOM_TOOL: dict[str, Field] = {
    "type": opt(nullable(lit("custom"))),
    "name": req(STRING),
    "description": opt(STRING),
    "input_schema": req(OBJECT),
    "cache_control": CACHE,
    "strict": opt(BOOLEAN),
    "input_examples": opt(list_of(OBJECT)),
    "defer_loading": opt(BOOLEAN),
    "eager_input_streaming": opt(nullable(BOOLEAN)),
    "allowed_callers": opt(
        list_of(lit("direct", "code_execution_20250825", "code_execution_20260120", "code_execution_20260521"))
    ),
}


@attrs.frozen
class MessagesRequest:
    chat: ChatCompletionRequest
    thinking: str | None  # the requested thinking type: enabled, disabled, adaptive, between_tools


def _tools(raw: Any, notes: Notes, web_mode: bool) -> tuple[FunctionDef, ...]:
    defs: list[FunctionDef] = []
    for i, tool in enumerate(array("tools", raw)):
        path = f"tools.{i}"
        if not isinstance(tool, dict):
            raise bad(path, "Input should be a tool object", "invalid_type")
        kind = tool.get("type")
        if kind is not None and kind != "custom":
            why = server_tool_refusal(string(f"{path}.type", kind), web_mode=web_mode)
            if why is not None:
                raise unsupported(f"{path}.type", why)
            # Web mode: the CLI's own WebSearch/WebFetch, which that mode already offers, do the work.
            for key in ("allowed_domains", "blocked_domains", "user_location"):
                if tool.get(key) is not None:
                    raise unsupported(f"{path}.{key}", "the CLI's web tools cannot be restricted per request.")
            if tool.get("max_uses") is not None:
                notes.add("tools.max_uses")
            continue
        check_object(path, tool, CUSTOM_TOOL, OBJECTS)
        name = string(f"{path}.name", tool["name"])
        if not NAME.fullmatch(name):
            raise bad(
                f"{path}.name",
                "must be 1 to 56 letters, digits, '_' or '-' (the CLI adds an 8-character prefix to Anthropic's 64)",
            )
        description = string(f"{path}.description", tool.get("description") or "")
        schema = check_schema(f"{path}.input_schema", tool["input_schema"], object_root=True)
        for key in ("cache_control", "strict", "input_examples", "defer_loading", "eager_input_streaming"):
            if tool.get(key) not in (None, False):
                notes.add(f"tools.{key}")
        if tool.get("allowed_callers") not in (None, ["direct"]):
            raise unsupported(f"{path}.allowed_callers", "only direct calls; there is no code execution here.")
        if name in (d.name for d in defs):
            raise bad(f"{path}.name", f"the tool name {name!r} is declared twice")
        defs.append(FunctionDef(name=name, description=description, parameters=schema))
    return tuple(defs)


def _tool_choice(raw: Any, tools: tuple[FunctionDef, ...]) -> tuple[str, str | None, bool]:
    """(internal tool_choice, the named tool, parallel calls allowed)."""
    if raw is None:
        return "auto", None, True
    choice = obj("tool_choice", raw, {"type", "name", "disable_parallel_tool_use"}, ("type",))
    kind = one_of("tool_choice.type", choice["type"], ("auto", "any", "tool", "none"))
    parallel = True
    if choice.get("disable_parallel_tool_use") is not None:
        if kind == "none":
            raise bad("tool_choice.disable_parallel_tool_use", "Extra inputs are not permitted", "unknown_parameter")
        parallel = not boolean("tool_choice.disable_parallel_tool_use", choice["disable_parallel_tool_use"])
    if kind in ("any", "tool") and not tools:
        raise bad("tool_choice", f"tool_choice {kind!r} needs at least one tool in 'tools'")
    if kind == "tool":
        name = string("tool_choice.name", choice.get("name"))
        if name not in {t.name for t in tools}:
            raise bad("tool_choice.name", f"no tool named {name!r} is declared in 'tools'")
        return "function", name, parallel
    if choice.get("name") is not None:
        raise bad("tool_choice.name", "Extra inputs are not permitted", "unknown_parameter")
    return {"auto": "auto", "any": "required", "none": "none"}[kind], None, parallel


def _thinking(raw: Any, max_tokens: int, notes: Notes) -> tuple[str | None, int | None, bool]:
    """(the requested type, the CLI's thinking budget: None = its default, 0 = off, and whether
    the answer shows the thinking: as Anthropic does when it is on, unless `display` is omitted)."""
    if raw is None:
        return None, None, False
    thinking = obj("thinking", raw, {"type", "budget_tokens", "display"}, ("type",))
    kind = one_of("thinking.type", thinking["type"], ("enabled", "disabled", "adaptive", "between_tools"))
    show = kind in ("enabled", "adaptive")
    if thinking.get("display") is not None:
        if kind not in ("enabled", "adaptive"):
            raise bad("thinking.display", "Extra inputs are not permitted", "unknown_parameter")
        show = one_of("thinking.display", thinking["display"], ("summarized", "omitted")) == "summarized"
    if kind == "enabled":
        if "budget_tokens" not in thinking:
            raise bad("thinking.budget_tokens", "Field required", "missing_required_parameter")
        budget = integer("thinking.budget_tokens", thinking["budget_tokens"], 1024)
        if budget >= max_tokens:
            raise bad("thinking.budget_tokens", "must be less than max_tokens")
        return kind, budget, show
    if thinking.get("budget_tokens") is not None:
        raise bad("thinking.budget_tokens", "Extra inputs are not permitted", "unknown_parameter")
    if kind == "between_tools":
        notes.add("thinking")
    return kind, 0 if kind == "disabled" else None, show


def _output_config(raw: Any) -> tuple[str | None, ResponseFormat | None]:
    if raw is None:
        return None, None
    config = obj("output_config", raw, {"effort", "format"})
    effort = None
    if config.get("effort") is not None:
        effort = one_of("output_config.effort", config["effort"], EFFORTS)
    fmt = None
    if config.get("format") is not None:
        spec = obj("output_config.format", config["format"], {"type", "schema"}, ("type", "schema"))
        one_of("output_config.format.type", spec["type"], ("json_schema",))
        fmt = ResponseFormat(
            "json_schema", check_schema("output_config.format.schema", spec["schema"], object_root=True)
        )
    return effort, fmt


def _stop_sequences(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    stops = [string(f"stop_sequences.{i}", s) for i, s in enumerate(array("stop_sequences", raw))]
    for i, stop in enumerate(stops):
        if not stop.strip():
            raise bad(f"stop_sequences.{i}", "each stop sequence must contain non-whitespace")
    return tuple(dict.fromkeys(stops))


def _unapplied(body: dict[str, Any], notes: Notes) -> None:
    for name in UNAPPLIED:
        value = body.get(name)
        if value is None:
            continue
        if name in ("temperature", "top_p"):
            number(name, value, 0.0, 1.0)
        elif name == "top_k":
            integer(name, value, 0)
        elif name == "service_tier":
            one_of(name, value, ("auto", "standard_only"))
        elif name == "speed":
            one_of(name, value, ("standard", "fast"))
        elif name == "cache_control":
            check(name, value, CACHE_CONTROL, OBJECTS)
        elif name == "diagnostics":
            obj(name, value, set(value) if isinstance(value, dict) else set())
        else:
            string(name, value)
        notes.add(name)


def parse_messages_request(
    body: Any,
    *,
    web_mode: bool = False,
    headers_unapplied: tuple[str, ...] = (),
    counting: bool = False,
    limits: Limits | None = None,
) -> MessagesRequest:
    """A /v1/messages body, or with `counting` a /v1/messages/count_tokens body (no max_tokens).

    The same per-request caps as chat completions (MAX_MESSAGES, MAX_REPLAY_BYTES) apply."""
    limits = limits or Limits()
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    obj("", body, COUNT_KNOWN if counting else KNOWN, ("model", "messages") if counting else REQUIRED)
    notes = Notes()
    for name in headers_unapplied:
        notes.add(name)
    model = string("model", body["model"])
    max_tokens = MAX_OUTPUT_TOKENS
    if not counting:
        if type(body["max_tokens"]) is int and body["max_tokens"] == 0:
            raise unsupported("max_tokens", "max_tokens 0 (prompt-cache pre-warming) cannot be done through the CLI.")
        max_tokens = integer("max_tokens", body["max_tokens"], 1, MAX_OUTPUT_TOKENS)
    check_count(body["messages"], limits)
    messages = (*system_messages(body.get("system"), notes), *parse_messages(body["messages"], notes))
    check_replay(messages, limits)
    stream = boolean("stream", body["stream"]) if body.get("stream") is not None else False
    for name, why in REFUSED.items():
        if body.get(name) is not None:
            raise unsupported(name, why)
    user = None
    if body.get("metadata") is not None:
        metadata = obj("metadata", body["metadata"], {"user_id"})
        if metadata.get("user_id") is not None:
            user = string("metadata.user_id", metadata["user_id"])
    tools = _tools(body["tools"], notes, web_mode) if body.get("tools") is not None else ()
    tool_choice, tool_name, parallel = _tool_choice(body.get("tool_choice"), tools)
    thinking, budget, show_thinking = _thinking(body.get("thinking"), max_tokens, notes)
    effort, response_format = _output_config(body.get("output_config"))
    _unapplied(body, notes)
    chat = ChatCompletionRequest(
        model=model,
        messages=messages,
        stream=stream,
        user=user,
        tools=tools,
        tool_choice=tool_choice,
        tool_choice_name=tool_name,
        parallel_tool_calls=parallel,
        response_format=response_format,
        stop=_stop_sequences(body.get("stop_sequences")),
        max_tokens=max_tokens,
        reasoning_effort=effort,
        max_thinking_tokens=budget,
        show_reasoning=show_thinking,
        unapplied=tuple(notes.unapplied),
    )
    return MessagesRequest(chat=chat, thinking=thinking)
