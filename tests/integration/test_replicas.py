"""Three bridge replicas (real processes) behind the shipped nginx configuration, one redis-server.

Sessions of several clients keep running on the process that holds them (measured by the
bridge's X-Bridge-Session header); one replica is killed with SIGKILL while turns are in
flight, and every session still completes, each message stored exactly once; stored
responses are retrievable and chainable through every replica, and a response chain is
routed to the replica it began on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio

from bench.cluster import Cluster, start_cluster
from tests.conftest import cli_under_test
from tests.fake_upstream import FakeUpstream, block_text

REPLICAS = 3
POOL = 3
SESSIONS_PER_REPLICA = 2  # fewer live sessions than slots: a process holds one conversation
TURNS_BEFORE = 5
TURNS_AFTER = 4


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster(
    upstream: FakeUpstream, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """One cluster for the module: the tests run in file order, the SIGKILL test last."""
    env = {
        "CLAUDE_COMMAND": str(cli_under_test()),  # the pin, or the newest CLI (make test-cli-latest)
        "HISTORY_STORAGE": "redis",
        "REDIS_URL": redis_url,
        "SHUTDOWN_GRACE": "2",
        "REQUEST_TIMEOUT": "30",
        "QUEUE_TIMEOUT": "30",
    }
    cluster = await start_cluster(upstream.url, REPLICAS, POOL, tmp_path_factory.mktemp("cluster"), env)
    try:
        yield cluster
    finally:
        orphans = await cluster.stop()
        assert not orphans, f"CLI processes outlived their SIGKILLed replica: {orphans}"


def _client(url: str, key: str = "sk-client", **headers: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=url + "/v1",
        api_key=key,
        max_retries=0,
        _strict_response_validation=True,
        default_headers=headers,
        timeout=60,
    )


async def _balanced_sessions(cluster: Cluster) -> dict[str, list[str]]:
    """Session ids, SESSIONS_PER_REPLICA routed to each replica (nginx tells by X-Bridge-Replica)."""
    chosen: dict[str, list[str]] = {r.name: [] for r in cluster.replicas}
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        while any(len(ids) < SESSIONS_PER_REPLICA for ids in chosen.values()):
            sid = f"sess_{uuid.uuid4().hex[:12]}"
            replica = (await http.get("/health", headers={"X-Session-ID": sid})).headers["X-Bridge-Replica"]
            if len(chosen[replica]) < SESSIONS_PER_REPLICA:
                chosen[replica].append(sid)
    return chosen


def _content(sid: str, index: int) -> str:
    # The turn the replica is killed under lasts long enough to be in flight for every session,
    # also on a loaded machine.
    delay = 1500 if index == TURNS_BEFORE else 150
    return f"{sid} turn-{index} <<say:{sid}-ans-{index}>> <<delay:{delay}>>"


async def _turn(
    client: openai.AsyncOpenAI, sid: str, index: int, *, body_id: bool, stream: bool
) -> tuple[str, str, int]:
    """One session turn, retried (same Idempotency-Key) until it succeeds: (how, replica, attempts)."""
    content = _content(sid, index)
    extra: dict[str, Any] = {"extra_headers": {"Idempotency-Key": f"{sid}-{index}"}}
    if body_id:
        extra["extra_body"] = {"session_id": sid}
    else:
        extra["extra_headers"]["X-Session-ID"] = sid
    for attempt in range(20):
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": content}], stream=stream, **extra
            )
            if stream:
                text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
            else:
                text = raw.parse().choices[0].message.content or ""
            assert text == f"{sid}-ans-{index}"
            return raw.headers["X-Bridge-Session"], raw.headers["X-Bridge-Replica"], attempt + 1
        except (openai.APIConnectionError, openai.APIStatusError, openai.APIError, httpx.HTTPError):
            # The replica died under this turn: nginx answers 502, or the stream breaks off.
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError(f"{sid} turn {index} never succeeded")


async def test_responses_are_shared_and_chains_keep_their_replica(cluster: Cluster) -> None:
    first = await _client(cluster.url, "sk-alice").responses.with_raw_response.create(
        model="gpt-4o", input="remember the word QUINCE"
    )
    resp = first.parse()
    origin = first.headers["X-Bridge-Replica"]
    # Continued by other clients (other API keys would hash elsewhere): the chain's token wins.
    chain = [resp.id]
    for key in ("sk-bob", "sk-carol", "sk-dave"):
        raw = await _client(cluster.url, key).responses.with_raw_response.create(
            model="gpt-4o", input="<<has:QUINCE>>", previous_response_id=chain[-1]
        )
        assert raw.headers["X-Bridge-Replica"] == origin
        assert raw.parse().output_text == "yes"
        chain.append(raw.parse().id)
    assert len({c[5:21] for c in chain}) == 1, "every id in the chain carries the chain's token"
    # Stored once, readable and continuable on every replica directly.
    for replica in cluster.replicas:
        direct = _client(replica.url)
        assert (await direct.responses.retrieve(chain[-1])).id == chain[-1]
        cont = await direct.responses.create(model="gpt-4o", input="<<has:QUINCE>>", previous_response_id=chain[0])
        assert cont.output_text == "yes"


async def test_stateless_clients_hash_by_key_and_streams_are_not_buffered(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        by_key = {}
        for n in range(8):
            hits = {
                (await http.get("/v1/models", headers={"Authorization": f"Bearer key-{n}"})).headers["X-Bridge-Replica"]
                for _ in range(3)
            }
            assert len(hits) == 1, "one client key, one replica"
            by_key[n] = hits.pop()
        assert len(set(by_key.values())) > 1, "different client keys spread over the replicas"
        named = {
            (
                await http.get("/v1/models", headers={"Authorization": f"Bearer key-{n}", "X-Bridge-Client": "u-1"})
            ).headers["X-Bridge-Replica"]
            for n in range(8)
        }
        assert len(named) == 1, "the operator-named client header wins over the API key"
        # Codex CLI names each conversation (thread-id): one key's conversations spread, each keeps its replica.
        by_thread = {}
        for n in range(8):
            hits = {
                (
                    await http.get("/v1/models", headers={"Authorization": "Bearer key-0", "thread-id": f"t-{n}"})
                ).headers["X-Bridge-Replica"]
                for _ in range(2)
            }
            assert len(hits) == 1, "one conversation, one replica"
            by_thread[n] = hits.pop()
        assert len(set(by_thread.values())) > 1, "one client key's conversations spread over the replicas"
    # A stream whose upstream produced two words and then hangs: the client has both words.
    stream = await _client(cluster.url).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<hangafter:2>>"}], stream=True
    )
    got = ""
    async with asyncio.timeout(20):
        async for chunk in stream:
            got += (chunk.choices[0].delta.content or "") if chunk.choices else ""
            if got.split() == ["w1", "w2"]:
                break
    await stream.close()


async def test_sessions_keep_their_process_and_survive_a_killed_replica(
    cluster: Cluster, upstream: FakeUpstream
) -> None:
    fake = upstream
    placement = await _balanced_sessions(cluster)
    sids = [sid for ids in placement.values() for sid in ids]
    client = _client(cluster.url)
    seen: dict[str, list[tuple[str, str, int]]] = {sid: [] for sid in sids}

    async def run(sid: str, turns: range) -> None:
        for i in turns:
            body_id = sids.index(sid) % 2 == 1  # half name the session in the body, half in the header
            seen[sid].append(await _turn(client, sid, i, body_id=body_id, stream=i % 2 == 1))

    # All replicas live: every turn after the first runs on the process that holds the session.
    await asyncio.gather(*(run(sid, range(TURNS_BEFORE)) for sid in sids))
    later = [how for sid in sids for how, _, _ in seen[sid][1:]]
    assert all(seen[sid][0][0] == "new" for sid in sids)
    bound = later.count("resumed") / len(later)
    assert bound >= 0.95, f"only {bound:.0%} of later turns ran on their bound process: {Counter(later)}"
    for replica, ids in placement.items():
        assert {r for sid in ids for _, r, _ in seen[sid]} == {replica}, "a session left its replica"

    # SIGKILL one replica while its sessions' turns are in flight.
    victim = cluster.replicas[0]
    after = asyncio.gather(*(run(sid, range(TURNS_BEFORE, TURNS_BEFORE + TURNS_AFTER)) for sid in sids))
    marker = f"turn-{TURNS_BEFORE}"
    moved = placement[victim.name]
    for _ in range(500):
        if sum(1 for sid in moved for r in fake.find(f"{sid} {marker}") if r.finished is None) == len(moved):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the victim's turns were never in flight together")
    victim.kill()
    await after

    assert all(seen[sid][TURNS_BEFORE][2] > 1 for sid in moved), "the killed turns were retried"
    for sid in moved:
        assert {r for _, r, _ in seen[sid][TURNS_BEFORE:]} <= {r.name for r in cluster.replicas[1:]}
    # Every session holds each turn exactly once, in order, whatever died under it.
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        for sid in sids:
            messages = (await http.get(f"/v1/sessions/{sid}")).json()["messages"]
            expected = []
            for i in range(TURNS_BEFORE + TURNS_AFTER):
                expected.append(("user", _content(sid, i)))
                expected.append(("assistant", f"{sid}-ans-{i}"))
            assert [(m["role"], m["content"]) for m in messages] == expected
    # A moved session's history reached its new process in full (replayed once from Redis).
    last = TURNS_BEFORE + TURNS_AFTER - 1
    for sid in moved:
        request = [r for r in fake.find(f"{sid} turn-{last}") if r.finished is not None][-1]
        texts = [block_text(m["content"]) for m in request.messages]
        assert sum(1 for t in texts if t.startswith(f"{sid}-ans-")) == last
