"""The OpenAI Agents SDK (`openai-agents`): agents run to completion through the bridge.

Configured as its users do for another OpenAI-compatible server: an `AsyncOpenAI` client with
the bridge's base URL, given to the SDK's Responses or chat-completions model; tracing off
(it would upload traces to OpenAI).
"""

from __future__ import annotations

import pytest
from agents import (
    Agent,
    Model,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from agents.items import MessageOutputItem, ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI
from pydantic import BaseModel

from tests.clients.conftest import base_url
from tests.conftest import Bridge

pytestmark = pytest.mark.asyncio(loop_scope="module")
APIS = pytest.mark.parametrize("api", ["responses", "chat_completions"])
RUN = RunConfig(tracing_disabled=True)


def model(bridge: Bridge, api: str) -> Model:
    client = AsyncOpenAI(base_url=base_url(bridge), api_key="sk-test", max_retries=0)
    if api == "responses":
        return OpenAIResponsesModel("gpt-4o", client)
    return OpenAIChatCompletionsModel("gpt-4o", client)


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"rainy in {city}"


class Forecast(BaseModel):
    city: str
    celsius: int


@APIS
async def test_agent_with_a_function_tool_runs_to_completion(live: Bridge, api: str) -> None:
    agent = Agent(
        name="forecaster",
        instructions=f"You answer weather questions ({api}).",
        tools=[get_weather],
        model=model(live, api),
    )
    result = await Runner.run(agent, '<<tool:mcp__c__get_weather:{"city":"Rome"}>>', run_config=RUN)
    assert result.final_output == "after-tool: rainy in Rome"
    kinds = [type(item) for item in result.new_items]
    assert kinds == [ToolCallItem, ToolCallOutputItem, MessageOutputItem]
    assert f"You answer weather questions ({api})." in live.fake.messages_requests()[-1].system_text()


@APIS
async def test_streamed_run(live: Bridge, api: str) -> None:
    agent = Agent(name="forecaster", instructions="Be brief.", tools=[get_weather], model=model(live, api))
    run = Runner.run_streamed(agent, '<<tool:mcp__c__get_weather:{"city":"Oslo"}>>', run_config=RUN)
    deltas = [
        event.data.delta
        async for event in run.stream_events()
        if event.type == "raw_response_event" and getattr(event.data, "type", "") == "response.output_text.delta"
    ]
    assert run.final_output == "after-tool: rainy in Oslo"
    assert "".join(deltas) == "after-tool: rainy in Oslo"


@APIS
async def test_conversation_continued_from_the_run_items(live: Bridge, api: str) -> None:
    agent = Agent(name="forecaster", instructions="Be brief.", tools=[get_weather], model=model(live, api))
    first = await Runner.run(agent, '<<tool:mcp__c__get_weather:{"city":"Lima"}>>', run_config=RUN)
    follow_up = [*first.to_input_list(), {"role": "user", "content": "<<has:rainy in Lima>>"}]
    second = await Runner.run(agent, follow_up, run_config=RUN)
    assert second.final_output == "yes"


@APIS
async def test_structured_output_type(live: Bridge, api: str) -> None:
    agent = Agent(name="forecaster", instructions="Be brief.", output_type=Forecast, model=model(live, api))
    result = await Runner.run(agent, '<<tool:StructuredOutput:{"city":"Bern","celsius":4}>>', run_config=RUN)
    assert result.final_output == Forecast(city="Bern", celsius=4)


async def test_previous_response_id(live: Bridge) -> None:
    agent = Agent(name="forecaster", instructions="Be brief.", tools=[get_weather], model=model(live, "responses"))
    first = await Runner.run(agent, '<<tool:mcp__c__get_weather:{"city":"Kyiv"}>>', run_config=RUN)
    second = await Runner.run(
        agent, "<<has:rainy in Kyiv>>", previous_response_id=first.last_response_id, run_config=RUN
    )
    assert second.final_output == "yes"


@APIS
async def test_tools_and_output_type(live: Bridge, api: str) -> None:
    """Tools and a structured final answer: both `tools` and a JSON schema format in each request."""
    agent = Agent(
        name="forecaster", instructions="Be brief.", tools=[get_weather], output_type=Forecast, model=model(live, api)
    )
    ask = '<<tool:mcp__c__get_weather:{"city":"Rome"}>> <<thentool:StructuredOutput:{"city":"Rome","celsius":12}>>'
    result = await Runner.run(agent, ask, run_config=RUN)
    assert result.final_output == Forecast(city="Rome", celsius=12)
    assert [type(item) for item in result.new_items][:2] == [ToolCallItem, ToolCallOutputItem]


@APIS
async def test_model_settings(live: Bridge, api: str) -> None:
    """Every setting goes out as a request parameter; none may be refused as unknown."""
    settings = ModelSettings(
        temperature=0.3,
        top_p=0.9,
        max_tokens=500,
        parallel_tool_calls=True,
        truncation="auto",
        store=True,
        metadata={"team": "weather"},
        prompt_cache_retention="24h",
        verbosity="low",
    )
    agent = Agent(
        name="forecaster",
        instructions="Be brief.",
        tools=[get_weather],
        model=model(live, api),
        model_settings=settings,
    )
    result = await Runner.run(agent, "<<say:Settings accepted.>>", run_config=RUN)
    assert result.final_output == "Settings accepted."
