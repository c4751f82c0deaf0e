"""A Responses API turn rendered: the response body or its typed events, and the stored response."""

from __future__ import annotations

import json
import time
from typing import Any

import attrs
from aiohttp import web

from bridge import appkeys
from bridge.errors import ApiError
from bridge.http.caller import caller_of
from bridge.ownership import stamp
from bridge.responses.build import ResponseBuilder
from bridge.responses.request import ResponsesRequest
from bridge.responses.stored import KIND
from bridge.schemas import ChatCompletionRequest
from bridge.translate.choice import Output
from bridge.turns.drive import Sse
from bridge.turns.headers import turn_headers


def _events(events: list[dict[str, Any]]) -> list[Sse]:
    return [(json.dumps(event, ensure_ascii=False, separators=(",", ":")), event["type"]) for event in events]


@attrs.define
class ResponsesFrontEnd:
    """bridge.turns.drive.FrontEnd for POST /v1/responses."""

    request: web.Request
    req: ResponsesRequest
    chat: ChatCompletionRequest
    builder: ResponseBuilder
    previous: list[dict[str, Any]]
    json_param: str = "text.format"

    def headers(self) -> dict[str, str]:
        return turn_headers(self.request, self.chat)

    def answered(self) -> bool:
        # The process keeps the conversation for a continuation (previous_response_id or the
        # full history resent) only of a completed response.
        return self.builder.status == "completed"

    def feed(self, index: int, outputs: list[Output]) -> list[Sse]:
        return _events(self.builder.feed(outputs))

    def opening(self) -> list[Sse]:
        return _events(self.builder.start())

    async def body(self) -> web.StreamResponse:
        await self._save()
        return web.json_response(self.builder.snapshot(), headers=self.headers())

    async def close(self) -> list[Sse]:
        await self._save()
        return []

    def failed(self, err: ApiError) -> list[Sse]:
        return _events([self.builder.failed(err.code or err.type, err.message)])

    async def _save(self) -> None:
        if not self.req.store:
            return
        builder, now = self.builder, time.time()
        record = {
            "id": builder.id,
            "created_at": builder.created_at,
            "created_ts": now,
            "updated_at": now,
            "response": builder.snapshot(),
            "input_items": self.req.input_items,
            # How this API's assistant message maps back: what a continuation replays.
            "conversation": [*self.previous, *self.req.new_messages, builder.assistant_message()],
        }
        await self.request.app[appkeys.STORE].put(KIND, builder.id, stamp(record, caller_of(self.request)))
