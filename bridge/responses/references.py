"""`item_reference` input items: an earlier response's item, named by id only. Pure.

Clients that keep their conversation send back what the server stored instead of repeating it:
the Vercel AI SDK does so for every assistant message it got from a stored response (its
default), within a tool loop and on the next turn. OpenAI replaces each reference with the
stored item; so does the bridge. An item's id begins with the hex of the response that holds it
(`request.item_id`), so a reference leads to one stored response, whose output and input items
are searched. A reference nothing holds (never stored, `store: false`, deleted, another
server's) is a 404, as OpenAI answers it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bridge.errors import NotFound
from bridge.validation.common import invalid_type

_HEX = re.compile(r"[0-9a-f]{48}")  # the hex of a response id (request.response_id)


def response_of(item_id: str) -> str | None:
    """The id of the response an item id was made for (None: not one of this bridge's)."""
    _, sep, rest = item_id.partition("_")
    if not sep or len(rest) <= 48 or not _HEX.fullmatch(rest[:48]):
        return None
    return f"resp_{rest[:48]}"


def references(raw_input: Any) -> dict[str, str | None]:
    """{referenced item id: the response that should hold it} for the references in `input`."""
    if not isinstance(raw_input, list):
        return {}
    found: dict[str, str | None] = {}
    for i, item in enumerate(raw_input):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            ref = item.get("id")
            if not isinstance(ref, str):
                raise invalid_type(f"input[{i}].id", "a string", ref)
            found[ref] = response_of(ref)
    return found


def items_of(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every item a stored response holds, by id: its input items and its output."""
    held = [*record.get("input_items", []), *record.get("response", {}).get("output", [])]
    return {item["id"]: item for item in held if isinstance(item, dict) and isinstance(item.get("id"), str)}


def substitute(raw_input: list[Any], stored: Mapping[str, dict[str, Any]]) -> list[Any]:
    """`input` with each reference replaced by a copy of the stored item it names."""
    resolved = []
    for item in raw_input:
        if isinstance(item, dict) and item.get("type") == "item_reference":
            target = stored.get(item["id"])
            if target is None:
                raise NotFound(f"Item with id '{item['id']}' not found.", param="input", code="item_not_found")
            item = dict(target)
        resolved.append(item)
    return resolved
