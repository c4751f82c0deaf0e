"""What every OpenAI-format error body must be."""

from __future__ import annotations

from typing import Any


def assert_openai_error(resp: Any, status: int, *, param: str | None = None, code: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str)
    if param is not None:
        assert err["param"] == param
    if code is not None:
        assert err["code"] == code
