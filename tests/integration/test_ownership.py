"""One bridge, many keys: what a key stores is that key's alone (issue 17, points 1-2).

Key A stores sessions and responses; key B is answered exactly as for an id that does not exist
(the same status and body) on every route that reads, continues, clears, deletes or chains, and
its lists show only its own. An admin key reads, lists and deletes everything. On the file store
(one bridge) and on Redis with two replicas (A on one, B and the admin on the other).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import Bridge, MakeBridge
from tests.sample_tools import WEATHER

A, B, ADMIN = "sk-own-a", "sk-own-b", "sk-own-admin"
ENV = {"API_KEYS": f"{A},{B}", "ADMIN_API_KEYS": ADMIN, "POOL_SIZE": "1"}


@pytest.fixture(params=["files", "redis"])
async def replicas(request: pytest.FixtureRequest, make_bridge: MakeBridge) -> tuple[Bridge, Bridge]:
    """(A's replica, B's and the admin's replica): one bridge on files, two sharing one Redis."""
    if request.param == "files":
        one = await make_bridge(**ENV)
        return one, one
    env = {**ENV, "HISTORY_STORAGE": "redis", "REDIS_URL": request.getfixturevalue("redis_url")}
    return await make_bridge(**env), await make_bridge(**env)


def http(bridge: Bridge, key: str) -> httpx.AsyncClient:
    client = bridge.http()
    client.headers["Authorization"] = f"Bearer {key}"
    return client


async def refused_as_missing(
    client: httpx.AsyncClient, method: str, path: str, real: str, made_up: str, body: Any = None
) -> None:
    """`real` is answered exactly as `made_up`, an id nothing holds: 404, and the same body."""
    got = await client.request(method, path.format(real), json=json.loads(json.dumps(body).replace(made_up, real)))
    missing = await client.request(method, path.format(made_up), json=body)
    assert missing.status_code == 404, missing.text
    assert (got.status_code, got.text.replace(real, made_up)) == (404, missing.text), f"{method} {path}"


def ids(listed: httpx.Response) -> set[str]:
    assert listed.status_code == 200, listed.text
    return {item["id"] for item in listed.json()["data"]}


@pytest.fixture
async def clients(replicas: tuple[Bridge, Bridge]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    one, two = replicas
    async with http(one, A) as a, http(two, B) as b, http(two, ADMIN) as admin:
        yield a, b, admin


async def test_sessions_belong_to_their_key(
    replicas: tuple[Bridge, Bridge], clients: tuple[httpx.AsyncClient, ...]
) -> None:
    a, b, admin = clients
    fake = replicas[0].fake
    made = (await a.post("/v1/sessions", json={"metadata": {"who": "a"}})).json()["id"]
    sid = f"sess_{uuid.uuid4().hex[:24]}"  # named by the client on its first turn
    secret = f"SECRET-{uuid.uuid4().hex[:8]}"
    turn = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"{secret} <<say:noted>>"}]}
    first = await a.post("/v1/chat/completions", json=turn, headers={"X-Session-ID": sid, "Idempotency-Key": "k1"})
    assert first.status_code == 200, first.text
    seen = len(fake.find(secret))

    for real in (made, sid):
        other = f"sess_{secrets.token_hex(12)}"
        for method, path in [
            ("GET", "/v1/sessions/{}"),
            ("DELETE", "/v1/sessions/{}"),
            ("POST", "/v1/sessions/{}/clear"),
        ]:
            await refused_as_missing(b, method, path, real, other)
        # Continuing it (the same turn and Idempotency-Key too): refused as the sessions API
        # refuses a missing id, before anything goes upstream; never A's stored answer.
        for headers in ({"X-Session-ID": real}, {"X-Session-ID": real, "Idempotency-Key": "k1"}):
            tried = await b.post("/v1/chat/completions", json=turn, headers=headers)
            missing = await b.get(f"/v1/sessions/{other}")
            assert (tried.status_code, tried.text.replace(real, other)) == (404, missing.text)
        tried = await b.post("/v1/chat/completions", json={**turn, "session_id": real})
        assert tried.status_code == 404 and secret not in tried.text
    assert len(fake.find(secret)) == seen, "nothing of A's went upstream for B"

    mine = (await b.post("/v1/sessions")).json()["id"]
    assert ids(await b.get("/v1/sessions")) & {made, sid, mine} == {mine}
    assert ids(await a.get("/v1/sessions")) & {made, sid, mine} == {made, sid}
    kept = (await a.get(f"/v1/sessions/{sid}")).json()
    assert kept["message_count"] == 2 and secret in json.dumps(kept["messages"]), "B changed nothing"

    # The admin key sees and deletes everything; it continues only its own sessions.
    assert ids(await admin.get("/v1/sessions")) >= {made, sid, mine}
    assert secret in (await admin.get(f"/v1/sessions/{sid}")).text
    other = f"sess_{secrets.token_hex(12)}"
    refused = await admin.post("/v1/chat/completions", json=turn, headers={"X-Session-ID": sid})
    assert (refused.status_code, refused.text.replace(sid, other)) == (
        404,
        (await admin.get(f"/v1/sessions/{other}")).text,
    )
    assert (await admin.post(f"/v1/sessions/{mine}/clear")).status_code == 200
    assert (await admin.delete(f"/v1/sessions/{sid}")).json()["deleted"] is True
    assert (await admin.delete(f"/v1/sessions/{made}")).json()["deleted"] is True
    assert (await a.get(f"/v1/sessions/{sid}")).status_code == 404
    assert ids(await a.get("/v1/sessions")) & {made, sid} == set()
    assert len(fake.find(secret)) == seen


