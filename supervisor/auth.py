"""Whether the CLI can authenticate upstream, read from its `initialize` response. Pure.

Measured on claude 2.1.331 (see docs/cli-findings.md), the response's `account` is:

    nothing set                      {"tokenSource": "none", "apiProvider": "firstParty"}
    ANTHROPIC_API_KEY                {"tokenSource": "none", "apiKeySource": "ANTHROPIC_API_KEY", ...}
    CLAUDE_CODE_OAUTH_TOKEN          {"tokenSource": "CLAUDE_CODE_OAUTH_TOKEN", ...}
    ANTHROPIC_AUTH_TOKEN             {"tokenSource": "ANTHROPIC_AUTH_TOKEN", ...}
    ~/.claude/.credentials.json      {"subscriptionType": "Claude Pro", "apiProvider": "firstParty"}
    CLAUDE_CODE_USE_BEDROCK=1        {"apiProvider": "bedrock"}

With nothing set, a turn ends at once, without an upstream call, in a `result` with
`is_error: true`, `api_error_status: null` and the text "Not logged in · Please run /login".
Only that first case is "none"; a shape this module does not know is "unknown", never "none",
so a future CLI that reports differently is not refused by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class CliAuth:
    kind: str  # api_key | token | login | provider | none | unknown
    source: str | None = None  # which variable, login or provider (never a secret)

    @property
    def missing(self) -> bool:
        return self.kind == "none"


def classify(account: Mapping[str, Any] | None) -> CliAuth:
    if not isinstance(account, Mapping):
        return CliAuth("unknown")
    provider = account.get("apiProvider")
    if isinstance(provider, str) and provider != "firstParty":
        return CliAuth("provider", provider)  # Bedrock, Vertex, ...: the cloud's own credentials
    if isinstance(account.get("apiKeySource"), str) and account["apiKeySource"] != "none":
        return CliAuth("api_key", account["apiKeySource"])
    token = account.get("tokenSource")
    if isinstance(token, str) and token != "none":
        return CliAuth("login" if token == "claude.ai" else "token", token)
    if account.get("subscriptionType"):
        return CliAuth("login", "claude.ai")
    if token == "none" and provider == "firstParty":
        return CliAuth("none")
    return CliAuth("unknown")


def not_logged_in(text: str) -> bool:
    """The CLI's own words when it has no credentials ("Not logged in · Please run /login")."""
    return text.strip().lower().startswith("not logged in")
