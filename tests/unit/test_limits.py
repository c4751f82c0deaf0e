"""The per-request caps (MAX_MESSAGES, MAX_REPLAY_BYTES) and the id patterns, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config import DEFAULT_MODEL_MAP, Config, ConfigError
from bridge.errors import InvalidRequest
from bridge.modelmap import ModelMap, UnknownModel
from bridge.responses.request import parse_responses_request, response_id
from bridge.storage.base import SAFE_ID
from bridge.validation import parse_chat_request
from bridge.validation.limits import Limits

IMAGE = "data:image/png;base64," + "iVBORw0KGgo" + "A" * 89  # a PNG signature, 100 base64 characters


def _body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": messages}


def test_replayed_bytes_count_text_images_and_tool_calls_but_not_the_new_turn() -> None:
    messages = [
        {"role": "system", "content": "s" * 1000},  # the system prompt is not replayed
        {"role": "user", "content": [{"type": "text", "text": "é" * 10}, {"type": "image_url", "image_url": IMAGE}]},
        {
            "role": "assistant",
            "content": "ok",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "r" * 1000},  # the new turn
    ]
    replayed = 20 + 100 + 2 + len("f") + len('{"a": 1}')
    assert parse_chat_request(_body(messages), Limits(max_replay_bytes=replayed))
    with pytest.raises(InvalidRequest) as raised:
        parse_chat_request(_body(messages), Limits(max_replay_bytes=replayed - 1))
    assert raised.value.code == "replay_too_large" and raised.value.param == "messages"


def test_the_message_count_is_checked_before_any_message_is_parsed() -> None:
    messages: list[Any] = ["not even a message"] * 3
    with pytest.raises(InvalidRequest) as raised:
        parse_chat_request(_body(messages), Limits(max_messages=2))
    assert raised.value.code == "array_above_max_length"
    # The Responses API names its own conversation, counted with the stored one it continues.
    with pytest.raises(InvalidRequest) as raised:
        parse_responses_request({"model": "m", "input": messages[:2]}, [{}], response_id(None), limits=Limits(2))
    assert raised.value.param == "input" and raised.value.code == "array_above_max_length"


def test_sessions_must_fit_under_the_message_cap() -> None:
    with pytest.raises(ConfigError, match="MAX_HISTORY_MESSAGES"):
        Config.from_env({"MAX_MESSAGES": "100", "MAX_HISTORY_MESSAGES": "100"})
    assert Config.from_env({"MAX_MESSAGES": "100", "ENABLE_HISTORY": "false"}).limits == Limits(100)


@pytest.mark.parametrize("bad", ["abc\n", "abc\r\n", "a\nb", "", "a" * 129, "ä", "a b"])
def test_ids_are_matched_whole(bad: str) -> None:
    assert SAFE_ID.fullmatch(bad) is None


@pytest.mark.parametrize("bad", ["gpt-4o\n", " gpt-4o", "gpt-4o ", "claude-x\x00", "sonnet\t", "", "gpt-4" + "o" * 300])
def test_model_names_with_control_characters_or_spaces_are_unknown(bad: str) -> None:
    with pytest.raises(UnknownModel):
        ModelMap.load(DEFAULT_MODEL_MAP).resolve(bad)
