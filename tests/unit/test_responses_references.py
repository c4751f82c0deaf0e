"""item_reference resolution (bridge/responses/references.py) and the ids it relies on."""

from __future__ import annotations

import pytest

from bridge.errors import InvalidRequest, NotFound
from bridge.responses.references import items_of, references, response_of, substitute
from bridge.responses.request import item_id, parse_responses_request, response_id
from bridge.schemas import ChatMessageIn, TextPart


def test_an_items_id_leads_to_its_response() -> None:
    for response in (response_id(None), response_id("0123456789abcdef")):
        for prefix in ("msg", "fc", "fco"):
            assert response_of(item_id(prefix, response)) == response
        assert item_id("msg", response) != item_id("msg", response)


@pytest.mark.parametrize(
    "foreign", ["msg_abc", "msg_" + "0" * 48, "msg_" + "0" * 40 + "beef", "fc_" + "g" * 56, "rs_", "plain"]
)
def test_foreign_ids_lead_nowhere(foreign: str) -> None:
    assert response_of(foreign) is None


def test_input_items_get_ids_of_their_response() -> None:
    response = response_id(None)
    body = {
        "model": "gpt-4o",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    }
    req = parse_responses_request(body, [], response)
    assert [response_of(item["id"]) for item in req.input_items] == [response] * 3


def test_references_are_replaced_by_the_stored_items() -> None:
    response = response_id(None)
    answer = {
        "type": "message",
        "id": item_id("msg", response),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Cute.", "annotations": [], "logprobs": []}],
    }
    question = {"type": "message", "id": item_id("msg", response), "role": "user", "content": "Q"}
    record = {"input_items": [question], "response": {"output": [answer]}}
    raw = [
        {"type": "item_reference", "id": question["id"]},
        {"type": "item_reference", "id": answer["id"]},
        {"role": "user", "content": "next"},
    ]
    assert references(raw) == {question["id"]: response, answer["id"]: response}
    resolved = substitute(raw, items_of(record))
    assert resolved == [question, answer, raw[2]]
    req = parse_responses_request({"model": "gpt-4o", "input": resolved}, [], response_id(None))
    assert req.new_messages == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": [{"type": "text", "text": "Cute."}]},
        {"role": "user", "content": "next"},
    ]
    assert req.chat.messages == (
        ChatMessageIn("user", "Q"),
        ChatMessageIn("assistant", (TextPart("Cute."),)),
        ChatMessageIn("user", "next"),
    )


def test_an_unknown_reference_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        substitute([{"type": "item_reference", "id": "msg_nope"}], {})
    assert caught.value.param == "input" and "msg_nope" in caught.value.message


def test_a_reference_needs_a_string_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        references([{"role": "user", "content": "x"}, {"type": "item_reference", "id": 7}])
    assert caught.value.param == "input[1].id"


def test_no_references_in_a_string_input() -> None:
    assert references("hello") == {}
