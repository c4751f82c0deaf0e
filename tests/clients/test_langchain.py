"""LangChain's `ChatOpenAI` (langchain-openai) against the bridge, on chat completions and Responses.

The sync calls (`invoke`, `stream`) run in a worker thread: they block, and the bridge serves
from this test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.clients.conftest import base_url
from tests.conftest import Bridge
from tests.fake_upstream import block_text

pytestmark = pytest.mark.asyncio(loop_scope="module")
APIS = pytest.mark.parametrize("api", ["chat", "responses"])


def llm(bridge: Bridge, api: str, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=base_url(bridge),
        api_key="sk-test",  # type: ignore[arg-type]
        model="gpt-4o",
        max_retries=0,
        use_responses_api=api == "responses",
        **kwargs,
    )


def text_of(message: BaseMessage) -> str:
    """The answer text, whichever content shape the API flavour gives."""
    if isinstance(message.content, str):
        return message.content
    return "".join(part["text"] for part in message.content if isinstance(part, dict) and part.get("type") == "text")


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Person(BaseModel):
    name: str
    age: int


@APIS
async def test_invoke(live: Bridge, api: str) -> None:
    messages = [SystemMessage(f"Answer briefly ({api}-invoke)."), HumanMessage("<<say:Hello from LangChain>>")]
    answer = await asyncio.to_thread(llm(live, api).invoke, messages)
    assert text_of(answer) == "Hello from LangChain"
    assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] > 0
    upstream = live.fake.find("Hello from LangChain")[-1]
    assert f"Answer briefly ({api}-invoke)." in upstream.system_text()


@APIS
async def test_stream(live: Bridge, api: str) -> None:
    def consume() -> list[AIMessageChunk]:
        return list(llm(live, api, stream_usage=True).stream("<<words:4>>"))

    chunks = await asyncio.to_thread(consume)
    assert "".join(text_of(c) for c in chunks) == "w1 w2 w3 w4"
    assert sum(1 for c in chunks if text_of(c)) == 4, "each upstream delta arrives as its own chunk"
    assert any(c.usage_metadata and c.usage_metadata["output_tokens"] > 0 for c in chunks)


@APIS
async def test_bind_tools_round_trip(live: Bridge, api: str) -> None:
    bound = llm(live, api).bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage('<<tool:mcp__c__get_weather:{"city":"Paris"}>>')]
    call = await bound.ainvoke(messages)
    assert isinstance(call, AIMessage)
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", {"city": "Paris"})]
    messages.append(call)
    messages += [ToolMessage(get_weather.invoke(c["args"]), tool_call_id=c["id"]) for c in call.tool_calls]
    final = await bound.ainvoke(messages)
    assert text_of(final) == "after-tool: sunny in Paris"
    upstream = live.fake.messages_requests()[-1].messages
    results = [b for m in upstream for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert [block_text(r["content"]) for r in results] == ["sunny in Paris"]
    assert results[0]["tool_use_id"] == call.tool_calls[0]["id"]


@APIS
async def test_stream_with_tools(live: Bridge, api: str) -> None:
    bound = llm(live, api).bind_tools([get_weather])
    merged: Any = None
    async for chunk in bound.astream('<<say:Checking.>> <<tool:mcp__c__get_weather:{"city":"Rome"}>>'):
        merged = chunk if merged is None else merged + chunk
    assert text_of(merged) == "Checking."
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("get_weather", {"city": "Rome"})]


@APIS
@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
async def test_with_structured_output(live: Bridge, api: str, method: str) -> None:
    directive = "mcp__c__Person" if method == "function_calling" else "StructuredOutput"
    structured = llm(live, api).with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = await structured.ainvoke(f"Who? <<tool:{directive}:{json.dumps({'name': 'Ann', 'age': 7})}>>")
    assert person == Person(name="Ann", age=7)
