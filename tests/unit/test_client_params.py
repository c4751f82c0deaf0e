"""Parameters real clients send that OpenAI accepts: applied, reported as not applied, or refused.

Found by running the clients of tests/clients: the Agents SDK sends `prompt_cache_retention`
when its ModelSettings set it; openai-python's generated tests send `prompt_cache_options` and
`moderation`. None of them may be an "unrecognized argument".
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.responses.request import parse_responses_request, response_id
from bridge.validation import parse_chat_request

USER = [{"role": "user", "content": "hi"}]


def chat(**extra: Any) -> Any:
    return parse_chat_request({"model": "gpt-4o", "messages": USER, **extra})


def responses(**extra: Any) -> Any:
    return parse_responses_request({"model": "gpt-4o", "input": "hi", **extra}, [], response_id(None))


def test_prompt_cache_settings_are_accepted_and_reported_as_not_applied() -> None:
    req = chat(prompt_cache_retention="24h", prompt_cache_options={"mode": "implicit", "ttl": "30m"})
    assert req.unapplied == ("prompt_cache_retention", "prompt_cache_options")
    with pytest.raises(InvalidRequest) as info:
        chat(prompt_cache_options="30m")
    assert info.value.param == "prompt_cache_options" and info.value.code == "invalid_type"


def test_moderation_is_refused_unless_null() -> None:
    assert chat(moderation=None).unapplied == ()
    with pytest.raises(InvalidRequest) as info:
        chat(moderation={"model": "omni-moderation-latest"})
    assert info.value.param == "moderation" and info.value.code == "unsupported_parameter"


def test_responses_check_every_accepted_parameter_by_the_chat_rules() -> None:
    """Nothing is dropped silently: each is applied, reported or refused as chat completions does."""
    sent = {
        "service_tier": "auto",
        "safety_identifier": "u1",
        "prompt_cache_key": "k",
        "prompt_cache_retention": "in_memory",
        "prompt_cache_options": {"ttl": "30m"},
        "text": {"format": {"type": "text"}, "verbosity": "low"},
    }
    req = responses(**sent).chat
    assert set(req.unapplied) == {*sent} - {"text"} | {"verbosity"}
    with pytest.raises(InvalidRequest) as info:
        responses(moderation={"model": "m"})
    assert info.value.param == "moderation"


@pytest.mark.parametrize("param", ["conversation", "prompt", "context_management"])
def test_openai_side_state_is_refused_by_name(param: str) -> None:
    value = {"conversation": "conv_1", "prompt": {"id": "pmpt_1"}, "context_management": [{"type": "compaction"}]}
    with pytest.raises(InvalidRequest) as info:
        responses(**{param: value[param]})
    assert info.value.param == param and info.value.code == "unsupported_parameter"


def test_max_tool_calls_has_no_built_in_tool_to_limit() -> None:
    assert responses(max_tool_calls=3).chat.unapplied == ()
    with pytest.raises(InvalidRequest) as info:
        responses(max_tool_calls=-1)
    assert info.value.param == "max_tool_calls"
