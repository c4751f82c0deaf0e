"""The Responses API's `tools` -> the functions offered to Claude, and the names that map the calls back. Pure.

Claude sees one flat list of functions. A `namespace` tool (a named group of functions, as Codex
CLI offers its sub-agent tools) is offered as one function per member, named
`<namespace>__<name>`; a call to it comes back as a `function_call` with `namespace` and `name`
apart, the shape Codex dispatches on (measured with Codex 0.171: a joined or bare name is
answered "unsupported call"). A `custom` tool (free-form text input) is offered as a function
taking one string, `input`; its calls come back as `custom_tool_call` items. Either way the
mapping is exact both ways: a name that two tools would share is a 400.
"""

from __future__ import annotations

from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.validation.common import invalid_type, max_items, missing, unsupported
from bridge.validation.tools import MAX_TOOLS, NAME, NO_PARAMETERS

WEB_SEARCH_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
SEPARATOR = "__"
CUSTOM_INPUT = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's free-form input."}},
    "required": ["input"],
    "additionalProperties": False,
}


@attrs.frozen
class Named:
    """What a function offered to Claude is to the client."""

    name: str
    namespace: str | None = None
    custom: bool = False


@attrs.frozen
class Offer:
    """A function offered to Claude, as the client declared it: its description and parameters are
    checked once, where the neutral request is made (bridge.responses.neutral), in the order the
    chat completions API checks them."""

    name: str  # model-facing, already checked
    description: Any
    parameters: Any


@attrs.frozen
class ToolPlan:
    functions: list[Offer]
    web_search: dict[str, Any] | None  # chat web_search_options; None: no web search offered
    names: dict[str, Named]  # model-facing name -> the client's tool, for every function offered
    unapplied: tuple[str, ...] = ()


def _web_search_tool(param: str, tool: dict[str, Any]) -> dict[str, Any]:
    """A web search tool -> the chat API's web_search_options (the CLI's WebSearch runs it)."""
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


def _function(tool: dict[str, Any], name: str) -> Offer:
    description = tool.get("description")
    parameters = tool.get("parameters")
    return Offer(name, "" if description is None else description, NO_PARAMETERS if parameters is None else parameters)


def _custom(param: str, tool: dict[str, Any], name: str) -> tuple[Offer, bool]:
    """(the function, whether a `format` constraint was left unapplied)."""
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise invalid_type(f"{param}.description", "a string", description)
    fmt = tool.get("format")
    if fmt is not None and not isinstance(fmt, dict):
        raise invalid_type(f"{param}.format", "an object", fmt)
    constrained = isinstance(fmt, dict) and fmt.get("type") not in (None, "text")
    if constrained and isinstance(fmt, dict) and isinstance(fmt.get("definition"), str):
        # Claude cannot be held to a grammar; it is shown the grammar and told to follow it.
        description += f"\n\nThe input must follow this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
    return Offer(name, description.strip(), CUSTOM_INPUT), constrained


def _name(param: str, raw: Any) -> str:
    if raw is None:
        raise missing(f"{param}.name")
    if not isinstance(raw, str):
        raise invalid_type(f"{param}.name", "a string", raw)
    return raw


def parse_tools(raw: Any, web: bool) -> ToolPlan:
    """`web`: the bridge runs in `web` security mode (the CLI's WebSearch is on).

    A web search tool on a bridge without web search is left out (reported unapplied): clients
    such as Codex CLI offer one on every request. Forcing it (`tool_choice`) stays a 400.
    """
    if raw is None:
        return ToolPlan([], None, {})
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    max_items("tools", raw, MAX_TOOLS)
    functions: list[Offer] = []
    names: dict[str, Named] = {}
    unapplied: list[str] = []
    search: dict[str, Any] | None = None

    def offer(param: str, tool: dict[str, Any], namespace: str | None) -> None:
        kind = tool.get("type", "function")
        name = _name(param, tool.get("name"))
        model_name = f"{namespace}{SEPARATOR}{name}" if namespace else name
        if not NAME.fullmatch(model_name):
            limit = "with its namespace, " if namespace else ""
            raise InvalidRequest(
                f"Invalid '{param}.name': '{model_name}' must be, {limit}1 to 56 letters, digits, '_' or '-'.",
                param=f"{param}.name",
                code="invalid_value",
            )
        if model_name in names:
            raise InvalidRequest(
                f"Invalid '{param}.name': another tool is already offered to the model as '{model_name}'.",
                param=f"{param}.name",
                code="duplicate_tool_name",
            )
        if kind == "function":
            functions.append(_function(tool, model_name))
            names[model_name] = Named(name, namespace)
        elif kind == "custom":
            function, constrained = _custom(param, tool, model_name)
            functions.append(function)
            names[model_name] = Named(name, namespace, custom=True)
            if constrained:
                unapplied.append(f"{param}.format")
        else:
            raise unsupported(f"{param}.type", f"'{kind}' tools are not available here; 'function' and 'custom' are.")

    for i, tool in enumerate(raw):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid_type(param, "an object", tool)
        kind = tool.get("type")
        if kind in WEB_SEARCH_TOOLS:
            if not web:
                unapplied.append(f"{param}")
            elif tool.get("external_web_access") is False:
                # Cache-only search: the CLI's WebSearch always searches live, so none is offered.
                unapplied.append(f"{param}.external_web_access")
            else:
                search = _web_search_tool(param, tool)
        elif kind == "namespace":
            namespace = _name(param, tool.get("name"))
            members = tool.get("tools")
            if not isinstance(members, list) or not members:
                raise invalid_type(f"{param}.tools", "a non-empty array of tools", members)
            for j, member in enumerate(members):
                if not isinstance(member, dict):
                    raise invalid_type(f"{param}.tools[{j}]", "an object", member)
                offer(f"{param}.tools[{j}]", member, namespace)
        elif kind in ("function", "custom"):
            offer(param, tool, None)
        else:
            available = "'function', 'custom', 'namespace'" + (" and 'web_search'" if web else "")
            raise unsupported(f"{param}.type", f"'{kind}' tools are not available; {available} are.")
    max_items("tools", functions, MAX_TOOLS)
    return ToolPlan(functions, search, names, tuple(unapplied))


def echo_tool(tool: Any) -> Any:
    """A tool as the response object repeats it."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }
