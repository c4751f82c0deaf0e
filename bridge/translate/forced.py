"""`tool_choice` naming a function, or "required": a tool call every time. Pure.

The CLI forces exactly one tool, its structured-output tool (`--json-schema`), and only in words;
so a forced choice is enforced in three layers, each documented in the README:

1. the structured-output schema is the call itself: for a named function, its parameters (the
   structured result is that call's `arguments`); for "required" with several functions, an
   object `{"tool_call": {"name", "arguments"}}` whose `tool_call` is a `oneOf` over the functions
   (Anthropic refuses `oneOf` at the root of a tool's input schema, hence the wrapper);
2. the client's function(s) stay offered as real tools, so a direct call counts too; for a named
   function it is the only one offered, so no other can be called;
3. a turn that ends without either is asked again in the same conversation (`ReAsk`, see
   `supervisor.reask`), at most `REASKS` times; after that the request fails with a 502, never
   with text or a call to another tool.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import attrs

from bridge.schemas import ChatCompletionRequest, FunctionDef
from bridge.translate.conversation import reminder
from bridge.validation.common import canonical_json
from supervisor.turn import ReAsk

REASKS = 2
WRAPPER = "tool_call"


def call_id() -> str:
    return "call_" + secrets.token_hex(12)


def _rebase(node: Any, base: str) -> Any:
    """Moves a schema under `base`: its own `#...` references must point there too."""
    if isinstance(node, dict):
        out = {k: _rebase(v, base) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = "#" + base + ref[1:]
        return out
    if isinstance(node, list):
        return [_rebase(v, base) for v in node]
    return node


@attrs.frozen
class ForcedCall:
    functions: tuple[FunctionDef, ...]  # those a call may name (one for a named function)
    wrapped: bool  # the structured output is {"tool_call": {"name", "arguments"}}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.functions)

    @property
    def schema(self) -> str:
        if not self.wrapped:
            return self.functions[0].parameters
        branches = [
            {
                "type": "object",
                "properties": {
                    "name": {"const": f.name},
                    "arguments": _rebase(
                        json.loads(f.parameters), f"/properties/{WRAPPER}/oneOf/{i}/properties/arguments"
                    ),
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for i, f in enumerate(self.functions)
        ]
        wrapper = {
            "type": "object",
            "properties": {WRAPPER: {"oneOf": branches}},
            "required": [WRAPPER],
            "additionalProperties": False,
        }
        return canonical_json(wrapper)

    def call(self, structured: Any) -> tuple[str, Any]:
        """The (name, arguments) of the call a structured result stands for."""
        if not self.wrapped:
            return self.functions[0].name, structured
        chosen = structured[WRAPPER]
        return str(chosen["name"]), chosen["arguments"]

    def reask(self) -> ReAsk:
        if self.wrapped:
            listed = ", ".join(f"`{f.name}`" for f in self.functions)
            text = (
                f"You have not called a tool. This answer must be a tool call: call one of these tools now: {listed}."
            )
        else:
            name = self.functions[0].name
            text = f"You have not called the `{name}` tool. This answer must be a call to it: call it now."
        return ReAsk(message=[reminder(text)], times=REASKS)


def forced_call(request: ChatCompletionRequest) -> ForcedCall | None:
    if request.tool_choice == "function":
        chosen = tuple(f for f in request.tools if f.name == request.tool_choice_name)
        return ForcedCall(chosen, wrapped=False)
    if request.tool_choice == "required":
        return ForcedCall(request.tools, wrapped=len(request.tools) > 1)
    return None
