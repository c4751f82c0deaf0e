"""Plain and streamed answers through the real CLI, checked with the strict openai client."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import Bridge
from tests.fake_upstream import block_text


async def test_plain_answer(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi <<say:Hello from Claude>>"}]
    )
    assert resp.choices[0].message.content == "Hello from Claude"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "gpt-4o"
    assert resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert abs(resp.created - time.time()) < 60


async def test_streamed_answer_keeps_whitespace(bridge: Bridge) -> None:
    client = bridge.client()
    pieces = ["# Title\n\n", "  indented", "\n\n\n", "last line ", " "]
    stream = await client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        messages=[{"role": "user", "content": f"<<chunks:{__import__('json').dumps(pieces)}>>"}],
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(pieces)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == pieces, "each upstream delta is forwarded as its own chunk"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1


async def test_stream_ends_with_done_and_usage_chunk(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "<<words:3>> <<usage:123:7:40:5>>"}],
            },
        )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    from tests.openapi import sse_payloads

    payloads = sse_payloads(resp.content)
    assert payloads[-1] == "[DONE]"
    import json

    last = json.loads(payloads[-2])
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 168,
        "completion_tokens": 7,
        "total_tokens": 175,
        "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": 0, "cache_write_tokens": 5},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    assert all(json.loads(p)["usage"] is None for p in payloads[:-2])


async def test_usage_is_exactly_the_clis(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<say:ok>> <<usage:1000:42:300:25>>"}]
    )
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == 1000 + 300 + 25
    assert resp.usage.completion_tokens == 42
    assert resp.usage.total_tokens == 1367
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 300


async def test_system_developer_and_history_reach_the_model_in_order(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "You are PIRATE-BOT."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in one word."}]},
            {"role": "user", "content": "My name is Zed."},
            {"role": "assistant", "content": "Ahoy Zed."},
            {"role": "user", "content": [{"type": "text", "text": "part one "}, {"type": "text", "text": "part two"}]},
            {"role": "assistant", "content": "Aye."},
            {"role": "user", "content": "What is my name? <<say:Zed>>"},
        ],
    )
    (req,) = bridge.fake.find("What is my name?")
    system = req.system_text()
    assert "You are PIRATE-BOT.\n\nAnswer in one word." in system
    assert "Claude Code" not in system and "software engineering" not in system, "no coding-agent prompt"
    convo = [(m["role"], block_text(m["content"])) for m in req.messages if m["role"] != "system"]
    assert convo == [
        ("user", "My name is Zed."),
        ("assistant", "Ahoy Zed."),
        ("user", "part one \npart two"),
        ("assistant", "Aye."),
        ("user", "What is my name? <<say:Zed>>"),
    ]
    assert [m for m in req.messages if m["role"] != "system"][2]["content"] == [
        {"type": "text", "text": "part one "},
        {"type": "text", "text": "part two"},
    ], "content parts stay separate blocks"
    assert req.body.get("tools", []) == [], "no CLI tools are offered to the model"


async def test_no_system_prompt_means_no_agent_prompt(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "plain <<say:x>>"}])
    (req,) = bridge.fake.find("plain")
    assert len(req.system_text()) < 200, req.system_text()


@pytest.mark.parametrize(
    ("requested", "upstream"),
    [
        ("gpt-4o", "claude-sonnet-5-5"),
        ("gpt-4.1", "claude-sonnet-5-5"),
        ("gpt-5", "claude-sonnet-5-5"),
        ("gpt-3.5-turbo", "claude-haiku-5-5"),
        ("gpt-4o-mini", "claude-haiku-5-5"),
        ("o3", "claude-opus-5-5"),
        ("o1-preview", "claude-opus-5-5"),
        ("haiku", "claude-haiku-5-5"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ],
)
async def test_model_mapping(bridge: Bridge, requested: str, upstream: str) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model=requested, messages=[{"role": "user", "content": f"which {requested} <<say:ok>>"}]
    )
    assert resp.model == requested
    (req,) = bridge.fake.find(f"which {requested} ")
    assert req.body["model"] == upstream


async def test_model_override_from_env(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(MODEL_MAP='{"gpt-4o": "opus", "house-model": "haiku"}', POOL_SIZE="1")
    client = bridge.client()
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "m1 <<say:a>>"}])
    await client.chat.completions.create(model="house-model", messages=[{"role": "user", "content": "m2 <<say:a>>"}])
    assert bridge.fake.find("m1")[0].body["model"] == "claude-opus-5-5"
    assert bridge.fake.find("m2")[0].body["model"] == "claude-haiku-5-5"


async def test_first_token_arrives_before_the_end(bridge: Bridge) -> None:
    """Deltas 300 ms apart upstream must reach the client as they happen, not at the end."""
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "<<words:4>> <<gap:300>>"}]
    )
    arrivals: list[tuple[float, str]] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((time.monotonic(), chunk.choices[0].delta.content))
    assert [t for _, t in arrivals] == ["w1 ", "w2 ", "w3 ", "w4"]
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread > 0.6, f"deltas were buffered: all {len(arrivals)} arrived within {spread:.3f}s"


async def test_dropped_stream_falls_back_to_whole_message(bridge: Bridge) -> None:
    """The CLI answers a dropped stream with a non-streaming retry: no deltas, one message."""
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<drop>> <<say:fallback text>>"}]
    )
    assert resp.choices[0].message.content == "fallback text"
    assert not bridge.fake.messages_requests()[-1].body.get("stream"), "the retry was non-streaming"


async def test_concurrent_requests_on_the_same_pool(bridge: Bridge) -> None:
    client = bridge.client()
    results = await asyncio.gather(
        *(
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"<<say:n{i}>>"}])
            for i in range(6)
        )
    )
    assert sorted(r.choices[0].message.content or "" for r in results) == [f"n{i}" for i in range(6)]
