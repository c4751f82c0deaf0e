"""Messages API `system` and `messages` -> the internal chat messages (ChatMessageIn). Pure.

Every block of a type Anthropic defines is first checked field by field against its shape
(`block_table`): a wrongly typed or missing field is a 400 before anything else happens. Then
blocks map one to one onto what the internal model holds: text; images (base64, checked like
every inline image, or by URL, which the CLI hands to Anthropic unchanged: the bridge's host
fetches nothing); an assistant's `tool_use`; a user's `tool_result` (with `is_error`). Thinking
blocks of earlier assistant turns are accepted and not replayed (see the README). What cannot
reach Claude through the CLI is refused with the reason.
"""

from __future__ import annotations

from typing import Any

from bridge.messages.block_table import check_block
from bridge.messages.fields import array, bad, boolean, obj, one_of, string, unsupported
from bridge.schemas import ChatMessageIn, ImageUrlPart, Part, TextPart, ToolCallIn
from bridge.validation.content import TOOL_CALL_ID, image_part

TEXT_KEYS = {"type", "text", "cache_control", "citations"}
REFUSED_BLOCKS = {
    "document": "documents (PDF, plain text) cannot be passed through the Claude CLI; send the text as a text block.",
    "search_result": "search_result blocks cannot be passed through the Claude CLI.",
    "container_upload": "there are no containers on this bridge.",
    "server_tool_use": "server tools do not run on this bridge.",
    "mcp_tool_use": "MCP servers are not available on this bridge.",
    "mcp_tool_result": "MCP servers are not available on this bridge.",
}
NOT_REPLAYED = ("thinking", "redacted_thinking")


class Notes:
    """What a request asked for that the bridge accepts but does not apply (X-Bridge-Unapplied-Params)."""

    def __init__(self) -> None:
        self.unapplied: dict[str, None] = {}

    def add(self, name: str) -> None:
        self.unapplied[name] = None


def _kind(path: str, block: Any) -> str:
    """The block's type, once the block has exactly the shape Anthropic defines for it."""
    if not isinstance(block, dict):
        raise bad(path, "Input should be a content block object", "invalid_type")
    if "type" not in block:
        raise bad(f"{path}.type", "Field required", "missing_required_parameter")
    kind = string(f"{path}.type", block["type"])
    check_block(path, block)
    return kind


def _text(path: str, block: dict[str, Any], notes: Notes) -> TextPart:
    obj(path, block, TEXT_KEYS, ("text",))
    if block.get("cache_control") is not None:
        notes.add("cache_control")
    if block.get("citations"):
        notes.add("citations")
    return TextPart(string(f"{path}.text", block["text"]))


def _image(path: str, block: dict[str, Any], notes: Notes) -> Part:
    obj(path, block, {"type", "source", "cache_control", "transformations"}, ("source",))
    if block.get("cache_control") is not None:
        notes.add("cache_control")
    if block.get("transformations") is not None:
        raise unsupported(f"{path}.transformations", "image transformations are not available.")
    source = obj(f"{path}.source", block["source"], {"type", "media_type", "data", "url", "file_id"}, ("type",))
    kind = one_of(f"{path}.source.type", source["type"], ("base64", "url", "file"))
    if kind == "base64":
        obj(f"{path}.source", source, {"type", "media_type", "data"}, ("media_type", "data"))
        media_type = string(f"{path}.source.media_type", source["media_type"])
        return image_part(f"{path}.source", media_type, string(f"{path}.source.data", source["data"]))
    if kind == "url":
        obj(f"{path}.source", source, {"type", "url"}, ("url",))
        url = string(f"{path}.source.url", source["url"])
        if not url.startswith(("https://", "http://")):
            raise bad(f"{path}.source.url", "expected an http(s) URL")
        return ImageUrlPart(url)
    raise unsupported(f"{path}.source", "there is no Files API here; send the image as base64.")


def _tool_result(path: str, block: dict[str, Any], notes: Notes) -> ChatMessageIn:
    known = {"type", "tool_use_id", "content", "is_error", "cache_control", "toolset_name"}
    obj(path, block, known, ("tool_use_id",))
    if block.get("cache_control") is not None:
        notes.add("cache_control")
    if block.get("toolset_name") is not None:
        raise unsupported(f"{path}.toolset_name", "MCP toolsets are not available.")
    call_id = string(f"{path}.tool_use_id", block["tool_use_id"])
    is_error = boolean(f"{path}.is_error", block["is_error"]) if block.get("is_error") is not None else False
    content = block.get("content", "")
    if isinstance(content, str):
        return ChatMessageIn("tool", content, tool_call_id=call_id, is_error=is_error)
    parts: list[Part] = []
    for k, part in enumerate(array(f"{path}.content", content)):
        where = f"{path}.content.{k}"
        kind = _kind(where, part)
        if kind == "text":
            parts.append(_text(where, part, notes))
        elif kind == "image":
            # Measured: the CLI drops an image inside a tool_result before the upstream call.
            raise unsupported(
                where,
                "the Claude CLI drops images inside a tool_result; put the image in the user "
                "message next to the tool_result.",
            )
        else:
            raise unsupported(f"{where}.type", f"tool_result content of type {kind!r}; only text is passed on.")
    return ChatMessageIn("tool", tuple(parts), tool_call_id=call_id, is_error=is_error)


