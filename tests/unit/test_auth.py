"""How the CLI's `initialize` account and its "Not logged in" result are read (measured shapes)."""

from __future__ import annotations

import pytest

from bridge.errors import to_api_error
from supervisor.auth import CliAuth, classify
from supervisor.events import Result
from supervisor.framing import decode_line, to_event
from supervisor.runner import error_from_result

# The result line claude 2.1.331 printed with no credentials (empty HOME, no key), trimmed of
# counters; the turn ended after 0.1 s without any upstream call.
NOT_LOGGED_IN = (
    b'{"type":"result","subtype":"success","is_error":true,"api_error_status":null,'
    b'"terminal_reason":"api_error","stop_reason":"stop_sequence","duration_ms":101,"duration_api_ms":0,'
    b'"num_turns":1,"result":"Not logged in \xc2\xb7 Please run /login","session_id":"s","total_cost_usd":0,'
    b'"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}'
)


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"tokenSource": "none", "apiProvider": "firstParty"}, CliAuth("none")),
        (
            {"tokenSource": "none", "apiKeySource": "ANTHROPIC_API_KEY", "apiProvider": "firstParty"},
            CliAuth("api_key", "ANTHROPIC_API_KEY"),
        ),
        (
            {"tokenSource": "CLAUDE_CODE_OAUTH_TOKEN", "apiProvider": "firstParty"},
            CliAuth("token", "CLAUDE_CODE_OAUTH_TOKEN"),
        ),
        (
            {"tokenSource": "ANTHROPIC_AUTH_TOKEN", "apiProvider": "firstParty"},
            CliAuth("token", "ANTHROPIC_AUTH_TOKEN"),
        ),
        ({"subscriptionType": "Claude Pro", "apiProvider": "firstParty"}, CliAuth("login", "claude.ai")),
        (
            {"tokenSource": "claude.ai", "apiKeySource": "ANTHROPIC_API_KEY", "apiProvider": "firstParty"},
            CliAuth("api_key", "ANTHROPIC_API_KEY"),
        ),
        ({"apiProvider": "bedrock"}, CliAuth("provider", "bedrock")),
        (None, CliAuth("unknown")),
        ({"somethingNew": True}, CliAuth("unknown")),  # a future shape is never taken for "none"
    ],
)
def test_initialize_accounts_as_measured(account: dict[str, object] | None, expected: CliAuth) -> None:
    assert classify(account) == expected
    assert classify(account).missing is (expected.kind == "none")


def test_the_cli_not_logged_in_result_is_not_transient() -> None:
    event = to_event(decode_line(NOT_LOGGED_IN))
    assert isinstance(event, Result) and event.is_error
    failure = error_from_result(event)
    assert failure.not_authenticated and not failure.transient, "never retried"
    err = to_api_error(failure)
    assert (err.status, err.code) == (503, "upstream_not_authenticated")
    assert "ANTHROPIC_API_KEY" in err.message and "claude auth login" in err.message
    assert err.headers == {"x-should-retry": "false"}
