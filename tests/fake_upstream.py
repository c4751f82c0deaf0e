"""A scriptable fake of Anthropic's Messages API, owned by the tests.

The real Claude CLI is pointed at it with ANTHROPIC_BASE_URL. What it answers is decided by
directives written in the newest user message, so that concurrent requests each carry their own
script and no shared per-test queue is needed:

    <<say:TEXT>>          answer TEXT (one delta per word, spaces kept)
    <<chunks:JSON>>       answer with exactly these text deltas (a JSON list of strings)
    <<words:N>>           answer "w1 w2 ... wN"
    <<gap:MS>>            wait MS between deltas
    <<delay:MS>>          wait MS before the response starts
    <<error:STATUS>>      fail every attempt with an Anthropic error body
    <<flaky:STATUS:N>>    fail the first N attempts carrying this exact directive, then answer
    <<hang>>              accept the request and never answer (until the client goes away)
    <<hangfirst>>         hang on the first request carrying this exact text, answer later ones
    <<hangafter:N>>       stream N words, then never finish
    <<drop>>              send message_start, then drop the connection
    <<usage:I:O:CR:CW>>   report these input/output/cache-read/cache-write tokens
    <<stop:REASON>>       stop_reason to report (end_turn, max_tokens, refusal, ...)
    <<bash:CMD>>          ask for the Bash tool with this command
    <<write:PATH>>        ask for the Write tool to create PATH
    <<tool:NAME:JSON>>    ask for any tool with this input (after the text of say/words/chunks, if any)
    <<calls:JSON>>        ask for several tools at once: a JSON list of [name, input] pairs
    <<has:X>>             answer "yes" if X occurs anywhere in the earlier messages, else "no"
    <<textunlessforced>>  (anywhere in the conversation) a model that answers in text unless it
                          is made to call a tool: by the request's tool_choice, or by a later user
                          message without directives that names an offered tool (as the CLI's
                          structured-output reminder and the bridge's re-ask do)
    <<textunlessforced:K>> the same, but the first K such reminders in words are ignored
    <<args:JSON>>         (anywhere in the conversation) the input of a tool the model is made
                          to call; without it, an input is made up from the tool's input_schema
    <<counterror:STATUS>> make /v1/messages/count_tokens fail with this status
    <<think:TEXT>>        first a signed `thinking` block (one thinking_delta per word, then a
                          signature_delta); its text is left out unless the request asks for
                          `thinking.display: "summarized"` (the CLI's default is "updates")
    <<redacted>>          first a `redacted_thinking` block (opaque data, never readable text)
    <<websearch:QUERY>>   ask for the CLI's WebSearch tool with this query
    <<fetch:URL>>         ask for the CLI's WebFetch tool for this URL
    <<thentool:NAME:JSON>> (anywhere in the conversation) once a tool result came back, ask for this
                          tool (e.g. StructuredOutput) instead of answering "after-tool: ..."

/v1/messages/count_tokens answers one token per four characters of the JSON of `system`,
`messages` and `tools` (`count_tokens`), so a figure can be checked against what was counted.

Without a directive it answers "Hello from the fake upstream.". After a tool_result it answers
"after-tool: " and the tool result's text. As the real API does, a request whose tool_choice
forces a tool (`{"type": "tool", "name": ...}` or `{"type": "any"}`) always gets a call to it.
Every request body is recorded in `requests`.

Per credential (the `x-api-key`, or the bearer token of `Authorization`; `credential(request)`),
the fake can play an upstream account's plan: `plan(credential, ...)` makes every answer to that
credential carry Anthropic's unified rate-limit headers (`anthropic-ratelimit-unified-status`,
`-reset`, `-representative-claim`, `-5h-utilization`, `-5h-reset`, `-5h-status`, `-7d-...`), and a
plan whose window is rejected answers 429 `rate_limit_error` with those headers.
`fail(credential, status, times, retry_after=None)` makes that credential's next `times`
requests fail with `status` (429 or 529, say), with or without a `Retry-After` header.

A request that offers Anthropic's server-side `web_search` tool (the CLI's WebSearch makes one)
is answered as the real API does: a `server_tool_use`, a `web_search_tool_result` with two
results made from the query (https://example.com/<query words>/1 and /2), and text whose
`citations` point at them. After a tool result that lists such links, the answer ends with them
as markdown links, as the CLI's reminder asks the model to.

Like the real API, it refuses (400 invalid_request_error) a thinking block whose signature it
did not issue for that text, and, when `thinking` is enabled, a final assistant message with
tool_use that does not start with the thinking block it was answered with. The real API
requires that block whatever the model did; the fake asks for it only for tool calls it issued
after thinking, so that tool tests without thinking keep their meaning.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DIRECTIVE = re.compile(r"<<([a-z]+)(?::(.*?))?>>", re.DOTALL)
DEFAULT_TEXT = "Hello from the fake upstream."
REDACTED_MARKER = "REDACTED-OPAQUE-"
THINKING_REQUIRED = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
    "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
    "previous turns. To avoid this requirement, disable `thinking`."
)


@dataclass
class Plan:
    """One upstream account's plan windows, as the fake reports them in the unified headers."""

    five_hour: float = 0.0  # utilisation, 0..1
    seven_day: float = 0.0
    five_hour_reset: int = 0  # epoch seconds
    seven_day_reset: int = 0
    rejected: str | None = None  # "five_hour" or "seven_day": that window has run out
    warning: bool = False

    def headers(self) -> dict[str, str]:
        def state(window: str, used: float) -> str:
            if self.rejected == window:
                return "rejected"
            return "allowed_warning" if self.warning and used >= 0.75 else "allowed"

        five, seven = state("five_hour", self.five_hour), state("seven_day", self.seven_day)
        claim = self.rejected or ("seven_day" if self.seven_day > self.five_hour else "five_hour")
        status = "allowed_warning" if "allowed_warning" in (five, seven) else "allowed"
        status = "rejected" if self.rejected else status
        prefix = "anthropic-ratelimit-unified-"
        return {
            prefix + "status": status,
            prefix + "reset": str(self.seven_day_reset if claim == "seven_day" else self.five_hour_reset),
            prefix + "representative-claim": claim,
            prefix + "5h-utilization": str(self.five_hour),
            prefix + "5h-reset": str(self.five_hour_reset),
            prefix + "5h-status": five,
            prefix + "7d-utilization": str(self.seven_day),
            prefix + "7d-reset": str(self.seven_day_reset),
            prefix + "7d-status": seven,
        }