def _tool_use(path: str, block: dict[str, Any]) -> ToolCallIn:
    obj(
        path, block, {"type", "id", "name", "input", "cache_control", "caller", "toolset_name"}, ("id", "name", "input")
    )
    call_id = string(f"{path}.id", block["id"])
    if not TOOL_CALL_ID.fullmatch(call_id):
        raise bad(f"{path}.id", "a tool_use id of 1 to 128 letters, digits, '_' or '-' is required")
    arguments = block["input"]
    if not isinstance(arguments, dict):
        raise bad(f"{path}.input", "Input should be an object", "invalid_type")
    return ToolCallIn(call_id, string(f"{path}.name", block["name"]), arguments)


def _user(path: str, content: Any, open_calls: set[str], notes: Notes) -> list[ChatMessageIn]:
    if isinstance(content, str):
        return [ChatMessageIn("user", content)]
    results: list[ChatMessageIn] = []
    parts: list[Part] = []
    for j, block in enumerate(array(path, content)):
        where = f"{path}.{j}"
        kind = _kind(where, block)
        if kind == "text":
            parts.append(_text(where, block, notes))
        elif kind == "image":
            parts.append(_image(where, block, notes))
        elif kind == "tool_result":
            result = _tool_result(where, block, notes)
            if result.tool_call_id not in open_calls:
                raise bad(
                    f"{where}.tool_use_id",
                    f"unexpected tool_use_id {result.tool_call_id!r}: it answers no earlier tool_use block",
                )
            open_calls.discard(str(result.tool_call_id))
            results.append(result)  # tool results lead the message, as Anthropic requires
        elif kind in REFUSED_BLOCKS:
            raise unsupported(f"{where}.type", REFUSED_BLOCKS[kind])
        else:
            raise bad(f"{where}.type", f"a user message cannot hold a {kind!r} block")
    return results + ([ChatMessageIn("user", tuple(parts))] if parts else [])


def _assistant(path: str, content: Any, open_calls: set[str], notes: Notes) -> ChatMessageIn:
    if isinstance(content, str):
        return ChatMessageIn("assistant", content)
    texts: list[str] = []
    calls: list[ToolCallIn] = []
    for j, block in enumerate(array(path, content)):
        where = f"{path}.{j}"
        kind = _kind(where, block)
        if kind == "text":
            texts.append(_text(where, block, notes).text)
        elif kind == "tool_use":
            call = _tool_use(where, block)
            open_calls.add(call.id)
            calls.append(call)
        elif kind in NOT_REPLAYED:
            notes.add(kind)
        elif kind in REFUSED_BLOCKS or kind.endswith("_tool_result"):
            raise unsupported(f"{where}.type", REFUSED_BLOCKS.get(kind, "server tools do not run on this bridge."))
        else:
            raise bad(f"{where}.type", f"an assistant message cannot hold a {kind!r} block")
    return ChatMessageIn("assistant", "".join(texts) if texts or not calls else None, tool_calls=tuple(calls))


def system_messages(raw: Any, notes: Notes, path: str = "system") -> list[ChatMessageIn]:
    """`system` as a string or text blocks; each block is one instruction message."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [ChatMessageIn("system", raw)] if raw else []
    blocks = array(path, raw)
    out = []
    for i, block in enumerate(blocks):
        one_of(f"{path}.{i}.type", _kind(f"{path}.{i}", block), ("text",))
        out.append(ChatMessageIn("system", _text(f"{path}.{i}", block, notes).text))
    return out


def parse_messages(raw: Any, notes: Notes) -> tuple[ChatMessageIn, ...]:
    if raw is None:
        raise bad("messages", "Field required", "missing_required_parameter")
    messages = array("messages", raw)
    if not messages:
        raise bad("messages", "at least one message is required", "empty_array")
    parsed: list[ChatMessageIn] = []
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        obj(path, message, {"role", "content"}, ("role", "content"))
        role = one_of(f"{path}.role", message["role"], ("user", "assistant", "system"))
        content = message["content"]
        if not isinstance(content, (str, list)):
            raise bad(f"{path}.content", "Input should be a string or a list of content blocks", "invalid_type")
        if role == "system":
            parsed += system_messages(content, notes, f"{path}.content")
        elif role == "user":
            parsed += _user(f"{path}.content", content, open_calls, notes)
        else:
            parsed.append(_assistant(f"{path}.content", content, open_calls, notes))
    conversation = [m for m in parsed if m.role != "system"]
    if not conversation or conversation[-1].role not in ("user", "tool"):
        raise bad(
            f"messages.{len(messages) - 1}.role",
            "the last message must be a user message: a final assistant message (prefill) is not supported "
            "through the Claude CLI",
        )
    return tuple(parsed)
