"""The Responses API through the real CLI, checked with the openai client and OpenAI's schemas."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import Bridge
from tests.fake_upstream import block_text
from tests.openapi import assert_valid, errors
from tests.responses_events import validate_events

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_create_retrieve_delete_with_the_openai_client(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.responses.create(
        model="gpt-4o", input="hello <<say:Hi from Claude>>", instructions="You are terse."
    )
    assert resp.id.startswith("resp_") and resp.object == "response" and resp.status == "completed"
    assert resp.output_text == "Hi from Claude"
    assert resp.usage is not None and resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    (req,) = bridge.fake.find("hello")
    assert "You are terse." in req.system_text()
    again = await client.responses.retrieve(resp.id)
    assert again.id == resp.id and again.output_text == "Hi from Claude"
    items = await client.responses.input_items.list(resp.id)
    assert [i.type for i in items.data] == ["message"]
    await client.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(resp.id)


async def test_non_streamed_response_matches_the_schema(bridge: Bridge) -> None:
    async with bridge.http() as http:
        body = (await http.post("/v1/responses", json={"model": "gpt-4o", "input": "<<say:schema check>>"})).json()
    assert_valid("Response", body)


async def test_previous_response_id_chains_the_conversation(bridge: Bridge) -> None:
    client = bridge.client()
    first = await client.responses.create(
        model="gpt-4o", input="My pet is FERRET. <<say:Cute.>>", instructions="first instructions"
    )
    second = await client.responses.create(
        model="gpt-4o", input="Which pet? <<has:FERRET>>", previous_response_id=first.id
    )
    assert second.output_text == "yes"
    assert second.previous_response_id == first.id
    (req,) = bridge.fake.find("Which pet?")
    convo = [(m["role"], block_text(m["content"])) for m in req.messages if m["role"] != "system"]
    assert convo == [
        ("user", "My pet is FERRET. <<say:Cute.>>"),
        ("assistant", "Cute."),
        ("user", "Which pet? <<has:FERRET>>"),
    ]
    assert "first instructions" not in req.system_text(), "instructions are not carried over"
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_missing")


async def test_function_calls_and_their_outputs(bridge: Bridge) -> None:
    client = bridge.client()
    first = await client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        input='weather <<tool:mcp__c__get_weather:{"city":"Lima"}>>',
    )
    (call,) = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Lima"}
    second = await client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],
        previous_response_id=first.id,  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "FOGGY"}],
    )
    assert second.output_text == "after-tool: FOGGY"
    req = bridge.fake.messages_requests()[-1]
    roles = [m["role"] for m in req.messages if m["role"] != "system"]
    assert roles == ["user", "assistant", "user"]


async def test_items_input_with_function_history_and_json_format(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "call_x1", "name": "get_weather", "arguments": '{"city":"Kyiv"}'},
            {"type": "function_call_output", "call_id": "call_x1", "output": "SNOW"},
            {"role": "user", "content": "so? <<say:It snows.>>"},
        ],
    )
    assert resp.output_text
    req = bridge.fake.messages_requests()[-1]
    convo = [m for m in req.messages if m["role"] != "system"]
    assert convo[1]["content"] == [
        {"type": "tool_use", "id": "call_x1", "name": "mcp__c__get_weather", "input": {"city": "Kyiv"}}
    ]
    blocks = convo[2]["content"]
    assert blocks[0] == {"type": "tool_result", "tool_use_id": "call_x1", "content": "SNOW"}
    assert "so? <<say:It snows.>>" in block_text(blocks), "the result and the next question, in order"
    structured = await client.responses.create(
        model="gpt-4o",
        input='json <<tool:StructuredOutput:{"n": 3}>>',
        text={
            "format": {
                "type": "json_schema",
                "name": "n",
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            }
        },
    )
    assert json.loads(structured.output_text) == {"n": 3}


async def test_max_output_tokens_gives_an_incomplete_response(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.responses.create(model="gpt-4o", input="<<words:9>>", max_output_tokens=2)
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None and resp.incomplete_details.reason == "max_output_tokens"


async def test_streamed_events_follow_openais_sequence(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/responses",
            json={
                "model": "gpt-4o",
                "stream": True,
                "tools": [WEATHER],
                "input": '<<say:Looking it up.>> <<tool:mcp__c__get_weather:{"city":"Quito"}>>',
            },
        )
    events = validate_events(resp.content)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and "response.function_call_arguments.delta" in kinds
    text_done = next(e for e in events if e["type"] == "response.output_text.done")
    assert text_done["text"] == "Looking it up."
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(args_done["arguments"]) == {"city": "Quito"}
    final = events[-1]["response"]
    assert_valid("Response", final)
    assert [o["type"] for o in final["output"]] == ["message", "function_call"]
    stored = await bridge.client().responses.retrieve(final["id"])
    assert stored.output_text == "Looking it up."


async def test_streamed_with_the_openai_client(bridge: Bridge, logs: list[dict[str, Any]]) -> None:
    client = bridge.client()
    stream = await client.responses.create(model="gpt-4o", input="<<words:3>>", stream=True)
    deltas, final = [], None
    async for event in stream:
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            final = event.response
    assert "".join(deltas) == "w1 w2 w3"
    assert final is not None and final.output_text == "w1 w2 w3"
    (logged,) = [e for e in logs if e["event"] == "request" and e.get("path") == "/v1/responses"]
    assert logged["stream"] is True, "the request log says what the client asked for"


async def test_store_false_is_not_stored_and_list_pages(bridge: Bridge) -> None:
    client = bridge.client()
    kept = await client.responses.create(model="gpt-4o", input="kept")
    gone = await client.responses.create(model="gpt-4o", input="gone", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(gone.id)
    async with bridge.http() as http:
        listed = (await http.get("/v1/responses")).json()
    assert [r["id"] for r in listed["data"]] == [kept.id]


async def test_bad_responses_requests(bridge: Bridge) -> None:
    async with bridge.http() as http:
        for body, param in [
            ({"model": "gpt-4o"}, "input"),
            ({"model": "gpt-4o", "input": 5}, "input"),
            ({"model": "gpt-4o", "input": "x", "tools": [{"type": "file_search"}]}, "tools[0].type"),
            ({"model": "gpt-4o", "input": "x", "tool_choice": {"type": "web_search"}}, "tool_choice"),
            ({"model": "gpt-4o", "input": [{"type": "local_shell_call", "call_id": "x"}]}, "input[0].type"),
            ({"model": "gpt-4o", "input": [{"type": "compaction", "encrypted_content": "x"}]}, "input[0].type"),
            ({"model": "gpt-4o", "input": "x", "include": ["nope"]}, "include[0]"),
            ({"model": "gpt-4o", "input": "x", "client_metadata": {"a": 1}}, "client_metadata.a"),
            ({"model": "gpt-4o", "input": [{"type": "computer_call_output", "call_id": "x"}]}, "input[0].type"),
            ({"model": "gpt-4o", "input": [{"type": "item_reference", "id": "x"}]}, "input"),  # 404: not stored
            ({"model": "nope", "input": "x"}, "model"),
        ]:
            resp = await http.post("/v1/responses", json=body)
            assert resp.status_code in (400, 404), resp.text
            assert resp.json()["error"]["param"] == param


def test_event_validation_can_fail() -> None:
    assert errors("ResponseStreamEvent", {"type": "response.output_text.delta", "delta": "x"})


async def test_unapplied_sampling_params_are_reported(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/responses", json={"model": "gpt-4o", "input": "x", "temperature": 0.3})
    assert resp.status_code == 200
    assert resp.headers["x-bridge-unapplied-params"] == "temperature"
    assert resp.json()["temperature"] == 0.3


async def test_item_references_resolve_to_stored_items(bridge: Bridge) -> None:
    """What the Vercel AI SDK sends back for a stored answer: `item_reference`, not the text."""
    client = bridge.client()
    first = await client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        input='Pet? <<say:A FERRET.>> <<tool:mcp__c__get_weather:{"city":"Oslo"}>>',
    )
    message, call = first.output
    assert message.type == "message" and call.type == "function_call"
    (question,) = (await client.responses.input_items.list(first.id)).data
    second = await client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        input=[
            {"type": "item_reference", "id": question.id},
            {"type": "item_reference", "id": message.id},
            {"type": "item_reference", "id": call.id},
            {"type": "function_call_output", "call_id": call.call_id, "output": "cold"},
        ],
    )
    assert second.output_text == "after-tool: cold"
    (req,) = [r for r in bridge.fake.messages_requests() if "cold" in json.dumps(r.messages)]
    convo = [m for m in req.messages if m["role"] != "system"]
    assert [m["role"] for m in convo] == ["user", "assistant", "user"]
    assert "Pet?" in block_text(convo[0]["content"])
    assert "A FERRET." in block_text(convo[1]["content"])
    assert [b["input"] for b in convo[1]["content"] if b.get("type") == "tool_use"] == [{"city": "Oslo"}]
    listed = (await client.responses.input_items.list(second.id, order="asc")).data
    assert [item.id for item in listed[:3]] == [question.id, message.id, call.id], "the referenced items themselves"


async def test_an_unknown_item_reference_is_404(bridge: Bridge) -> None:
    client = bridge.client()
    unstored = await client.responses.create(model="gpt-4o", input="<<say:gone>>", store=False)
    for ref in (unstored.output[0].id, "msg_not_ours"):
        with pytest.raises(openai.NotFoundError) as caught:
            await client.responses.create(
                model="gpt-4o",
                input=[{"role": "user", "content": "a"}, {"type": "item_reference", "id": ref}],
            )
        assert caught.value.body["param"] == "input" and ref in caught.value.body["message"]  # type: ignore[index]
