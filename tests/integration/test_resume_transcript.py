"""Why history that is not warm is replayed, not loaded with `--resume` (docs/cli-findings.md).

A session file the bridge writes is loaded whole by a process started with `--resume`, tool
calls and images included, faster than a start and a replay, and its lines can be rewound
like replayed ones. But the upstream request that follows is not the one a replay leads to:
the CLI's environment block moves from after the first user message to the end, and an empty
`system` message stands in its place. The prompt differs from the second message on, so on
the real API the first turn after a load would miss the prompt cache for the whole history.
If the last test here fails, the CLI now loads a transcript as it replays one: `--resume`
could then be used for cold long histories (`bench/resume.py` measures both).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from bench.resume import answer, new_slot
from supervisor.conversation import Held, HeldLine, chain
from supervisor.turn import Line
from tests.conftest import cli_under_test
from tests.fake_upstream import FakeUpstream

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
HISTORY = [
    Line("user", "first question MARK-r"),
    Line(
        "assistant",
        [
            {"type": "text", "text": "calling"},
            {"type": "tool_use", "id": "toolu_01", "name": "mcp__c__get_weather", "input": {"city": "Paris"}},
        ],
    ),
    Line("user", [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"}]),
    Line("assistant", "It is sunny."),
    Line(
        "user",
        [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        ],
    ),
    Line("assistant", "A pixel."),
]


def _shape(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Role and a short view of each message (text with the run's own tags taken out)."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        view = ",".join(b.get("type", "?") + (":" + b["text"][:12] if b.get("type") == "text" else "") for b in content)
        out.append((m["role"], view))
    return out


async def _resumed(fake: FakeUpstream, work: Path) -> tuple[Any, list[str]]:
    session = str(uuid.uuid4())
    slot = await new_slot(fake.url, work, (session, HISTORY), command=cli_under_test())
    (written,) = work.glob(f"slots/*/home/.claude/projects/*/{session}.jsonl")
    ids = [json.loads(row)["uuid"] for row in written.read_text().splitlines()]
    return slot, ids


async def test_a_written_transcript_is_loaded_whole_and_can_be_rewound(fake: FakeUpstream, tmp_path: Path) -> None:
    slot, ids = await _resumed(fake, tmp_path)
    try:
        assert await answer(slot, [], "R1 <<has:MARK-r>>") == "yes"
        (req,) = fake.find("R1 ")
        shape = [s for s in _shape(req.body["messages"]) if s[0] != "system"]
        assert shape[:6] == [
            ("user", "text:first questi"),
            ("assistant", "text:calling,tool_use"),
            ("user", "tool_result"),
            ("assistant", "text:It is sunny."),
            ("user", "text:look,image"),
            ("assistant", "text:A pixel."),
        ]
        # The loaded lines carry the uuids the bridge wrote: a rewind can cut into them.
        keys = chain("", HISTORY)
        loaded = tuple(HeldLine(keys[i + 1], ids[i] if line.role == "user" else None) for i, line in enumerate(HISTORY))
        assert slot.conversation is not None  # the turn just run: its question (kept)
        slot.conversation = Held("", (*loaded, *slot.conversation.lines))
        assert await slot.clear()
        assert await answer(slot, [], "R2 <<has:MARK-r>>") == "no"
    finally:
        await slot.close()


async def test_loading_a_transcript_does_not_send_what_a_replay_sends(fake: FakeUpstream, tmp_path: Path) -> None:
    replayed = await new_slot(fake.url, tmp_path, command=cli_under_test())
    try:
        assert await answer(replayed, HISTORY, "REPLAYED <<say:ok>>") == "ok"
    finally:
        await replayed.close()
    loaded, _ = await _resumed(fake, tmp_path)
    try:
        assert await answer(loaded, [], "LOADED <<say:ok>>") == "ok"
    finally:
        await loaded.close()
    (a,) = fake.find("REPLAYED ")
    (b,) = fake.find("LOADED ")
    after_replay, after_load = _shape(a.body["messages"]), _shape(b.body["messages"])
    # A replay: the environment block right after the first user message.
    assert after_replay[1][0] == "system" and after_replay[1][1].startswith("text:# Environme")
    # A load: an empty system message there, the environment block at the end.
    assert after_load[1] == ("system", ""), (
        "the CLI now loads a transcript as it replays one: consider --resume for cold long histories"
    )
    assert after_load[-1][0] == "system" and after_load[-1][1].startswith("text:# Environme")
    assert after_replay != after_load
