"""Server-side sessions: lifecycle, history reaching the model, concurrency, restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.conftest import Bridge
from tests.fake_upstream import block_text
from tests.sample_tools import WEATHER


def convo(req) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(m["role"], block_text(m["content"])) for m in req.messages if m["role"] != "system"]


async def test_session_lifecycle(bridge: Bridge) -> None:
    async with bridge.http() as http:
        created = (await http.post("/v1/sessions", json={"metadata": {"owner": "zed"}})).json()
        sid = created["id"]
        assert sid.startswith("sess_") and created["metadata"] == {"owner": "zed"} and created["message_count"] == 0
        second = (await http.post("/v1/sessions")).json()
        listed = (await http.get("/v1/sessions")).json()
        assert listed["object"] == "list" and [s["id"] for s in listed["data"]][:2] == [second["id"], sid]
        page = (await http.get("/v1/sessions", params={"limit": 1})).json()
        assert len(page["data"]) == 1 and page["has_more"] is True
        rest = (await http.get("/v1/sessions", params={"limit": 1, "after": page["last_id"]})).json()
        assert rest["data"][0]["id"] == sid
        resp = await http.post(
            "/v1/chat/completions",
            headers={"X-Session-ID": sid},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi <<say:hello>>"}]},
        )
        assert resp.headers["X-Session-ID"] == sid
        got = (await http.get(f"/v1/sessions/{sid}")).json()
        assert got["messages"] == [
            {"role": "user", "content": "hi <<say:hello>>"},
            {"role": "assistant", "content": "hello"},
        ]
        cleared = (await http.post(f"/v1/sessions/{sid}/clear")).json()
        assert cleared["messages"] == [] and cleared["message_count"] == 0
        deleted = (await http.delete(f"/v1/sessions/{sid}")).json()
        assert deleted == {"id": sid, "object": "session.deleted", "deleted": True}
        for method, path in [
            ("GET", f"/v1/sessions/{sid}"),
            ("DELETE", f"/v1/sessions/{sid}"),
            ("POST", f"/v1/sessions/{sid}/clear"),
        ]:
            missing = await http.request(method, path)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "session_not_found"


async def test_second_turn_sees_the_first(bridge: Bridge) -> None:
    client = bridge.client()
    first = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "My code word is MANGO. <<say:Noted.>>"}],
        extra_body={"session_id": "sess_test1"},
    )
    assert first.choices[0].message.content == "Noted."
    second = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Code word? <<has:MANGO>>"}],
        extra_body={"session_id": "sess_test1"},
    )
    assert second.choices[0].message.content == "yes"
    (req,) = bridge.fake.find("Code word?")
    assert convo(req) == [
        ("user", "My code word is MANGO. <<say:Noted.>>"),
        ("assistant", "Noted."),
        ("user", "Code word? <<has:MANGO>>"),
    ]
    assert "Be brief." in req.system_text()
    async with bridge.http() as http:
        stored = (await http.get("/v1/sessions/sess_test1")).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"], "system prompts are not stored"


async def test_streamed_turns_and_tool_calls_are_stored(bridge: Bridge) -> None:
    client = bridge.client()
    weather = {"type": "function", "function": {"name": "w", "parameters": {"type": "object", "properties": {}}}}
    stream = await client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        tools=[weather],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "<<tool:mcp__c__w:{}>>"}],
        extra_body={"session_id": "sess_tools"},
    )
    call_id = None
    async for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call_id = tc.id or call_id
    assert call_id
    resp = await client.chat.completions.create(
        model="gpt-4o",
        tools=[weather],  # type: ignore[list-item]
        messages=[{"role": "tool", "tool_call_id": call_id, "content": "CLOUDY"}],
        extra_body={"session_id": "sess_tools"},
    )
    assert resp.choices[0].message.content == "after-tool: CLOUDY"


async def test_eight_concurrent_turns_on_one_session_lose_nothing(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="4")
    client = bridge.client()
    await asyncio.gather(
        *(
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": f"c{i} <<say:r{i}>>"}],
                extra_body={"session_id": "sess_busy"},
            )
            for i in range(8)
        )
    )
    async with bridge.http() as http:
        messages = (await http.get("/v1/sessions/sess_busy")).json()["messages"]
    assert len(messages) == 16
    assert sorted(m["content"] for m in messages if m["role"] == "assistant") == sorted(f"r{i}" for i in range(8))
    for i in range(0, 16, 2):  # each turn's question is followed by its own answer
        q, a = messages[i], messages[i + 1]
        assert q["role"] == "user" and a["content"] == "r" + q["content"].split()[0][1:]


async def test_sessions_survive_a_restart(make_bridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    history = str(tmp_path / "shared-history")
    first = await make_bridge(POOL_SIZE="1", HISTORY_DIR=history)
    client = first.client()
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "remember KIWI"}],
        extra_body={"session_id": "sess_restart"},
    )
    await first.server.close()
    second = await make_bridge(POOL_SIZE="1", HISTORY_DIR=history)
    resp = await second.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "again <<has:KIWI>>"}],
        extra_body={"session_id": "sess_restart"},
    )
    assert resp.choices[0].message.content == "yes"


async def test_max_history_messages_drops_the_oldest(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", MAX_HISTORY_MESSAGES="4")
    client = bridge.client()
    for i in range(4):
        await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"m{i}"}], extra_body={"session_id": "sess_trim"}
        )
    async with bridge.http() as http:
        messages = (await http.get("/v1/sessions/sess_trim")).json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["m2", "m3"]


async def test_expired_sessions_are_swept(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", HISTORY_TTL_HOURS="0.0001", HISTORY_SWEEP_SECONDS="0.1")
    async with bridge.http() as http:
        sid = (await http.post("/v1/sessions")).json()["id"]
        for _ in range(50):
            if (await http.get(f"/v1/sessions/{sid}")).status_code == 404:
                break
            await asyncio.sleep(0.1)
        assert (await http.get(f"/v1/sessions/{sid}")).status_code == 404


async def test_a_corrupt_session_file_is_an_error_for_that_id_only(bridge: Bridge, tmp_path: Path) -> None:
    async with bridge.http() as http:
        good = (await http.post("/v1/sessions")).json()["id"]
        bad = (await http.post("/v1/sessions")).json()["id"]
        path = tmp_path / "history" / "sessions" / f"{bad}.json"
        path.write_text('{"id": "truncated', encoding="utf-8")
        broken = await http.get(f"/v1/sessions/{bad}")
        assert broken.status_code == 500 and broken.json()["error"]["code"] == "corrupt_record"
        assert (await http.get(f"/v1/sessions/{good}")).status_code == 200
        assert good in [s["id"] for s in (await http.get("/v1/sessions")).json()["data"]]
        chat = await http.post(
            "/v1/chat/completions",
            headers={"X-Session-ID": bad},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        )
        assert chat.status_code == 500
    assert path.read_text(encoding="utf-8") == '{"id": "truncated', "the broken file is left as it was"


async def test_bad_session_ids_and_disabled_history(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", ENABLE_HISTORY="false")
    async with bridge.http() as http:
        assert (await http.post("/v1/sessions")).json()["error"]["code"] == "sessions_disabled"
        chat = await http.post(
            "/v1/chat/completions",
            headers={"X-Session-ID": "sess_1"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        )
        assert chat.status_code == 400 and chat.json()["error"]["code"] == "sessions_disabled"


async def test_invalid_session_id(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            headers={"X-Session-ID": "sess_../../etc/passwd"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "session_id"
    assert json.loads(resp.text)["error"]["type"] == "invalid_request_error"


async def test_a_session_continues_on_the_process_that_holds_it(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    client = bridge.client()
    pids = []
    for i, text in enumerate(["I am ZED-7. <<say:Hi Zed.>>", "Again. <<say:Yes.>>", "Who am I? <<has:ZED-7>>"]):
        resp = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": text}], extra_body={"session_id": "sess_bound"}
        )
        pids.append(next(s.pid for s in bridge.pool.slots() if s.conversation))
        if i == 2:
            assert resp.choices[0].message.content == "yes"
    resumed = [(e["resumed_lines"], e["replayed_lines"]) for e in logs if e["event"] == "request"]
    assert resumed == [(0, 0), (2, 0), (4, 0)], "turns after the first skip the replay"
    assert len(set(pids)) == 1
    (req,) = bridge.fake.find("Who am I?")
    assert convo(req) == [
        ("user", "I am ZED-7. <<say:Hi Zed.>>"),
        ("assistant", "Hi Zed."),
        ("user", "Again. <<say:Yes.>>"),
        ("assistant", "Yes."),
        ("user", "Who am I? <<has:ZED-7>>"),
    ], "the model sees the whole conversation, in order"


async def test_a_bound_process_is_rewound_before_anyone_else_uses_it(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "secret PAPAYA"}],
        extra_body={"session_id": "sess_private"},
    )
    other = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stranger <<has:PAPAYA>>"}]
    )
    assert other.choices[0].message.content == "no"
    (req,) = bridge.fake.find("stranger")
    assert convo(req) == [("user", "stranger <<has:PAPAYA>>")]
    async with bridge.http() as http:
        await http.post("/v1/sessions/sess_private/clear")
    after = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "after clear <<has:PAPAYA>>"}],
        extra_body={"session_id": "sess_private"},
    )
    assert after.choices[0].message.content == "no", "a cleared session does not resume its old process"


async def test_tool_round_trip_on_a_bound_process(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    first = await client.chat.completions.create(
        model="gpt-4o",
        tools=[tool],
        messages=[{"role": "user", "content": "<<tool:mcp__c__lookup:{}>>"}],  # type: ignore[list-item]
        extra_body={"session_id": "sess_toolbound"},
    )
    (call,) = first.choices[0].message.tool_calls or []
    second = await client.chat.completions.create(
        model="gpt-4o",
        tools=[tool],
        messages=[{"role": "tool", "tool_call_id": call.id, "content": "FOUND"}],  # type: ignore[list-item]
        extra_body={"session_id": "sess_toolbound"},
    )
    assert second.choices[0].message.content == "after-tool: FOUND"
    assert [(e["resumed_lines"], e["replayed_lines"]) for e in logs if e["event"] == "request"] == [(0, 0), (2, 0)]


async def test_many_sessions_at_once_each_see_only_their_own_conversation(make_bridge) -> None:  # type: ignore[no-untyped-def]
    """Eight sessions of four turns each on three processes: bound, unbound and replayed turns mix."""
    bridge = await make_bridge(POOL_SIZE="3")
    client = bridge.client()

    async def converse(k: int) -> None:
        for t in range(4):
            await client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": f"s{k}-t{t} <<say:a{k}-{t}>>"}],
                extra_body={"session_id": f"sess_many_{k}"},
            )

    await asyncio.gather(*(converse(k) for k in range(8)))
    for k in range(8):
        for t in range(4):
            (req,) = bridge.fake.find(f"s{k}-t{t} ")
            expected = []
            for earlier in range(t):
                expected += [("user", f"s{k}-t{earlier} <<say:a{k}-{earlier}>>"), ("assistant", f"a{k}-{earlier}")]
            expected.append(("user", f"s{k}-t{t} <<say:a{k}-{t}>>"))
            assert convo(req) == expected, f"session {k} turn {t} saw another conversation"


async def test_a_clients_own_session_header_is_not_a_bridge_session(bridge: Bridge) -> None:
    """opencode sends `x-session-id: ses_…` (its own id) with the whole conversation every time:
    each request reaches the model exactly as sent, and nothing is stored under that id."""
    client = bridge.client(default_headers={"x-session-id": "ses_abc"})
    title = [
        {"role": "system", "content": "You generate titles."},
        {"role": "user", "content": "title for: fix the bug <<say:Bug fix>>"},
    ]
    assert (await client.chat.completions.create(model="gpt-4o", messages=title)).choices[
        0
    ].message.content == "Bug fix"  # type: ignore[arg-type]
    conversation = [
        {"role": "system", "content": "You are opencode."},
        {"role": "user", "content": "oc-first <<say:Looking.>>"},
        {"role": "assistant", "content": "Looking."},
        {"role": "user", "content": "oc-second <<say:Done.>>"},
    ]
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=conversation)  # type: ignore[arg-type]
    assert raw.parse().choices[0].message.content == "Done."
    assert "X-Session-ID" not in raw.headers and "X-Bridge-Session" not in raw.headers
    (req,) = bridge.fake.find("oc-second")
    assert convo(req) == [
        ("user", "oc-first <<say:Looking.>>"),
        ("assistant", "Looking."),
        ("user", "oc-second <<say:Done.>>"),
    ], "the model sees opencode's conversation, and only it"
    assert "You are opencode." in req.system_text() and "titles" not in req.system_text()
    async with bridge.http() as http:
        assert (await http.get("/v1/sessions/ses_abc")).status_code == 404
        assert not (await http.get("/v1/sessions")).json()["data"]


async def test_a_clients_own_conversation_id_keeps_the_first_exchange_warm(bridge: Bridge, logs) -> None:  # type: ignore[no-untyped-def]
    """Without an id, a stateless conversation's first exchange is not kept (most are never
    continued); with the client's own id it is, and the second turn resumes instead of replaying."""
    for hint, marker in ((None, "cold"), ("ses_warm", "warm")):
        headers = {"x-session-id": hint} if hint else {}
        client = bridge.client(default_headers=headers)
        first = [{"role": "user", "content": f"{marker}-1 <<say:One.>>"}]
        await client.chat.completions.create(model="gpt-4o", messages=first)  # type: ignore[arg-type]
        second = [
            *first,
            {"role": "assistant", "content": "One."},
            {"role": "user", "content": f"{marker}-2 <<say:Two.>>"},
        ]
        await client.chat.completions.create(model="gpt-4o", messages=second)  # type: ignore[arg-type]
    turns = [
        (e["resumed_lines"], e["replayed_lines"]) for e in logs if e["event"] == "request" and "resumed_lines" in e
    ]
    assert turns == [(0, 0), (0, 2), (0, 0), (2, 0)], turns


