"""Bad input always gets an OpenAI-format 4xx error naming the problem, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Bridge
from tests.openai_errors import assert_openai_error

GOOD = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt-4o"}, "messages", "missing_required_parameter"),
        ({"model": "gpt-4o", "messages": []}, "messages", "empty_array"),
        ({"model": "gpt-4o", "messages": "hi"}, "messages", "invalid_type"),
        ({"model": "gpt-4o", "messages": {"role": "user"}}, "messages", "invalid_type"),
        ({"messages": GOOD}, "model", "missing_required_parameter"),
        ({"model": 4, "messages": GOOD}, "model", "invalid_type"),
        ({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"model": "gpt-4o", "messages": [{"content": "x"}]}, "messages[0].role", "missing_required_parameter"),
        ({"model": "gpt-4o", "messages": ["hi"]}, "messages[0]", "invalid_type"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": 42}]}, "messages[0].content", "invalid_type"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": None}]}, "messages[0].content", "invalid_type"),
        ({"model": "gpt-4o", "messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]},
            "messages[0].content[0].type",
            "invalid_value",
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages[0].content[0].text",
            "invalid_type",
        ),
        ({"model": "gpt-4o", "messages": GOOD, "n": 0}, "n", "integer_below_min_value"),
        ({"model": "gpt-4o", "messages": GOOD, "n": "2"}, "n", "invalid_type"),
        ({"model": "gpt-4o", "messages": GOOD, "stream": "yes"}, "stream", "invalid_type"),
        ({"model": "gpt-4o", "messages": GOOD, "stream_options": {"include_usage": True}}, "stream_options", None),
        ({"model": "gpt-4o", "messages": GOOD, "temperature": 3}, "temperature", "invalid_value"),
        ({"model": "gpt-4o", "messages": GOOD, "temperature": "hot"}, "temperature", "invalid_type"),
        ({"model": "gpt-4o", "messages": GOOD, "frobnicate": 1}, "frobnicate", "unknown_parameter"),
        (
            {"model": "gpt-4o", "messages": [*GOOD, {"role": "assistant", "content": None, "audio": {"id": "a_1"}}]},
            "messages[1].audio",
            "unsupported_parameter",
        ),
    ],
)
async def test_bad_bodies(bridge: Bridge, body: dict[str, Any], param: str, code: str | None) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json=body)
    assert_openai_error(resp, 400, param=param, code=code)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
    ],
)
async def test_what_claude_cannot_do_is_refused_by_name(bridge: Bridge, extra: dict[str, Any], param: str) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": GOOD, **extra})
    assert_openai_error(resp, 400, param=param, code="unsupported_parameter")
    assert not bridge.fake.messages_requests(), "nothing went upstream"


async def test_image_urls_are_refused_not_fetched(bridge: Bridge) -> None:
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
        )
    assert_openai_error(resp, 400, param="messages[0].content[1].image_url.url", code="image_url_not_supported")


async def test_tool_message_answering_no_call(bridge: Bridge) -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_nope", "content": "42"}]
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages})
    assert_openai_error(resp, 400, param="messages[1].tool_call_id", code="invalid_value")


async def test_invalid_json(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            content=b'{"model": "gpt-4o", "messages": [',
            headers={"content-type": "application/json"},
        )
    assert_openai_error(resp, 400, code="invalid_json")


async def test_body_that_is_not_an_object(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json=[1, 2])
    assert_openai_error(resp, 400)


async def test_unknown_model_is_404_model_not_found(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"model": "llama-3-70b", "messages": GOOD})
    assert_openai_error(resp, 404, param="model", code="model_not_found")
    assert "llama-3-70b" in resp.json()["error"]["message"]
    assert not bridge.fake.messages_requests()


async def test_body_over_the_size_limit(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(MAX_REQUEST_BYTES="4096", POOL_SIZE="1")
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 10_000}]}
        )
    assert_openai_error(resp, 413, code="request_too_large")


async def test_unknown_route_and_wrong_method(bridge: Bridge) -> None:
    async with bridge.http() as http:
        missing = await http.get("/v1/nothing-here")
        wrong = await http.get("/v1/chat/completions")
    assert_openai_error(missing, 404)
    assert_openai_error(wrong, 405)


async def test_unapplied_sampling_params_are_accepted_and_reported(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "<<say:k>>"}],
                "temperature": 0.2,
                "top_p": 0.9,
                "user": "u-1",
                "metadata": {"a": "b"},
            },
        )
    assert resp.status_code == 200
    assert resp.headers["x-bridge-unapplied-params"] == "temperature,top_p"
