"""A Messages API turn rendered: the Message body, or its named events; errors in Anthropic's shape."""

from __future__ import annotations

import json

import attrs
from aiohttp import web

from bridge import appkeys
from bridge.errors import ApiError, anthropic_error
from bridge.messages.build import MessageBuilder
from bridge.schemas import ChatCompletionRequest
from bridge.translate.choice import Output
from bridge.turns.drive import Sse
from bridge.turns.headers import turn_headers

FORMAT_PARAM = "output_config.format"


def messages_headers(request: web.Request, chat: ChatCompletionRequest, estimated: bool = False) -> dict[str, str]:
    headers = turn_headers(request, chat, estimated=estimated, output_field="output_tokens")
    headers["request-id"] = headers["X-Request-ID"]  # where Anthropic's clients look for it
    return headers


@attrs.define
class MessagesFrontEnd:
    """bridge.turns.drive.FrontEnd for POST /v1/messages."""

    request: web.Request
    chat: ChatCompletionRequest
    json_param: str = FORMAT_PARAM
    builder: MessageBuilder = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.builder = MessageBuilder(model=self.chat.model)

    def headers(self) -> dict[str, str]:
        return messages_headers(self.request, self.chat)

    def answered(self) -> bool:
        return True  # the choice's own record says whether it finished

    def feed(self, index: int, outputs: list[Output]) -> list[Sse]:
        events = self.builder.feed(outputs)
        return [(json.dumps(data, ensure_ascii=False, separators=(",", ":")), name) for name, data in events]

    def opening(self) -> list[Sse]:
        return []

    async def body(self) -> web.StreamResponse:
        headers = messages_headers(self.request, self.chat, self.builder.estimated)
        return web.json_response(self.builder.snapshot(), headers=headers)

    async def close(self) -> list[Sse]:
        return []

    def failed(self, err: ApiError) -> list[Sse]:
        _, body = anthropic_error(err, self.request.get(appkeys.REQUEST_ID))
        return [(json.dumps(body, ensure_ascii=False), "error")]
