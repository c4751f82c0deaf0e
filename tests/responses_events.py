"""A Responses API stream, parsed and checked event by event against OpenAI's schema."""

from __future__ import annotations

import json

from tests.openapi import assert_valid


def validate_events(raw: bytes) -> list[dict]:  # type: ignore[type-arg]
    events = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        kind = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
        assert data["type"] == kind
        assert_valid("ResponseStreamEvent", data)
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events
