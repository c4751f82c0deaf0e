"""A small declarative schema for Anthropic's request objects, and its checker. Pure.

Anthropic's API refuses a wrongly typed field, a missing required one and an unknown one with a
400 before anything runs; the bridge must refuse the same bodies before anything reaches the
CLI. The shapes themselves are data (`block_table`); this module only knows how to walk them.
An explicit `null` for an optional field counts as absent (clients that serialise every field
send it), and for a required or nullable one it is judged as a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bridge.messages.fields import bad
from bridge.validation.common import type_name


@attrs.frozen
class Prim:
    kind: str  # string, integer, boolean, object (any JSON object)


@attrs.frozen
class Lit:
    values: tuple[str, ...]


@attrs.frozen
class ListOf:
    item: Spec


@attrs.frozen
class Nullable:
    inner: Spec


@attrs.frozen
class AnyOf:
    options: tuple[Spec, ...]


@attrs.frozen
class Ref:
    name: str


@attrs.frozen
class Tagged:
    """Objects told apart by their `type`: (type value, object name) pairs."""

    tags: tuple[tuple[str, str], ...]


Spec = Prim | Lit | ListOf | Nullable | AnyOf | Ref | Tagged
Field = tuple[Spec, bool]  # (spec, required)
Table = Mapping[str, Mapping[str, Field]]

STRING, INTEGER, BOOLEAN, OBJECT = Prim("string"), Prim("integer"), Prim("boolean"), Prim("object")
PRIMITIVE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
}
JSON_KIND = {"string": "a valid string", "integer": "a valid integer", "boolean": "a valid boolean"}


def lit(*values: str) -> Lit:
    return Lit(values)


def list_of(item: Spec) -> ListOf:
    return ListOf(item)


def nullable(inner: Spec) -> Nullable:
    return Nullable(inner)


def any_of(*options: Spec) -> AnyOf:
    return AnyOf(options)


def ref(name: str) -> Ref:
    return Ref(name)


def tagged(tags: dict[str, str]) -> Tagged:
    return Tagged(tuple(tags.items()))


def req(spec: Spec) -> Field:
    return spec, True


def opt(spec: Spec) -> Field:
    return spec, False


def check(path: str, value: Any, spec: Spec, table: Table) -> None:
    """Raises InvalidRequest (Anthropic's wording, the dotted path as `param`) unless `value` fits."""
    if isinstance(spec, Prim):
        if not _fits(value, spec):
            what = JSON_KIND.get(spec.kind, "an object")
            raise bad(path, f"Input should be {what}, not {type_name(value)}", "invalid_type")
    elif isinstance(spec, Lit):
        if not isinstance(value, str) or value not in spec.values:
            listed = " or ".join(repr(v) for v in spec.values)
            raise bad(path, f"Input should be {listed} (got {value!r})")
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise bad(path, f"Input should be a valid list, not {type_name(value)}", "invalid_type")
        for i, item in enumerate(value):
            check(f"{path}.{i}", item, spec.item, table)
    elif isinstance(spec, Nullable):
        if value is not None:
            check(path, value, spec.inner, table)
    elif isinstance(spec, AnyOf):
        option = next((o for o in spec.options if _same_kind(value, o)), None)
        if option is None:
            kinds = " or ".join(_kind_name(o) for o in spec.options)
            raise bad(path, f"Input should be {kinds}, not {type_name(value)}", "invalid_type")
        check(path, value, option, table)
    elif isinstance(spec, Ref):
        check_object(path, value, table[spec.name], table)
    else:
        check_object(path, value, table[_tag(path, value, spec)], table)


def check_object(path: str, value: Any, fields: Mapping[str, Field], table: Table) -> None:
    if not isinstance(value, dict):
        raise bad(path, f"Input should be an object, not {type_name(value)}", "invalid_type")
    for key in value:
        if key not in fields:
            raise bad(f"{path}.{key}", "Extra inputs are not permitted", "unknown_parameter")
    for key, (spec, required) in fields.items():
        if key not in value or (value[key] is None and not required):
            if required:
                raise bad(f"{path}.{key}", "Field required", "missing_required_parameter")
            continue
        check(f"{path}.{key}", value[key], spec, table)


def _tag(path: str, value: Any, spec: Tagged) -> str:
    if not isinstance(value, dict):
        raise bad(path, f"Input should be an object, not {type_name(value)}", "invalid_type")
    if "type" not in value:
        raise bad(f"{path}.type", "Field required", "missing_required_parameter")
    kind = value["type"]
    names = dict(spec.tags)
    if not isinstance(kind, str) or kind not in names:
        expected = ", ".join(repr(t) for t, _ in spec.tags)
        raise bad(
            f"{path}.type", f"Input tag {kind!r} found using 'type' does not match any of the expected tags: {expected}"
        )
    return names[kind]


def _fits(value: Any, spec: Prim) -> bool:
    if isinstance(value, bool) and spec.kind != "boolean":
        return False
    return isinstance(value, PRIMITIVE_TYPES[spec.kind])


def _same_kind(value: Any, spec: Spec) -> bool:
    """Does `value` have the JSON kind `spec` expects (so its errors are the ones to report)?"""
    if isinstance(spec, Prim):
        return _fits(value, spec)
    if isinstance(spec, Lit):
        return isinstance(value, str)
    if isinstance(spec, ListOf):
        return isinstance(value, list)
    if isinstance(spec, Nullable):
        return value is None or _same_kind(value, spec.inner)
    if isinstance(spec, AnyOf):
        return any(_same_kind(value, o) for o in spec.options)
    return isinstance(value, dict)


def _kind_name(spec: Spec) -> str:
    if isinstance(spec, Prim):
        return JSON_KIND.get(spec.kind, "an object")
    if isinstance(spec, Lit):
        return "a valid string"
    if isinstance(spec, ListOf):
        return "a valid list"
    if isinstance(spec, Nullable):
        return _kind_name(spec.inner)
    if isinstance(spec, AnyOf):
        return " or ".join(_kind_name(o) for o in spec.options)
    return "an object"
