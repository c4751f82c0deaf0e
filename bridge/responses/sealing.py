"""Encrypted reasoning (`include: ["reasoning.encrypted_content"]`): the signed thinking a turn's
tool calls were made after, sealed for the caller, and opened again when the items come back."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.responses.request import ResponsesRequest
from bridge.translate.thinking import KeptThinking, SignedThinking


def _owner(request: web.Request) -> str:
    """Whom sealed reasoning is bound to: the API key's fingerprint, or the address without keys."""
    return str(request.get(CLIENT, request.remote or ""))


async def sealed_reasoning(
    request: web.Request, req: ResponsesRequest
) -> tuple[dict[str, SignedThinking], list[KeptThinking]]:
    """(the signed thinking the input's reasoning items carry back, by call id; a list for what
    this turn keeps). A token that does not open for this caller is a 400, before any turn."""
    kept: dict[str, SignedThinking] = {}
    if req.sealed:
        sealer = await request.app[appkeys.SEAL].get(request.app[appkeys.STORE])
        owner = _owner(request)
        for sealed in req.sealed:
            for thinking in sealer.open(owner, sealed.token, sealed.param):
                kept.update(dict.fromkeys(thinking.call_ids, thinking.thinking))
    return kept, []


async def sealing(request: web.Request, made: list[KeptThinking]) -> Callable[[], str | None]:
    """Seals, once the turn is over, the thinking its tool calls were made after (None: none)."""
    sealer, owner = await request.app[appkeys.SEAL].get(request.app[appkeys.STORE]), _owner(request)

    def seal() -> str | None:
        return sealer.seal(owner, made) if made else None

    return seal
