"""The cattrs converter used at the JSON boundary, and only there.

Unstructuring leaves out optional fields that are None, except those marked `always`
(OpenAI sends `refusal`, `logprobs` and `finish_reason` as explicit nulls).
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

converter = cattrs.Converter()


def _omit_none_hook(cls: type) -> Any:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.default is None and not field.metadata.get("always"):
            overrides[field.name] = override(omit_if_default=True)
    return make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]


converter.register_unstructure_hook_factory(attrs.has, _omit_none_hook)


def to_json(value: Any) -> Any:
    return converter.unstructure(value)


def chunk_json(chunk: Any, *, include_usage: bool) -> dict[str, Any]:
    """A stream chunk; with include_usage every chunk carries `usage` (null until the last)."""
    data: dict[str, Any] = converter.unstructure(chunk)
    if include_usage:
        data.setdefault("usage", None)
    return data