async def test_stored_responses_belong_to_their_key(
    replicas: tuple[Bridge, Bridge], clients: tuple[httpx.AsyncClient, ...]
) -> None:
    a, b, admin = clients
    one, two = replicas
    secret = f"SECRET-{uuid.uuid4().hex[:8]}"
    client_a = one.client(api_key=A)
    stored = await client_a.responses.create(model="gpt-4o", input=f"{secret} <<say:kept>>")
    (question,) = (await client_a.responses.input_items.list(stored.id)).data
    answer = stored.output[0].id
    seen = len(one.fake.find(secret))

    other = f"resp_{secrets.token_hex(24)}"
    for method, path in [
        ("GET", "/v1/responses/{}"),
        ("DELETE", "/v1/responses/{}"),
        ("GET", "/v1/responses/{}/input_items"),
    ]:
        await refused_as_missing(b, method, path, stored.id, other)
    chained = {"model": "gpt-4o", "input": "go on", "previous_response_id": other}
    await refused_as_missing(b, "POST", "/v1/responses", stored.id, other, chained)
    hexed = stored.id.removeprefix("resp_")
    for item in (question.id, answer):  # an item of A's, and the same item of a response nothing holds
        made_up = item.replace(hexed, secrets.token_hex(24))
        body = {
            "model": "gpt-4o",
            "input": [{"role": "user", "content": "a"}, {"type": "item_reference", "id": made_up}],
        }
        await refused_as_missing(b, "POST", "/v1/responses", item, made_up, body)
    with pytest.raises(openai.NotFoundError):  # the openai client too
        await two.client(api_key=B).responses.retrieve(stored.id)
    assert len(one.fake.find(secret)) == seen, "nothing of A's went upstream for B"

    assert stored.id not in ids(await b.get("/v1/responses"))
    assert stored.id in ids(await a.get("/v1/responses"))
    # A, on the other replica, still chains on it.
    follow = await two.client(api_key=A).responses.create(
        model="gpt-4o", input="<<has:" + secret + ">>", previous_response_id=stored.id
    )
    assert follow.output_text == "yes"

    assert {stored.id, follow.id} <= ids(await admin.get("/v1/responses"))
    assert (await admin.get(f"/v1/responses/{stored.id}")).json()["id"] == stored.id
    assert secret in (await admin.get(f"/v1/responses/{stored.id}/input_items")).text
    await refused_as_missing(admin, "POST", "/v1/responses", stored.id, other, chained)
    assert (await admin.delete(f"/v1/responses/{stored.id}")).json()["deleted"] is True
    assert (await a.get(f"/v1/responses/{stored.id}")).status_code == 404


async def test_data_stored_before_owners_is_for_admin_keys_only(make_bridge: MakeBridge, tmp_path: Path) -> None:
    """A record with no owner (stored without API_KEYS, or before this change) on the same files;
    an unreadable record names no owner either."""
    before = await make_bridge(POOL_SIZE="1")
    async with before.http() as plain:
        old_session = (await plain.post("/v1/sessions")).json()["id"]
        broken = (await plain.post("/v1/sessions")).json()["id"]
    (tmp_path / "history" / "sessions" / f"{broken}.json").write_text('{"id": "trunc', encoding="utf-8")
    old_response = (await before.client().responses.create(model="gpt-4o", input="<<say:old>>")).id
    keyed = await make_bridge(**ENV)
    async with http(keyed, A) as a, http(keyed, ADMIN) as admin:
        await refused_as_missing(a, "GET", "/v1/sessions/{}", old_session, f"sess_{secrets.token_hex(12)}")
        await refused_as_missing(a, "GET", "/v1/responses/{}", old_response, f"resp_{secrets.token_hex(24)}")
        assert old_session not in ids(await a.get("/v1/sessions"))
        assert old_response not in ids(await a.get("/v1/responses"))
        assert old_session in ids(await admin.get("/v1/sessions"))
        assert old_response in ids(await admin.get("/v1/responses"))
        assert (await admin.get(f"/v1/sessions/{old_session}")).status_code == 200
        assert (await admin.delete(f"/v1/responses/{old_response}")).status_code == 200
        other = f"sess_{secrets.token_hex(12)}"
        for method, path in [
            ("GET", "/v1/sessions/{}"),
            ("DELETE", "/v1/sessions/{}"),
            ("POST", "/v1/sessions/{}/clear"),
        ]:
            await refused_as_missing(a, method, path, broken, other)
        turn = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
        tried = await a.post("/v1/chat/completions", json=turn, headers={"X-Session-ID": broken})
        assert (tried.status_code, tried.text.replace(broken, other)) == (
            404,
            (await a.get(f"/v1/sessions/{other}")).text,
        )
        assert (await admin.get(f"/v1/sessions/{broken}")).json()["error"]["code"] == "corrupt_record"
        assert (await admin.delete(f"/v1/sessions/{broken}")).json()["deleted"] is True
        await refused_as_missing(admin, "GET", "/v1/sessions/{}", broken, other)
    async with before.http() as plain:  # without API_KEYS nothing changed: keyed records are everyone's
        assert (await plain.get(f"/v1/sessions/{old_session}")).status_code == 200


