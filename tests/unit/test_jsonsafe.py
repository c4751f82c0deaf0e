"""The depth bound of untrusted JSON, on the bytes, before Python's recursive parser sees them."""

from __future__ import annotations

import json

import pytest

from bridge.jsonsafe import MAX_DEPTH, JsonTooDeep, loads, too_deep


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
        b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH,
        b'{"a": "' + b"[" * 10_000 + b'"}',  # brackets inside a string are text
        b'{"a": "\\"[[[[[[[[", "b": [' + b"[]," * 10_000 + b"[]]}",  # wide, shallow, with an escaped quote
    ],
)
def test_within_the_limit(raw: bytes) -> None:
    assert not too_deep(raw)
    assert loads(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 100_000,  # unclosed: the parser's own RecursionError becomes JsonTooDeep
        b"[" * 100_000 + b"1]",
        ("[" * 100_000 + "]" * 100_000),
    ],
)
def test_past_the_limit(raw: bytes | str) -> None:
    with pytest.raises(JsonTooDeep):
        loads(raw)


def test_malformed_shallow_input_is_left_to_the_parser() -> None:
    with pytest.raises(ValueError) as raised:
        loads(b"]]]][[[[" * 20)
    assert not isinstance(raised.value, JsonTooDeep)
