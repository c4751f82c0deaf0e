"""The headers every API answers a turn with."""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.schemas import ChatCompletionRequest

UNAPPLIED_HEADER = "X-Bridge-Unapplied-Params"
ESTIMATED_HEADER = "X-Bridge-Usage-Estimated"


def turn_headers(
    request: web.Request,
    chat: ChatCompletionRequest,
    *,
    estimated: bool = False,
    output_field: str = "completion_tokens",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """`output_field` names the output token count as the API does (the Messages API: output_tokens);
    `extra`: the front end's own (a chat session's)."""
    headers = {"X-Request-ID": request.get(appkeys.REQUEST_ID, ""), **(extra or {})}
    if chat.unapplied:
        headers[UNAPPLIED_HEADER] = ",".join(chat.unapplied)
    if estimated:
        headers[ESTIMATED_HEADER] = output_field
    elif chat.stream and chat.stop:
        # Headers leave before the answer: say when the figure would be an estimate.
        headers[ESTIMATED_HEADER] = f"{output_field}; when=stop-sequence"
    return headers