def _round_trip(messages: list[dict[str, Any]], call: dict[str, Any], result: str) -> list[dict[str, Any]]:
    return [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": result},
    ]


async def test_kept_thinking_only_for_its_key_and_its_call(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**ENV)
    fake = bridge.fake
    client_a, client_b = bridge.client(api_key=A), bridge.client(api_key=B)
    asked = [
        {
            "role": "user",
            "content": 'ownthink <<think:I need the weather.>> <<tool:mcp__c__get_weather:{"city":"Oslo"}>>',
        }
    ]
    first = await client_a.chat.completions.create(model="o3", tools=[WEATHER], messages=asked)  # type: ignore[list-item,arg-type]
    (call,) = first.choices[0].message.tool_calls or []
    kept = call.model_dump(exclude_none=True)
    signatures = set(fake.signatures)
    assert signatures, "A's turn was answered with signed thinking"

    def sent_with(result: str) -> list[dict[str, Any]]:
        found = [r for r in fake.messages_requests() if result in json.dumps(r.messages)]
        assert found, f"the turn with {result} reached the upstream"
        return [m for r in found for m in r.messages if m["role"] == "assistant"]

    def thinking_in(messages: list[dict[str, Any]]) -> list[Any]:
        return [
            b
            for m in messages
            if isinstance(m["content"], list)
            for b in m["content"]
            if "thinking" in b.get("type", "")
        ]

    # B sends A's call id with a tool result: none of A's thinking goes upstream under B's key
    # (the fake, like the API, then refuses the tool_use without its thinking).
    with pytest.raises(openai.APIStatusError):
        await client_b.chat.completions.create(
            model="o3", tools=[WEATHER], messages=_round_trip(asked, kept, "RESULT-B")
        )  # type: ignore[list-item,arg-type]
    sent = sent_with("RESULT-B")
    assert thinking_in(sent) == [] and not any(s in json.dumps(sent) for s in signatures)

    # The same through the Messages API, with Anthropic's client.
    messages_b = anthropic.AsyncAnthropic(base_url=bridge.url, api_key=B, max_retries=0)
    with pytest.raises(anthropic.APIStatusError):
        await messages_b.messages.create(
            model="o3",  # the model A's thinking was signed by: the CLI replays it only for that model
            max_tokens=300,
            tools=[{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}],  # type: ignore[index,list-item]
            messages=[
                {"role": "user", "content": asked[0]["content"]},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Oslo"}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "RESULT-MSG-B"}],
                },
            ],
        )
    sent = sent_with("RESULT-MSG-B")
    assert thinking_in(sent) == [] and not any(s in json.dumps(sent) for s in signatures)

    # A itself, but other arguments than the call was made with: not that call's thinking.
    changed = {**kept, "function": {**kept["function"], "arguments": '{"city":"Paris"}'}}
    with pytest.raises(openai.APIStatusError):
        await client_a.chat.completions.create(
            model="o3", tools=[WEATHER], messages=_round_trip(asked, changed, "RESULT-ARGS")
        )  # type: ignore[list-item,arg-type]
    sent = sent_with("RESULT-ARGS")
    assert thinking_in(sent) == [] and not any(s in json.dumps(sent) for s in signatures)

    # The control: A, the same call (its arguments respaced), gets it back and is answered.
    respaced = {**kept, "function": {**kept["function"], "arguments": '{ "city" : "Oslo" }'}}
    done = await client_a.chat.completions.create(
        model="o3", tools=[WEATHER], messages=_round_trip(asked, respaced, "RESULT-A")
    )  # type: ignore[list-item,arg-type]
    assert done.choices[0].message.content == "after-tool: RESULT-A"
    assert any(b.get("signature") in signatures for b in thinking_in(sent_with("RESULT-A")))
