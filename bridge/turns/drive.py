"""Answers a started turn, streamed or not, the same way for every API.

Each front end renders (`FrontEnd`); this module owns what they share: waiting for the first
output before the 200 (a turn that fails before producing anything, queue full or bad
credentials, still gets a real HTTP error status), the SSE loop, counting the usage once,
mapping what ended a turn to an error, the error event of a stream that already began, a
client that went away, and telling the held conversation how the turn ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Protocol

import structlog
from aiohttp import web

from bridge import appkeys
from bridge.errors import ApiError, to_api_error
from bridge.http.sse import open_stream
from bridge.storage.base import StoreError
from bridge.translate.choice import Finished, ForcedCallError, Output, StructuredOutputError
from bridge.translate.usage import TurnUsage, sum_usage
from bridge.turns.service import Turn
from supervisor.errors import SupervisorError

log = structlog.get_logger(__name__)
Sse = tuple[str, str | None]  # (data, event name): what a front end sends as one server-sent event


class FrontEnd(Protocol):
    """How one API renders a turn's outputs: bodies, stream events and its error shape."""

    json_param: str  # the API's structured-output field, named in its errors

    def feed(self, index: int, outputs: list[Output]) -> list[Sse]:
        """Takes a choice's outputs; streamed, the events they become."""

    def opening(self) -> list[Sse]:
        """The events that open a stream, before any output."""

    async def close(self) -> list[Sse]:
        """After the last output (usage counted): stores what the API stores; the closing events."""

    async def body(self) -> web.StreamResponse:
        """Not streamed, after the last output (usage counted): the answer."""

    def failed(self, err: ApiError) -> list[Sse]:
        """The events that end a stream that failed after it began."""

    def headers(self) -> dict[str, str]:
        """The headers of a stream (taken once the first output is there)."""

    def answered(self) -> bool:
        """The client was handed the finished answer (so its process may keep the conversation)."""


def failure(exc: Exception, json_param: str = "response_format") -> ApiError:
    """The OpenAI error for what ended a turn; `json_param` names the API's structured-output field."""
    if isinstance(exc, ForcedCallError):
        return ApiError(str(exc), status=502, type="api_error", param="tool_choice", code="tool_choice_not_followed")
    if isinstance(exc, StructuredOutputError):
        return ApiError(str(exc), status=502, type="api_error", param=json_param, code="invalid_structured_output")
    return to_api_error(exc)


def count_usage(request: web.Request, usages: list[TurnUsage]) -> None:
    """The turn's usage (n choices are n upstream turns: they add up) in the metrics and the log."""
    usage = sum_usage(usages)
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    request.app[appkeys.METRICS].count_tokens(prompt, completion)
    structlog.contextvars.bind_contextvars(prompt_tokens=prompt, completion_tokens=completion)


class _Usages:
    """The usage of each finished choice, as the outputs pass."""

    def __init__(self) -> None:
        self.seen: list[TurnUsage] = []

    def see(self, outputs: list[Output]) -> list[Output]:
        self.seen += [out.usage for out in outputs if isinstance(out, Finished)]
        return outputs


async def answer(request: web.Request, turn: Turn, front: FrontEnd, *, stream: bool) -> web.StreamResponse:
    """Drives the turn to its end and answers with what `front` renders."""
    structlog.contextvars.bind_contextvars(stream=stream)  # the API's own flag, for the request log
    async with contextlib.aclosing(turn.outputs):
        try:
            if stream:
                return await _stream(request, turn.outputs, front)
            return await _collect(request, turn.outputs, front)
        except StructuredOutputError as exc:  # streamed: when it ends the turn before any output
            raise failure(exc, front.json_param) from None
        finally:
            # The process keeps the conversation for the client's next turn, or is rewound.
            turn.held.finish(front.answered())


async def _collect(
    request: web.Request, outputs: AsyncGenerator[tuple[int, list[Output]], None], front: FrontEnd
) -> web.StreamResponse:
    usages = _Usages()
    async for index, items in outputs:
        request.app[appkeys.METRICS].first_output(request)
        front.feed(index, usages.see(items))
    if usages.seen:
        count_usage(request, usages.seen)
    return await front.body()


async def _stream(
    request: web.Request, outputs: AsyncGenerator[tuple[int, list[Output]], None], front: FrontEnd
) -> web.StreamResponse:
    first = await anext(outputs, None)
    request.app[appkeys.METRICS].first_output(request)
    usages = _Usages()
    async with open_stream(request, front.headers()) as sse:

        async def send(events: list[Sse]) -> None:
            for data, event in events:
                await sse.send(data, event=event)

        try:
            await send(front.opening())
            if first is not None:
                await send(front.feed(first[0], usages.see(first[1])))
            async for index, items in outputs:
                await send(front.feed(index, usages.see(items)))
            if usages.seen:
                count_usage(request, usages.seen)
            await send(await front.close())
        except (ApiError, SupervisorError, StructuredOutputError, StoreError) as exc:
            err = failure(exc, front.json_param)
            log.info("stream_failed", status=err.status, code=err.code, error=err.message[:300])
            with contextlib.suppress(ConnectionResetError):
                await send(front.failed(err))
        except ConnectionResetError:
            log.info("client_disconnected")
    return sse
