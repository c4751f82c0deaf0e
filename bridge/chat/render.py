"""A chat completions turn rendered: the completion body, or its chunks and `[DONE]`."""

from __future__ import annotations

import json
from typing import Any

import attrs
from aiohttp import web

from bridge.chat.build import ChunkBuilder, CompletionBuilder
from bridge.chat.session_turn import IDEMPOTENCY_HEADER, SessionTurn, answer_stored
from bridge.errors import ApiError
from bridge.json_boundary import chunk_json, to_json
from bridge.schemas import ChatCompletionRequest
from bridge.translate.choice import Output
from bridge.turns.drive import Sse
from bridge.turns.headers import turn_headers


def _data(value: object) -> Sse:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")), None


@attrs.define
class ChatFrontEnd:
    """bridge.turns.drive.FrontEnd for /v1/chat/completions."""

    request: web.Request
    chat: ChatCompletionRequest
    session: SessionTurn | None
    json_param: str = "response_format"
    record: CompletionBuilder = attrs.field(init=False)
    chunks: ChunkBuilder = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        chat = self.chat
        self.record = CompletionBuilder(model=chat.model, n=chat.n, legacy_functions=chat.legacy_functions)
        self.chunks = ChunkBuilder(
            model=chat.model, include_usage=self._include_usage, legacy_functions=chat.legacy_functions
        )

    @property
    def _include_usage(self) -> bool:
        return bool(self.chat.stream_options and self.chat.stream_options.include_usage)

    def headers(self, estimated: bool = False) -> dict[str, str]:
        extra = self.session.headers() if self.session is not None else None
        return turn_headers(self.request, self.chat, estimated=estimated, extra=extra)

    def answered(self) -> bool:
        return True  # the choice's own record says whether it finished

    def feed(self, index: int, outputs: list[Output]) -> list[Sse]:
        self.record.feed(index, outputs)
        if not self.chat.stream:
            return []
        return [_data(chunk_json(c, include_usage=self._include_usage)) for c in self.chunks.feed(index, outputs)]

    def opening(self) -> list[Sse]:
        return [
            _data(chunk_json(self.chunks.opening(i), include_usage=self._include_usage)) for i in range(self.chat.n)
        ]

    async def body(self) -> web.StreamResponse:
        completion = self._completion()
        if self.session is not None and not await self.session.save(self.request, completion):
            return await answer_stored(self.request, self.chat, self.session)
        return web.json_response(completion, headers=self.headers(estimated=self.record.estimated))

    async def close(self) -> list[Sse]:
        completion = self._completion()
        if self.session is not None and not await self.session.save(self.request, completion):
            # An earlier attempt with this Idempotency-Key stored a different answer first:
            # that one is the conversation now, so this stream must not end as a success.
            raise ApiError(
                "An earlier attempt with the same Idempotency-Key stored this turn first; "
                "retry to receive the stored answer.",
                status=409,
                param=IDEMPOTENCY_HEADER,
                code="idempotency_key_in_use",
            )
        usage = self.chunks.usage_chunk()
        closing = [_data(chunk_json(usage, include_usage=True))] if usage is not None else []
        return [*closing, ("[DONE]", None)]

    def failed(self, err: ApiError) -> list[Sse]:
        return [_data(err.body())]

    def _completion(self) -> dict[str, Any]:
        completion: dict[str, Any] = to_json(self.record.build())
        return completion
