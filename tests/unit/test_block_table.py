"""The Messages API block table against Anthropic's own SDK, and every block type with a wrongly
typed field refused. Pure.

`anthropic` (the pinned SDK, generated from Anthropic's API reference) declares every request
content block as a TypedDict. The first test rebuilds the bridge's table from those TypedDicts
and requires it to be the same, so no block, field, requiredness or type is missing or made up.
The others take a valid example of each block type and break each of its fields in turn.
"""

from __future__ import annotations

import collections.abc as cabc
import copy
import os
import types
import typing
from typing import Any, get_args, get_origin, get_type_hints

import pytest
import typing_extensions as te
from anthropic.types import ContentBlockParam

from bridge.errors import InvalidRequest
from bridge.messages.block_table import BLOCK_TYPES, CONTENT_BLOCK, OBJECTS, check_block
from bridge.messages.specs import (
    BOOLEAN,
    INTEGER,
    OBJECT,
    STRING,
    AnyOf,
    Field,
    ListOf,
    Lit,
    Nullable,
    Ref,
    Spec,
    Tagged,
)
from tests.block_examples import EXAMPLES, TEXT

WRAPPERS = (te.Required, te.NotRequired, typing.Required, typing.NotRequired, te.Annotated, typing.Annotated)


def _strip(t: Any) -> Any:
    while get_origin(t) in WRAPPERS:
        t = get_args(t)[0]
    return t


def _required(t: Any) -> bool:
    while get_origin(t) in (te.Annotated, typing.Annotated):
        t = get_args(t)[0]
    return get_origin(t) in (te.Required, typing.Required)


def _name(t: Any) -> str:
    return str(t.__name__).removesuffix("Param")


def _tag(t: Any) -> str:
    return str(get_args(_strip(get_type_hints(t, include_extras=True)["type"]))[0])


class FromSdk:
    """The table the SDK's TypedDicts describe, in the bridge's spec terms."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Field]] = {}
        self.pending: list[Any] = []

    def ref(self, t: Any) -> str:
        if _name(t) not in self.objects and t not in self.pending:
            self.pending.append(t)
        return _name(t)

    def spec(self, t: Any) -> Spec:
        t = _strip(t)
        origin = get_origin(t)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(t) if a is not type(None)]
            # IO[bytes] and PathLike are the SDK's client-side conveniences: a string in JSON.
            args = [a for a in args if get_origin(a) is not typing.IO and a is not os.PathLike and a is not typing.IO]
            if len(args) == 1:
                inner = self.spec(args[0])
            elif all(te.is_typeddict(a) for a in args):
                inner = Tagged(tuple((_tag(a), self.ref(a)) for a in args))
            else:
                inner = AnyOf(tuple(self.spec(a) for a in args))
            return Nullable(inner) if type(None) in get_args(t) else inner
        if origin is typing.Literal:
            return Lit(tuple(str(v) for v in get_args(t)))
        if origin in (cabc.Iterable, cabc.Sequence, list):
            return ListOf(self.spec(get_args(t)[0]))
        if origin is dict:
            return OBJECT
        if te.is_typeddict(t):
            return Ref(self.ref(t))
        return {str: STRING, int: INTEGER, bool: BOOLEAN}[t]

    def build(self) -> Spec:
        top = Tagged(tuple((_tag(t), self.ref(t)) for t in get_args(ContentBlockParam)))
        while self.pending:
            t = self.pending.pop(0)
            hints = get_type_hints(t, include_extras=True)
            self.objects[_name(t)] = {k: (self.spec(v), _required(v)) for k, v in hints.items()}
        return top


def test_the_table_is_the_sdks() -> None:
    sdk = FromSdk()
    assert sdk.build() == CONTENT_BLOCK
    assert sorted(OBJECTS) == sorted(sdk.objects)
    for name, fields in sdk.objects.items():
        assert OBJECTS[name] == fields, name


def test_every_block_type_has_an_example_that_is_accepted() -> None:
    assert set(EXAMPLES) == BLOCK_TYPES
    for block in EXAMPLES.values():
        check_block("messages.0.content.0", block)


def _wrong(value: Any) -> Any:
    """A value of another JSON type than `value`."""
    return 42 if isinstance(value, (str, bool, dict, list)) or value is None else "42"


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every field in a JSON value (objects' fields and list items, recursively)."""
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, inner in items:
        if key == "input" or key == "type":
            out.append((*path, key))  # a tool's input is any object; `type` is the tag
            continue
        out.append((*path, key))
        out += _leaves(inner, (*path, key))
    return out


