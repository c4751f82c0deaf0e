"""Who may read, delete and continue a stored record (bridge.ownership)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from bridge import appkeys
from bridge.access import CLIENT
from bridge.ownership import OWNER, Caller, Use, may, stamp
from bridge.turns.service import namespace

A = Caller("key_aaaaaaaaaa")
B = Caller("key_bbbbbbbbbb")
ADMIN = Caller("key_cccccccccc", admin=True)
NO_KEYS = Caller(None)


@pytest.mark.parametrize("use", list(Use))
def test_a_key_uses_its_own_records_only(use: Use) -> None:
    record = stamp({"id": "x"}, A)
    assert record[OWNER] == A.owner
    assert may(A, record, use)
    assert not may(B, record, use)


def test_an_admin_reads_and_deletes_everything_but_continues_only_its_own() -> None:
    for record in (stamp({"id": "x"}, A), {"id": "before-owners"}):
        assert may(ADMIN, record, Use.READ) and may(ADMIN, record, Use.DELETE)
        assert not may(ADMIN, record, Use.CONTINUE)
    assert may(ADMIN, stamp({"id": "y"}, ADMIN), Use.CONTINUE)


def test_records_stored_before_owners_are_for_admins_only() -> None:
    for use in Use:
        assert not may(A, {"id": "old"}, use)


def test_without_api_keys_nothing_changes() -> None:
    assert stamp({"id": "x"}, NO_KEYS) == {"id": "x"}
    for use in Use:
        assert may(NO_KEYS, {"id": "x"}, use) and may(NO_KEYS, stamp({"id": "y"}, A), use)


def test_a_held_session_is_named_with_its_key() -> None:
    """A process holding key A's session `s` never resumes it for key B naming `s` too."""
    names = set()
    for key in ("key_aaaaaaaaaa", "key_bbbbbbbbbb"):
        request = make_mocked_request("POST", "/v1/chat/completions")
        request[appkeys.ACCOUNT] = key
        request[CLIENT] = key
        names |= {namespace(request, "s"), namespace(request, None)}
    assert len(names) == 4