def credential(headers: Any) -> str:
    """The credential a request carries: its x-api-key, or the token of `Authorization: Bearer`."""
    key = headers.get("x-api-key")
    if key:
        return str(key)
    auth = str(headers.get("authorization") or "")
    return auth[7:] if auth.lower().startswith("bearer ") else auth


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float
    finished: float | None = None
    disconnected: float | None = None
    usage: dict[str, int] | None = None  # what the fake reported, once it answered in full

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def credential(self) -> str:
        return credential({k.lower(): v for k, v in self.headers.items()})

    def system_text(self) -> str:
        system = self.body.get("system", [])
        if isinstance(system, str):
            return system
        return "\n".join(b.get("text", "") for b in system)


def block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(block_text(block.get("content")))
    return "\n".join(parts)


def said(content: Any) -> str:
    """The text blocks of a message (not tool results): what was said in words."""
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if b.get("type") == "text")


def example(schema: Any, root: Any = None) -> Any:
    """A value that matches a JSON schema: what a model asked to call a tool would make up."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        target: Any = root
        for token in schema["$ref"][1:].split("/")[1:]:
            target = target[token.replace("~1", "/").replace("~0", "~")]
        return example(target, root)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return example(schema[key][0], root)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: example(sub, root) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example(schema.get("items", {}), root) for _ in range(int(schema.get("minItems", 0)))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "fake".ljust(int(schema.get("minLength", 0)), "x")


def made_to_call(body: dict[str, Any], messages: list[dict[str, Any]], newest: str) -> tuple[str, Any] | None:
    """The tool the model is made to call now and its input, or None (see the module docstring)."""
    tools = [t for t in body.get("tools", []) if "input_schema" in t and not t.get("defer_loading")]
    choice = body.get("tool_choice") or {}
    name: str | None = None
    if choice.get("type") == "tool":
        name = choice.get("name")
    elif choice.get("type") == "any" and tools:
        name = tools[0]["name"]
    else:
        users = [said(m.get("content")) for m in messages if m.get("role") == "user"]
        mode = next((m for text in users if (m := re.search(r"<<textunlessforced(?::(\d+))?>>", text))), None)
        if mode is None or DIRECTIVE.search(newest):
            return None
        reminders = [text for text in users if not DIRECTIVE.search(text) and _named(tools, text)]
        if not reminders or reminders[-1] != said(last_user(messages).get("content")):
            return None
        if len(reminders) <= int(mode.group(1) or 0):
            return None
        name = _named(tools, reminders[-1])
    tool = next((t for t in tools if t["name"] == name), None)
    if tool is None:
        return None
    everything = "\n".join(said(m.get("content")) for m in messages if m.get("role") == "user")
    args = re.search(r"<<args:(.*?)>>", everything, re.DOTALL)
    return tool["name"], json.loads(args.group(1)) if args else example(tool["input_schema"])


def _named(tools: list[dict[str, Any]], text: str) -> str | None:
    """The offered tool a text names first (with or without the `mcp__c__` prefix)."""
    found = []
    for tool in tools:
        short = tool["name"].rsplit("__", 1)[-1]
        if match := re.search(rf"(?<!\w)({re.escape(tool['name'])}|{re.escape(short)})(?!\w)", text):
            found.append((match.start(), str(tool["name"])))
    return min(found)[1] if found else None


def _first_directive(messages: list[dict[str, Any]], name: str) -> str | None:
    """The argument of the first `<<name:...>>` said in any user message of the conversation."""
    for message in messages:
        if message.get("role") == "user":
            for found, arg in DIRECTIVE.findall(said(message.get("content"))):
                if found == name:
                    return str(arg)
    return None


def count_tokens(value: Any) -> int:
    """The fake upstream's tokenizer: a token per four characters of the JSON, at least one."""
    return max(1, len(json.dumps(value, separators=(",", ":"))) // 4)


def last_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return {"role": "user", "content": ""}


@dataclass
class FakeUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    flaky_counts: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0
    latency_ms: int = 0  # a fixed delay before every answer (benchmarks)
    fault: str | None = None  # "drop" or "slow" for every request until fault_until (load tests)
    fault_until: float = 0.0
    # tool_use id -> the thinking blocks of the message that asked for it (see the docstring)
    thought_before: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)  # issued signature -> its full thinking
    redacted: set[str] = field(default_factory=set)
    plans: dict[str, Plan] = field(default_factory=dict)  # credential -> its plan (module docstring)
    failures: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def messages_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1/messages") and "count_tokens" not in r.path]

    def find(self, marker: str) -> list[Recorded]:
        """Requests whose newest user message mentions marker."""
        return [r for r in self.messages_requests() if marker in block_text(last_user(r.messages).get("content"))]

    def plan(self, cred: str, **windows: Any) -> Plan:
        """Makes every answer to `cred` carry these plan windows (see `Plan`); returns the plan."""
        self.plans[cred] = Plan(**windows)
        return self.plans[cred]

    def fail(self, cred: str, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` requests of `cred` fail with `status`, with `Retry-After` if given."""
        self.failures.setdefault(cred, []).extend([(status, retry_after)] * times)

    def by(self, cred: str) -> list[Recorded]:
        """The Messages requests this credential made."""
        return [r for r in self.messages_requests() if r.credential == cred]

    def in_flight(self) -> int:
        return sum(1 for r in self.messages_requests() if r.finished is None and r.disconnected is None)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(self._plan_headers)
        # handler_cancellation: a hanging handler learns at once that the CLI hung up.
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        rec = Recorded(request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(rec)
        self.max_in_flight = max(self.max_in_flight, self.in_flight())
        try:
            if request.method == "POST" and request.path.endswith("/count_tokens"):
                return self._count(body)
            if request.method == "POST" and request.path.startswith("/v1/messages"):
                refused = self._account_refusal(rec)
                if refused is not None:
                    return refused
                return await self._messages(request, rec)
            return web.json_response(
                {
                    "type": "error",
                    "error": {"type": "not_found_error", "message": "no such path"},
                },
                status=404,
            )
        except (asyncio.CancelledError, ConnectionResetError):
            rec.disconnected = time.monotonic()
            raise
        finally:
            if rec.finished is None and rec.disconnected is None:
                rec.finished = time.monotonic()

    async def _messages(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        body = rec.body
        messages = body.get("messages", [])
        user = last_user(messages)
        text = block_text(user.get("content"))
        directives: dict[str, str] = {}
        for name, arg in DIRECTIVE.findall(text):
            directives.setdefault(name, arg)
        model = body.get("model", "claude-sonnet-fake")

        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.fault and time.monotonic() < self.fault_until:
            directives.setdefault(self.fault, "")
        if "slow" in directives:
            await asyncio.sleep(2.0)
        if "delay" in directives:
            await asyncio.sleep(int(directives["delay"]) / 1000)
        if "error" in directives:
            return self._error(int(directives["error"]))
        problem = self._thinking_problem(body)
        if problem is not None:
            return self._error(400, problem)
        if "flaky" in directives:
            status, _, times = directives["flaky"].partition(":")
            key = "flaky:" + directives["flaky"]
            seen = self.flaky_counts.get(key, 0)
            self.flaky_counts[key] = seen + 1
            if seen < int(times or "1"):
                return self._error(int(status))
        if "hang" in directives:
            await asyncio.sleep(3600)
        if "hangfirst" in directives:
            key = "hangfirst:" + text
            self.flaky_counts[key] = self.flaky_counts.get(key, 0) + 1
            if self.flaky_counts[key] == 1:
                await asyncio.sleep(3600)

        if any(str(t.get("type", "")).startswith("web_search") for t in body.get("tools") or []):
            return await self._web_search(request, body, text)

        has_tool_result = isinstance(user.get("content"), list) and any(
            b.get("type") == "tool_result" for b in user["content"]
        )
        made = made_to_call(body, messages, text)
        if made is not None:
            blocks, chunks = [self._tool_use(*made)], []
        else:
            blocks, chunks = self._script(directives, text, has_tool_result, body)

        usage_in, usage_out, cache_read, cache_write = (
            20 + len(json.dumps(messages)) // 40,
            0,
            0,
            0,
        )
        if "usage" in directives:
            usage_in, usage_out, cache_read, cache_write = (int(x) for x in directives["usage"].split(":"))
        thoughts = self._thoughts(directives, body, has_tool_result)
        thinking_tokens = sum(len(b.get("words", [])) or 5 for b in thoughts)
        for block in blocks:
            if thoughts:
                self.thought_before[block["id"]] = [_public(b) for b in thoughts]
        output_tokens = usage_out or max(1, len(chunks) + 10 * len(blocks) + thinking_tokens)
        stop_reason = directives.get("stop") or ("tool_use" if blocks else "end_turn")
        limit = body.get("max_tokens")
        if isinstance(limit, int) and len(chunks) > limit:  # one token per chunk, as far as the fake knows
            chunks, blocks, stop_reason = chunks[:limit], [], "max_tokens"
        gap = int(directives.get("gap", "0")) / 1000
        usage = {
            "input_tokens": usage_in,
            "output_tokens": 1,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        }
        msg_id = "msg_" + uuid.uuid4().hex[:20]
        reported = {**usage, "output_tokens": output_tokens}
        final_usage: dict[str, Any] = {"output_tokens": output_tokens}
        if "thinking-token-count" in rec.headers.get("anthropic-beta", ""):
            final_usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
        if not body.get("stream"):
            rec.usage = reported
            content = [_public(b) for b in thoughts]
            content += ([{"type": "text", "text": "".join(chunks)}] if chunks else []) + blocks
            return web.json_response(
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {**usage, **final_usage},
                }
            )

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "request-id": "req_fake"})
        await resp.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        start = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        await send("message_start", {"type": "message_start", "message": start})
        if "drop" in directives:
            assert request.transport is not None
            request.transport.close()
            rec.disconnected = time.monotonic()
            return resp
        index = 0
        for thought in thoughts:
            await self._stream_thought(send, index, thought, gap)
            index += 1
        if chunks:
            await send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for i, chunk in enumerate(chunks):
                if i and gap:
                    await asyncio.sleep(gap)
                await send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                )
            if "hangafter" in directives:
                await asyncio.sleep(3600)
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        for block in blocks:
            args = json.dumps(block["input"])
            await send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {**block, "input": {}},
                },
            )
            half = len(args) // 2
            for part in (args[:half], args[half:]):
                await send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                )
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        await send(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": final_usage,
            },
        )
        await send("message_stop", {"type": "message_stop"})
        await resp.write_eof()
        rec.usage = reported
        return resp

    async def _plan_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        plan = self.plans.get(credential(request.headers))
        if plan is not None and request.path.startswith("/v1/messages"):
            response.headers.update(plan.headers())

    def _account_refusal(self, rec: Recorded) -> web.Response | None:
        """What this credential's account answers before any directive: a queued failure, or its
        plan's rejected window."""
        queued = self.failures.get(rec.credential)
        if queued:
            status, retry_after = queued.pop(0)
            response = self._error(status)
            if retry_after is not None:
                response.headers["retry-after"] = str(retry_after)
            return response
        plan = self.plans.get(rec.credential)
        if plan is not None and plan.rejected:
            return self._error(429, "This request would exceed your account's rate limit. Please try again later.")
        return None

    def _script(
        self, directives: dict[str, str], text: str, has_tool_result: bool, body: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """What the newest user message's directives ask for: tool_use blocks and text deltas."""
        blocks: list[dict[str, Any]] = []
        chunks: list[str]
        if "tool" in directives and not has_tool_result:
            name, _, args = directives["tool"].partition(":")
            blocks.append(self._tool_use(name, json.loads(args or "{}")))
        if "websearch" in directives and not has_tool_result:
            blocks.append(self._tool_use("WebSearch", {"query": directives["websearch"]}))
        if "fetch" in directives and not has_tool_result:
            blocks.append(self._tool_use("WebFetch", {"url": directives["fetch"], "prompt": "Summarise the page."}))
        if "calls" in directives and not has_tool_result:
            blocks += [self._tool_use(name, args) for name, args in json.loads(directives["calls"])]
        then = _first_directive(body.get("messages", []), "thentool") if has_tool_result else None
        if then is not None:
            name, _, args = then.partition(":")
            blocks.append(self._tool_use(name, json.loads(args or "{}")))
            chunks = []
        elif has_tool_result:
            links = [link for found in re.findall(r"^Links: (\[.*\])$", text, re.M) for link in json.loads(found)]
            chunks = ["after-tool: ", re.sub(r"^Links: .*\n?", "", text, flags=re.M) if links else text]
            chunks += [f"\n- [{link['title']}]({link['url']})" for link in links]
        elif "bash" in directives:
            blocks.append(self._tool_use("Bash", {"command": directives["bash"], "description": "probe"}))
            chunks = []
        elif "write" in directives:
            blocks.append(self._tool_use("Write", {"file_path": directives["write"], "content": "pwned"}))
            chunks = []
        elif blocks and not {"say", "words", "chunks"} & set(directives):
            chunks = []
        elif "chunks" in directives:
            chunks = json.loads(directives["chunks"])
        elif "say" in directives:
            chunks = re.findall(r"\S+\s*|\s+", directives["say"])
        elif "words" in directives or "hangafter" in directives:
            n = int(directives.get("words") or directives["hangafter"])
            chunks = [f"w{i}" + (" " if i < n else "") for i in range(1, n + 1)]
        elif "has" in directives:
            # The directive itself names X once; any further occurrence came from elsewhere.
            chunks = ["yes" if json.dumps(body).count(directives["has"]) > 1 else "no"]
        else:
            chunks = [DEFAULT_TEXT]
        return blocks, chunks

    def _count(self, body: dict[str, Any]) -> web.Response:
        """The fake's token count: one token per four characters of the JSON of what is counted."""
        text = block_text(last_user(body.get("messages", [])).get("content"))
        if "counterror" in dict(DIRECTIVE.findall(text)):
            return self._error(int(dict(DIRECTIVE.findall(text))["counterror"] or 500))
        counted = {k: body.get(k) for k in ("system", "messages", "tools") if body.get(k)}
        return web.json_response({"input_tokens": count_tokens(counted)})

    # -- server-side web search -------------------------------------------------------------

    async def _web_search(self, request: web.Request, body: dict[str, Any], text: str) -> web.StreamResponse:
        query = text.split("query:", 1)[-1].strip()
        slug = "-".join(re.findall(r"[a-z0-9]+", query.lower())) or "q"
        results = [
            {
                "type": "web_search_result",
                "url": f"https://example.com/{slug}/{n}",
                "title": f"{query} ({n})",
                "encrypted_content": base64.b64encode(f"page {n} of {query}".encode()).decode(),
                "page_age": None,
            }
            for n in (1, 2)
        ]
        search_id = "srvtoolu_" + uuid.uuid4().hex[:20]
        cited = f"{query} is covered by two pages."
        citations = [
            {
                "type": "web_search_result_location",
                "url": r["url"],
                "title": r["title"],
                "encrypted_index": "Eg" + uuid.uuid4().hex[:8],
                "cited_text": cited,
            }
            for r in results
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "server_tool_use", "id": search_id, "name": "web_search", "input": {"query": query}},
            {"type": "web_search_tool_result", "tool_use_id": search_id, "content": results},
            {"type": "text", "text": cited, "citations": citations},
        ]
        usage = {
            "input_tokens": 30,
            "output_tokens": 12,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 1},
        }
        message = {
            "id": "msg_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-sonnet-fake"),
            "content": blocks,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(message)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "request-id": "req_fake"})
        await resp.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await resp.write(f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode())

        await send(
            "message_start",
            {"message": {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}},
        )
        await send("content_block_start", {"index": 0, "content_block": {**blocks[0], "input": {}}})
        delta = {"type": "input_json_delta", "partial_json": json.dumps({"query": query})}
        await send("content_block_delta", {"index": 0, "delta": delta})
        await send("content_block_stop", {"index": 0})
        await send("content_block_start", {"index": 1, "content_block": blocks[1]})
        await send("content_block_stop", {"index": 1})
        await send("content_block_start", {"index": 2, "content_block": {"type": "text", "text": ""}})
        for citation in citations:
            await send("content_block_delta", {"index": 2, "delta": {"type": "citations_delta", "citation": citation}})
        await send("content_block_delta", {"index": 2, "delta": {"type": "text_delta", "text": cited}})
        await send("content_block_stop", {"index": 2})
        stop = {"stop_reason": "end_turn", "stop_sequence": None}
        await send(
            "message_delta",
            {"delta": stop, "usage": {"output_tokens": 12, "server_tool_use": {"web_search_requests": 1}}},
        )
        await send("message_stop", {})
        await resp.write_eof()
        return resp

    # -- thinking ---------------------------------------------------------------------------

    def _thoughts(self, directives: dict[str, str], body: dict[str, Any], after_tool: bool) -> list[dict[str, Any]]:
        """The thinking blocks this answer starts with (`words` is the fake's own bookkeeping)."""
        if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive") or after_tool:
            return []
        display = (body.get("thinking") or {}).get("display") or "omitted"
        thoughts: list[dict[str, Any]] = []
        if "think" in directives:
            full = directives["think"]
            signature = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
            self.signatures[signature] = full
            shown = full if display == "summarized" else ""
            words = re.findall(r"\S+\s*|\s+", shown)
            thoughts.append({"type": "thinking", "thinking": shown, "signature": signature, "words": words})
        if "redacted" in directives:
            data = REDACTED_MARKER + uuid.uuid4().hex
            self.redacted.add(data)
            thoughts.append({"type": "redacted_thinking", "data": data})
        return thoughts

    @staticmethod
    async def _stream_thought(send: Any, index: int, thought: dict[str, Any], gap: float) -> None:
        if thought["type"] == "redacted_thinking":
            start = {"type": "content_block_start", "index": index, "content_block": _public(thought)}
            await send("content_block_start", start)
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
            return
        block = {"type": "thinking", "thinking": "", "signature": ""}
        await send("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
        for i, word in enumerate(thought["words"]):
            if i and gap:
                await asyncio.sleep(gap)
            delta = {"type": "thinking_delta", "thinking": word}
            await send("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        delta = {"type": "signature_delta", "signature": thought["signature"]}
        await send("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        await send("content_block_stop", {"type": "content_block_stop", "index": index})

    def _thinking_problem(self, body: dict[str, Any]) -> str | None:
        """What the real API would refuse about the thinking blocks of this request, if anything."""
        messages = body.get("messages") or []
        for i, message in enumerate(messages):
            if message.get("role") != "assistant" or not isinstance(message.get("content"), list):
                continue
            for j, block in enumerate(message["content"]):
                if block.get("type") == "thinking":
                    issued = self.signatures.get(str(block.get("signature")))
                    if issued is None or block.get("thinking") not in (issued, ""):
                        return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                if block.get("type") == "redacted_thinking" and block.get("data") not in self.redacted:
                    return f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block"
        if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
            return None
        final = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
        if final is None or not isinstance(messages[final].get("content"), list):
            return None
        content = messages[final]["content"]
        for block in content:
            expected = self.thought_before.get(str(block.get("id"))) if block.get("type") == "tool_use" else None
            if expected is None:
                continue
            opening = content[: len(expected)]
            if [b.get("type") for b in opening] != [b["type"] for b in expected]:
                return THINKING_REQUIRED.format(i=final, found=content[0].get("type"))
        return None

    @staticmethod
    def _tool_use(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "tool_use",
            "id": "toolu_" + uuid.uuid4().hex[:20],
            "name": name,
            "input": args,
        }

    @staticmethod
    def _error(status: int, message: str | None = None) -> web.Response:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return web.json_response(
            {"type": "error", "error": {"type": kind, "message": message or f"fake {status}"}},
            status=status,
        )


def _public(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "words"}


async def main(port: int) -> None:
    fake = FakeUpstream(port=port)
    await fake.start()
    print(f"fake upstream on {fake.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import sys

    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 18181))
