"""Error builders shared by the validators: OpenAI's wording, with `param` always set."""

from __future__ import annotations

import json
import math
from typing import Any

from bridge.errors import InvalidRequest

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid '{param}': {message}", param=param, code="invalid_value")


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def unsupported(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"The '{param}' parameter is not supported: {why}", param=param, code="unsupported_parameter")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(param: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid_type(param, "a number", value)
    if not lo <= value <= hi:
        raise invalid_value(param, f"{value} is outside the allowed range [{lo:g}, {hi:g}].")
    return float(value)


def integer(param: str, value: Any, lo: int, hi: int) -> int:
    if not is_int(value):
        raise invalid_type(param, "an integer", value)
    if value < lo:
        raise InvalidRequest(
            f"{value} is less than the minimum of {lo} - '{param}'", param=param, code="integer_below_min_value"
        )
    if value > hi:
        raise InvalidRequest(
            f"{value} is greater than the maximum of {hi} - '{param}'", param=param, code="integer_above_max_value"
        )
    return int(value)


def max_items(param: str, value: list[Any], limit: int, setting: str | None = None) -> None:
    """OpenAI's refusal of a too-long array; `setting` names this server's own cap when it is one."""
    if len(value) <= limit:
        return
    where = f" ({setting} on this server)" if setting else ""
    raise InvalidRequest(
        f"Invalid '{param}': array too long. Expected an array with maximum length {limit}{where}, "
        f"but got an array with length {len(value)} instead.",
        param=param,
        code="array_above_max_length",
    )


def check_metadata(raw: Any) -> dict[str, str]:
    """OpenAI's `metadata`: at most 16 string keys (64 characters) and string values (512)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > 16:
        if isinstance(raw, dict):
            raise invalid_value("metadata", "at most 16 keys.")
        raise invalid_type("metadata", "an object of strings", raw)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise invalid_type("metadata", "an object of strings", raw)
    if any(len(k) > 64 for k in raw):
        raise invalid_value("metadata", "keys are at most 64 characters.")
    if any(len(v) > 512 for v in raw.values()):
        raise invalid_value("metadata", "values are at most 512 characters.")
    return dict(raw)


def require_object(body: Any, known: set[str]) -> dict[str, Any]:
    """A request body must be a JSON object of known parameters, as OpenAI requires."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0], code="unknown_parameter"
        )
    return body


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
