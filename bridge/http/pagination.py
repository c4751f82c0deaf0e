"""OpenAI-style cursor pages: `limit` and `after`, newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from bridge.validation.common import integer, invalid_value


def page(
    request: web.Request, records: list[dict[str, Any]], render: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    raw_limit = request.query.get("limit", "20")
    try:
        limit = integer("limit", int(raw_limit), 1, 100)
    except ValueError:
        raise invalid_value("limit", f"'{raw_limit}' is not an integer.") from None
    after = request.query.get("after")
    if after:
        ids = [r["id"] for r in records]
        if after not in ids:
            raise invalid_value("after", f"no item with id '{after}'.")
        records = records[ids.index(after) + 1 :]
    data = [render(r) for r in records[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(records) > limit,
    }
