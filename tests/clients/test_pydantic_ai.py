"""pydantic-ai (`pydantic-ai-slim[openai]`): a tool and a structured `output_type`, on both APIs.

Pointed at the bridge the way its docs show for OpenAI-compatible servers: an `OpenAIProvider`
with `base_url` and `api_key`.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.clients.conftest import base_url
from tests.conftest import Bridge

pytestmark = pytest.mark.asyncio(loop_scope="module")
APIS = pytest.mark.parametrize("api", ["chat", "responses"])


class City(BaseModel):
    name: str
    population: int


def model(bridge: Bridge, api: str) -> Model:
    provider = OpenAIProvider(base_url=base_url(bridge), api_key="sk-test")
    if api == "responses":
        return OpenAIResponsesModel("gpt-4o", provider=provider)
    return OpenAIChatModel("gpt-4o", provider=provider)


def weather_agent(bridge: Bridge, api: str) -> Agent[None, str]:
    agent = Agent(model(bridge, api), instructions="Be brief.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"windy in {city}"

    return agent


@APIS
async def test_tool(live: Bridge, api: str) -> None:
    result = await weather_agent(live, api).run('<<tool:mcp__c__get_weather:{"city":"Bern"}>>')
    assert result.output == "after-tool: windy in Bern"
    calls = [p for m in result.all_messages() for p in m.parts if p.part_kind == "tool-call"]
    assert [(c.tool_name, c.args_as_dict()) for c in calls] == [("get_weather", {"city": "Bern"})]


@APIS
async def test_streamed_text(live: Bridge, api: str) -> None:
    async with weather_agent(live, api).run_stream("<<words:3>>") as run:
        deltas = [d async for d in run.stream_text(delta=True)]
    assert "".join(deltas) == "w1 w2 w3"


@APIS
async def test_structured_output_type(live: Bridge, api: str) -> None:
    # pydantic-ai's default structured output is its own output tool, `final_result`.
    value = {"name": "Bern", "population": 134000}
    result = await Agent(model(live, api), output_type=City).run(f"<<tool:mcp__c__final_result:{json.dumps(value)}>>")
    assert result.output == City(**value)


@APIS
async def test_native_structured_output(live: Bridge, api: str) -> None:
    value = {"name": "Lima", "population": 9000000}
    result = await Agent(model(live, api), output_type=NativeOutput(City)).run(
        f"<<tool:StructuredOutput:{json.dumps(value)}>>"
    )
    assert result.output == City(**value)


@APIS
async def test_message_history(live: Bridge, api: str) -> None:
    agent = weather_agent(live, api)
    first = await agent.run('<<tool:mcp__c__get_weather:{"city":"Quito"}>>')
    second = await agent.run("<<has:windy in Quito>>", message_history=first.all_messages())
    assert second.output == "yes"


@APIS
async def test_tool_and_native_structured_output(live: Bridge, api: str) -> None:
    agent = Agent(model(live, api), output_type=NativeOutput(City))

    @agent.tool_plain
    def census(city: str) -> int:
        """The population of a city."""
        return 134000

    ask = '<<tool:mcp__c__census:{"city":"Bern"}>> <<thentool:StructuredOutput:{"name":"Bern","population":134000}>>'
    result = await agent.run(ask)
    assert result.output == City(name="Bern", population=134000)
