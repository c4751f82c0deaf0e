"""LiteLLM and LangChain, unmodified, read Claude's thinking from the bridge."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import

import langchain_deepseek
import langchain_openai
import litellm

from tests.conftest import Bridge

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic notes about litellm's types

THINK = "<<think:Compare both routes first.>>"
THOUGHT = "Compare both routes first."


async def test_litellm_reads_reasoning_content(bridge: Bridge) -> None:
    resp: Any = await litellm.acompletion(
        model="openai/o3",
        api_base=bridge.url + "/v1",
        api_key="sk-test",
        reasoning_effort="high",
        messages=[{"role": "user", "content": f"litellm {THINK} <<say:Route B.>>"}],
    )
    message = resp.choices[0].message
    assert message.content == "Route B."
    assert message.reasoning_content == THOUGHT
    assert resp.usage.completion_tokens_details.reasoning_tokens == 4


async def test_litellm_streams_reasoning_content(bridge: Bridge) -> None:
    stream: Any = await litellm.acompletion(
        model="openai/o3",
        api_base=bridge.url + "/v1",
        api_key="sk-test",
        reasoning_effort="medium",
        stream=True,
        messages=[{"role": "user", "content": f"litellm-stream {THINK} <<say:Route A.>>"}],
    )
    reasoning, content = "", ""
    async for chunk in stream:
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        content += delta.content or ""
    assert (reasoning, content) == (THOUGHT, "Route A.")


async def test_langchain_reads_reasoning_content(bridge: Bridge) -> None:
    """LangChain's class for `reasoning_content` servers (ChatOpenAI leaves the field out, by design)."""
    model = langchain_deepseek.ChatDeepSeek(
        model="o3", api_key="sk-test", api_base=bridge.url + "/v1", reasoning_effort="high", max_retries=0
    )
    message = await model.ainvoke(f"langchain {THINK} <<say:Route C.>>")
    assert message.content == "Route C."
    assert message.additional_kwargs["reasoning_content"] == THOUGHT
    streamed = ""
    async for chunk in model.astream(f"langchain-stream {THINK} <<say:Route D.>>"):
        streamed += chunk.additional_kwargs.get("reasoning_content", "")
    assert streamed == THOUGHT


async def test_langchain_reads_responses_reasoning_summaries(bridge: Bridge) -> None:
    model = langchain_openai.ChatOpenAI(
        model="o3",
        api_key="sk-test",
        base_url=bridge.url + "/v1",
        use_responses_api=True,
        reasoning={"effort": "medium", "summary": "auto"},
        max_retries=0,
    )
    message = await model.ainvoke(f"langchain-responses {THINK} <<say:Route E.>>")
    blocks = message.content if isinstance(message.content, list) else []
    reasoning = [b for b in blocks if isinstance(b, dict) and b.get("type") == "reasoning"]
    assert reasoning, message.content
    summaries = [s["text"] for b in reasoning for s in b.get("summary", [])]
    assert summaries == [THOUGHT]
    assert message.text == "Route E."
