"""LiteLLM's `completion` through its OpenAI-compatible provider (`openai/<model>` with `api_base`).

`completion` is synchronous, so it runs in a worker thread while the bridge serves from this
test's event loop. LITELLM_LOCAL_MODEL_COST_MAP is LiteLLM's own setting for machines without
internet access: otherwise importing it tries to download a price list first.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from pydantic import BaseModel

from tests.clients.conftest import base_url
from tests.conftest import Bridge
from tests.sample_tools import WEATHER

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    # LiteLLM's own types trip a pydantic notice on import; it says nothing about the bridge.
    pytest.mark.filterwarnings("ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning"),
]


class City(BaseModel):
    name: str
    population: int


async def completion(bridge: Bridge, **kwargs: Any) -> Any:
    return await asyncio.to_thread(
        litellm.completion, model="openai/gpt-4o", api_base=base_url(bridge), api_key="sk-test", num_retries=0, **kwargs
    )


async def test_plain(live: Bridge) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "<<say:Hello from LiteLLM>>"}]
    response = await completion(live, messages=messages)
    assert response.choices[0].message.content == "Hello from LiteLLM"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens > 0


async def test_stream(live: Bridge) -> None:
    def consume() -> list[Any]:
        stream = litellm.completion(
            model="openai/gpt-4o",
            api_base=base_url(live),
            api_key="sk-test",
            messages=[{"role": "user", "content": "<<words:4>>"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return list(stream)

    chunks = await asyncio.to_thread(consume)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == ["w1 ", "w2 ", "w3 ", "w4"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert any(getattr(c, "usage", None) and c.usage.completion_tokens > 0 for c in chunks)


async def test_tools_round_trip(live: Bridge) -> None:
    messages: list[Any] = [{"role": "user", "content": '<<tool:mcp__c__get_weather:{"city":"Oslo"}>>'}]
    first = await completion(live, messages=messages, tools=[WEATHER])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    calls = message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", {"city": "Oslo"})]
    messages.append(message.model_dump())  # LiteLLM's own message object, as its docs show
    messages += [{"role": "tool", "tool_call_id": c.id, "content": "cold"} for c in calls]
    second = await completion(live, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "after-tool: cold"


async def test_streamed_tool_call(live: Bridge) -> None:
    messages = [{"role": "user", "content": '<<say:Checking.>> <<tool:mcp__c__get_weather:{"city":"Oslo"}>>'}]

    def consume() -> Any:
        stream = litellm.completion(
            model="openai/gpt-4o",
            api_base=base_url(live),
            api_key="sk-test",
            messages=messages,
            tools=[WEATHER],
            stream=True,
        )
        return litellm.stream_chunk_builder(list(stream), messages=messages)

    rebuilt = await asyncio.to_thread(consume)
    message = rebuilt.choices[0].message
    assert message.content == "Checking."
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]


@pytest.mark.parametrize("kind", ["pydantic", "json_schema", "json_object"])
async def test_response_format(live: Bridge, kind: str) -> None:
    schema = City.model_json_schema()
    response_format: Any = {
        "pydantic": City,
        "json_schema": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        "json_object": {"type": "json_object"},
    }[kind]
    value = {"name": "Bern", "population": 134000}
    response = await completion(
        live,
        messages=[{"role": "user", "content": f"Return JSON. <<tool:StructuredOutput:{json.dumps(value)}>>"}],
        response_format=response_format,
    )
    assert City.model_validate_json(response.choices[0].message.content) == City(**value)