CASES = [(kind, leaf) for kind, block in EXAMPLES.items() for leaf in _leaves(block)]


@pytest.mark.parametrize(("kind", "leaf"), CASES, ids=[f"{k}:{'.'.join(map(str, p))}" for k, p in CASES])
def test_a_wrongly_typed_field_of_any_block_is_refused(kind: str, leaf: tuple[Any, ...]) -> None:
    block = copy.deepcopy(EXAMPLES[kind])
    holder: Any = block
    for key in leaf[:-1]:
        holder = holder[key]
    holder[leaf[-1]] = _wrong(holder[leaf[-1]])
    if leaf == ("type",):
        return  # a block of a type Anthropic does not define: the translator refuses it, by name
    with pytest.raises(InvalidRequest) as refused:
        check_block("messages.0.content.0", block)
    assert refused.value.param is not None and refused.value.param.startswith("messages.0.content.0")


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_a_missing_required_field_is_refused(kind: str) -> None:
    name = dict(CONTENT_BLOCK.tags)[kind]
    for field, (_, required) in OBJECTS[name].items():
        if required and field != "type":
            block = {k: v for k, v in EXAMPLES[kind].items() if k != field}
            with pytest.raises(InvalidRequest, match="Field required"):
                check_block("b", block)


def test_an_unknown_field_and_explicit_nulls() -> None:
    with pytest.raises(InvalidRequest, match="Extra inputs are not permitted"):
        check_block("b", {**EXAMPLES["thinking"], "extra": 1})
    check_block("b", {**TEXT, "cache_control": None, "citations": None})  # optional: null is absent
    with pytest.raises(InvalidRequest, match="valid string"):
        check_block("b", {**EXAMPLES["thinking"], "signature": None})  # required: null is a wrong type
    with pytest.raises(InvalidRequest, match="'5m' or '1h'"):
        check_block("b", {**TEXT, "cache_control": {"type": "ephemeral", "ttl": "2h"}})
    check_block("b", {"type": "mcp_tool_use", "anything": 1})  # not Anthropic's: left to the translator


def test_custom_tool_fields_are_the_sdks() -> None:
    """`tools[]` entries (ToolParam); `input_schema` is checked as a JSON schema elsewhere."""
    from anthropic.types import ToolParam

    from bridge.messages.request import CUSTOM_TOOL

    sdk = FromSdk()
    hints = get_type_hints(ToolParam, include_extras=True)
    fields = {k: (sdk.spec(v), _required(v)) for k, v in hints.items() if k != "input_schema"}
    assert {k: v for k, v in CUSTOM_TOOL.items() if k != "input_schema"} == fields
    assert CUSTOM_TOOL["input_schema"] == (OBJECT, True) and _required(hints["input_schema"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("strict", "yes"), ("defer_loading", 1), ("input_examples", {"a": 1}), ("cache_control", {"type": "x"})],
)
def test_a_wrongly_typed_tool_field_is_refused(field: str, value: Any) -> None:
    from bridge.messages.request import parse_messages_request

    tool = {"name": "f", "input_schema": {"type": "object"}, field: value}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [tool]}
    with pytest.raises(InvalidRequest) as refused:
        parse_messages_request(body)
    assert refused.value.param is not None and refused.value.param.startswith(f"tools.0.{field}")
    with pytest.raises(InvalidRequest) as top:
        parse_messages_request({**body, "tools": None, "cache_control": {"type": "ephemeral", "ttl": 5}})
    assert top.value.param == "cache_control.ttl"