async def test_a_session_request_that_resends_the_whole_conversation_is_not_doubled(bridge: Bridge) -> None:
    client = bridge.client()
    first = [{"role": "user", "content": "whole-1 <<say:One.>>"}]
    answer = await client.chat.completions.create(
        model="gpt-4o", messages=first, extra_body={"session_id": "sess_whole"}
    )  # type: ignore[arg-type]
    echoed = answer.choices[0].message.model_dump()  # refusal, annotations, ... as clients echo it
    whole = [*first, echoed, {"role": "user", "content": "whole-2 <<say:Two.>>"}]
    await client.chat.completions.create(model="gpt-4o", messages=whole, extra_body={"session_id": "sess_whole"})  # type: ignore[arg-type]
    (req,) = bridge.fake.find("whole-2")
    assert convo(req) == [("user", "whole-1 <<say:One.>>"), ("assistant", "One."), ("user", "whole-2 <<say:Two.>>")]
    async with bridge.http() as http:
        stored = (await http.get("/v1/sessions/sess_whole")).json()["messages"]
    assert [m["content"] for m in stored] == ["whole-1 <<say:One.>>", "One.", "whole-2 <<say:Two.>>", "Two."]


async def test_an_apps_tool_loop_with_its_own_session_header(bridge: Bridge) -> None:
    """opencode's tool round trip (issue 18: it ended in a 400 when stored history was put in front)."""
    client = bridge.client(default_headers={"x-session-id": "ses_tools"})
    ask = [{"role": "user", "content": 'oc-tool <<tool:mcp__c__get_weather:{"city":"Oslo"}>>'}]
    first = await client.chat.completions.create(model="gpt-4o", messages=ask, tools=[WEATHER], stream=True)  # type: ignore[arg-type,list-item]
    calls: dict[int, dict] = {}  # type: ignore[type-arg]
    async for chunk in first:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(
                delta.index, {"id": delta.id, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            call["function"]["name"] += (delta.function and delta.function.name) or ""
            call["function"]["arguments"] += (delta.function and delta.function.arguments) or ""
    (call,) = calls.values()
    history = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "RAIN"},
    ]
    second = await client.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert second.choices[0].message.content == "after-tool: RAIN"
    req = bridge.fake.messages_requests()[-1]
    assert [m["role"] for m in req.messages if m["role"] != "system"] == ["user", "assistant", "user"]
    assert req.messages[-1]["content"][0]["type"] == "tool_result" and "oc-tool" in block_text(
        req.messages[0]["content"]
    )
