"""A session turn sent again with the same Idempotency-Key is stored once and answered from the store.

This is the case a replica's death leaves behind: the turn was stored, the answer never
reached the client, the client retries (on another replica, through the same Redis).
"""

from __future__ import annotations

import asyncio
import uuid

from tests.conftest import Bridge


def _turn(content: str) -> dict[str, object]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}


async def test_a_retried_turn_is_stored_once_and_answered_from_the_store(bridge: Bridge) -> None:
    sid = f"sess_{uuid.uuid4().hex[:10]}"
    headers = {"X-Session-ID": sid, "Idempotency-Key": "turn-1"}
    async with bridge.http() as http:
        first = await http.post("/v1/chat/completions", headers=headers, json=_turn("one <<say:first answer>>"))
        assert first.status_code == 200 and first.headers["X-Bridge-Session"] == "new"
        again = await http.post("/v1/chat/completions", headers=headers, json=_turn("one <<say:first answer>>"))
        assert again.status_code == 200 and again.headers["X-Bridge-Session"] == "stored"
        assert again.json() == first.json(), "the stored answer, same id and usage"
        # Streamed, the stored answer is sent as the chunks that carry it.
        streamed = await http.post(
            "/v1/chat/completions",
            headers=headers,
            json={**_turn("one <<say:first answer>>"), "stream": True, "stream_options": {"include_usage": True}},
        )
        assert streamed.headers["X-Bridge-Session"] == "stored"
        assert "first answer" in streamed.text and streamed.text.rstrip().endswith("data: [DONE]")
        assert len(bridge.fake.find("one <<say")) == 1, "no second model turn"
        record = (await http.get(f"/v1/sessions/{sid}")).json()
        assert [m["content"] for m in record["messages"]] == ["one <<say:first answer>>", "first answer"]

        reused = await http.post("/v1/chat/completions", headers=headers, json=_turn("something else"))
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        too_long = await http.post(
            "/v1/chat/completions", headers={**headers, "Idempotency-Key": "k" * 256}, json=_turn("x")
        )
        assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "Idempotency-Key"

        # The next turn (another key) continues normally, on the process that holds the session.
        nxt = await http.post(
            "/v1/chat/completions", headers={**headers, "Idempotency-Key": "turn-2"}, json=_turn("two <<say:second>>")
        )
        assert nxt.headers["X-Bridge-Session"] == "resumed"
        metrics = (await http.get("/metrics")).text
        assert 'bridge_session_turns_total{how="stored"} 2.0' in metrics
        assert 'bridge_session_turns_total{how="resumed"} 1.0' in metrics


async def test_two_attempts_at_once_store_the_turn_once(bridge: Bridge) -> None:
    """The first attempt still runs when the retry arrives (a client timeout, not a dead replica)."""
    sid = f"sess_{uuid.uuid4().hex[:10]}"
    headers = {"X-Session-ID": sid, "Idempotency-Key": "k1"}
    async with bridge.http() as http:
        one, two = await asyncio.gather(
            *(
                http.post("/v1/chat/completions", headers=headers, json=_turn("both <<say:hi>> <<delay:300>>"))
                for _ in range(2)
            )
        )
        assert one.status_code == two.status_code == 200
        assert one.json() == two.json(), "the later one answers with what the first stored"
        assert sorted([one.headers["X-Bridge-Session"], two.headers["X-Bridge-Session"]]) == ["new", "stored"]
        assert (await http.get(f"/v1/sessions/{sid}")).json()["message_count"] == 2
