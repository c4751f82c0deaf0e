"""Small checks with Anthropic's wording: a dotted path (`messages.0.content.1.source`), then what
is wrong. The error middleware renders them in Anthropic's error shape on the /v1/messages routes."""

from __future__ import annotations

import math
from typing import Any

from bridge.errors import InvalidRequest
from bridge.validation.common import type_name


def bad(path: str, text: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(f"{path}: {text}", param=path, code=code)


def unsupported(path: str, why: str) -> InvalidRequest:
    return bad(path, f"not supported by this bridge: {why}", "unsupported_parameter")


def obj(path: str, value: Any, known: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with only known fields (Anthropic refuses extra inputs) and its required ones."""
    if not isinstance(value, dict):
        raise bad(path, f"Input should be an object, not {type_name(value)}", "invalid_type")
    for key in value:
        if key not in known:
            raise bad(f"{path}.{key}" if path else key, "Extra inputs are not permitted", "unknown_parameter")
    for key in required:
        if key not in value:
            raise bad(f"{path}.{key}" if path else key, "Field required", "missing_required_parameter")
    return value


def string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise bad(path, f"Input should be a valid string, not {type_name(value)}", "invalid_type")
    return value


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad(path, f"Input should be a valid boolean, not {type_name(value)}", "invalid_type")
    return value


def integer(path: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(path, f"Input should be a valid integer, not {type_name(value)}", "invalid_type")
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise bad(path, f"must be {bounds} (got {value})")
    return value


def number(path: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(path, f"Input should be a valid number, not {type_name(value)}", "invalid_type")
    if not lo <= value <= hi:
        raise bad(path, f"must be between {lo:g} and {hi:g} (got {value})")
    return float(value)


def array(path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise bad(path, f"Input should be a valid list, not {type_name(value)}", "invalid_type")
    return value


def one_of(path: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise bad(path, f"Input should be {listed} (got {value!r})")
    return str(value)
