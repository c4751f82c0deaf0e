"""`messages`: roles, content parts, images, and the tool-call round trip."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from bridge import jsonsafe
from bridge.errors import InvalidRequest
from bridge.schemas import ChatMessageIn, ImagePart, Part, TextPart, ToolCallIn
from bridge.validation.common import invalid_type, invalid_value, max_items, missing

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
DATA_URL = re.compile(
    r"\Adata:(?P<type>[A-Za-z0-9_/+.-]+)(?P<params>(?:;[A-Za-z0-9_-]+=[A-Za-z0-9_-]+)*);base64,(?P<data>.*)\Z", re.S
)
IMAGE_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Anthropic's per-image limit
# Patterns here are applied with fullmatch: `$` would also match before a final newline.
TOOL_CALL_ID = re.compile(r"\A[a-zA-Z0-9_-]{1,128}\Z")
MAX_TOOL_CALLS = 128  # OpenAI's limit for one assistant message's `tool_calls`


def _image(param: str, part: dict[str, Any]) -> ImagePart:
    spec = part.get("image_url")
    url: Any
    if isinstance(spec, str):
        url = spec
    elif isinstance(spec, dict):
        url = spec.get("url")
    else:
        raise missing(f"{param}.image_url")
    if not isinstance(url, str):
        raise invalid_type(f"{param}.image_url.url", "a string", url)
    return image_url(f"{param}.image_url.url", url)


def image_url(where: str, url: str) -> ImagePart:
    """An image part's URL, which must be an inline image (a `data:` URL): `where` names the URL."""
    if url.startswith(("http://", "https://")):
        raise InvalidRequest(
            "Image URLs are not fetched by this bridge: send the image inline as a data URL "
            "(data:image/png;base64,...).",
            param=where,
            code="image_url_not_supported",
        )
    match = DATA_URL.fullmatch(url)
    if not match:
        raise invalid_value(where, "expected a data URL: data:image/<png|jpeg|gif|webp>;base64,<data>.")
    return image_part(where, match["type"], match["data"])


def image_part(where: str, media_type: str, data: str) -> ImagePart:
    """Checks an inline image (type, size, base64, magic bytes): the CLI would turn a bad one into text."""
    media_type = media_type.lower()
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type not in IMAGE_TYPES:
        raise InvalidRequest(
            f"Unsupported image type '{media_type}'. Supported: image/png, image/jpeg, image/gif, image/webp.",
            param=where,
            code="invalid_image_format",
        )
    data = re.sub(r"\s+", "", data)
    if len(data) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise InvalidRequest(
            f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB.", param=where, code="image_too_large"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The image data is not valid base64.", param=where, code="invalid_image") from None
    if not raw.startswith(IMAGE_TYPES[media_type]) or (media_type == "image/webp" and raw[8:12] != b"WEBP"):
        raise InvalidRequest(f"The image data is not a {media_type} image.", param=where, code="invalid_image")
    return ImagePart(media_type, data)


def part_not_here(where: str, kind: Any) -> InvalidRequest:
    """A content part of a kind this message's role cannot hold (an image in an assistant message)."""
    return InvalidRequest(
        f"Content parts of type '{kind}' are not supported in this message.",
        param=f"{where}.type",
        code="unsupported_content_type",
    )


def empty_content(param: str) -> InvalidRequest:
    """`param` names the message; its `content` is an empty array."""
    return InvalidRequest(
        f"Invalid '{param}.content': empty array. Expected an array with minimum length 1.",
        param=f"{param}.content",
        code="empty_array",
    )


def _parts(param: str, content: list[Any], *, images: bool) -> tuple[Part, ...]:
    parts: list[Part] = []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind in ("text", "refusal"):
            key = "text" if kind == "text" else "refusal"
            if not isinstance(part.get(key), str):
                raise invalid_type(f"{where}.{key}", "a string", part.get(key))
            parts.append(TextPart(part[key]))
        elif kind == "image_url" and images:
            parts.append(_image(where, part))
        elif kind in ("image_url", "input_audio", "file"):
            raise part_not_here(where, kind)
        else:
            raise InvalidRequest(
                f"Invalid value: '{kind}'. Supported values are: 'text' and 'image_url'.",
                param=f"{where}.type",
                code="invalid_value",
            )
    return tuple(parts)


def _content(param: str, raw: dict[str, Any], role: str) -> str | tuple[Part, ...] | None:
    content = raw.get("content")
    if content is None:
        # An assistant turn may be only tool calls or a refusal; a function result may be null.
        if role == "assistant" and any(raw.get(k) for k in ("tool_calls", "function_call", "refusal", "audio")):
            return None
        if role == "function" and "content" in raw:
            return None
        if "content" not in raw:
            raise missing(f"{param}.content")
        raise invalid_type(f"{param}.content", "a string or an array of content parts", content)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        if not content:
            raise empty_content(param)
        return _parts(f"{param}.content", content, images=role == "user")
    raise invalid_type(f"{param}.content", "a string or an array of content parts", content)


def _assistant_extras(
    param: str, raw: dict[str, Any], content: str | tuple[Part, ...] | None
) -> str | tuple[Part, ...] | None:
    """`refusal` and `audio`, which clients echo back from an earlier answer.

    A refusal with no content is what the model said, so it is the message's text. An audio
    reference cannot be honoured: Claude never produced audio here, so there is no such answer.
    """
    refusal = raw.get("refusal")
    if refusal is not None and not isinstance(refusal, str):
        raise invalid_type(f"{param}.refusal", "a string", refusal)
    audio = raw.get("audio")
    if audio is not None:
        if not isinstance(audio, dict):
            raise invalid_type(f"{param}.audio", "an object", audio)
        raise InvalidRequest(
            "Audio responses are not available from Claude, so an earlier audio response cannot be referenced: "
            "send its transcript as the message content instead.",
            param=f"{param}.audio",
            code="unsupported_parameter",
        )
    if refusal and not content:
        return refusal
    return content


def arguments(param: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise invalid_type(param, "a string of JSON", raw)
    try:
        value = jsonsafe.loads(raw or "{}")
    except jsonsafe.JsonTooDeep as exc:
        raise invalid_value(param, f"{exc}.") from None
    except ValueError:
        raise invalid_value(param, "the arguments are not valid JSON.") from None
    if not isinstance(value, dict):
        raise invalid_value(param, "the arguments must be a JSON object.")
    return value


def _tool_calls(param: str, raw: Any) -> tuple[ToolCallIn, ...]:
    if not isinstance(raw, list):
        raise invalid_type(param, "an array", raw)
    max_items(param, raw, MAX_TOOL_CALLS)
    calls = []
    for k, call in enumerate(raw):
        where = f"{param}[{k}]"
        if not isinstance(call, dict):
            raise invalid_type(where, "an object", call)
        call_id = check_call_id(where, call.get("id"))
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise missing(f"{where}.function.name")
        calls.append(
            ToolCallIn(
                call_id, function["name"], arguments(f"{where}.function.arguments", function.get("arguments", "{}"))
            )
        )
    return tuple(calls)


def check_call_id(where: str, call_id: Any) -> str:
    """`where` names the tool call; ids are echoed to Claude, so only the characters it accepts."""
    if not isinstance(call_id, str) or not TOOL_CALL_ID.fullmatch(call_id):
        raise invalid_value(f"{where}.id", "a tool call id of letters, digits, '_' or '-' is required.")
    return call_id


def answer_call(param: str, call_id: str, open_calls: dict[str, str]) -> None:
    """A tool result (`param` names the message) must answer an earlier call not yet answered."""
    if call_id not in open_calls:
        raise invalid_value(f"{param}.tool_call_id", f"'{call_id}' does not answer any earlier assistant tool call.")
    del open_calls[call_id]


def parse_messages(messages: Any) -> tuple[ChatMessageIn, ...]:
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    parsed: list[ChatMessageIn] = []
    open_calls: dict[str, str] = {}  # tool call id -> function name, not yet answered
    legacy_ids = 0
    for i, raw in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise invalid_type(param, "an object", raw)
        role = raw.get("role")
        if role is None:
            raise missing(f"{param}.role")
        if role not in ROLES:
            raise InvalidRequest(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.",
                param=f"{param}.role",
                code="invalid_value",
            )
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise invalid_type(f"{param}.name", "a string", name)
        content = _content(param, raw, role)
        if role == "assistant":
            content = _assistant_extras(param, raw, content)
            calls = _tool_calls(f"{param}.tool_calls", raw["tool_calls"]) if raw.get("tool_calls") else ()
            if raw.get("function_call"):
                fc = raw["function_call"]
                if not isinstance(fc, dict) or not isinstance(fc.get("name"), str):
                    raise missing(f"{param}.function_call.name")
                legacy_ids += 1
                calls += (
                    ToolCallIn(
                        f"call_legacy_{legacy_ids}",
                        fc["name"],
                        arguments(f"{param}.function_call.arguments", fc.get("arguments", "{}")),
                    ),
                )
            open_calls.update({c.id: c.name for c in calls})
            parsed.append(ChatMessageIn("assistant", content, name, tool_calls=calls))
        elif role == "tool":
            call_id = raw.get("tool_call_id")
            if call_id is None:
                raise missing(f"{param}.tool_call_id")
            if not isinstance(call_id, str):
                raise invalid_type(f"{param}.tool_call_id", "a string", call_id)
            answer_call(param, call_id, open_calls)
            parsed.append(ChatMessageIn("tool", content, tool_call_id=call_id))
        elif role == "function":
            match = next((cid for cid, fn in open_calls.items() if fn == name), None)
            if match is None:
                raise invalid_value(f"{param}.name", f"'{name}' answers no earlier assistant function_call.")
            del open_calls[match]
            parsed.append(ChatMessageIn("tool", content, tool_call_id=match))
        else:
            parsed.append(ChatMessageIn(role, content, name))
    return tuple(parsed)


def check_tool_answers(messages: tuple[ChatMessageIn, ...]) -> None:
    """Every tool call is answered by the tool messages right after it, as OpenAI requires.

    (Anthropic requires the same: the results of a tool_use must open the next user message.)
    """
    pending: list[str] = []
    asked_at = 0
    for i, message in enumerate(messages):
        if message.role == "tool":
            if message.tool_call_id in pending:
                pending.remove(message.tool_call_id)
            continue
        if pending:
            break
        if message.tool_calls:
            pending, asked_at = [c.id for c in message.tool_calls], i
    if pending:
        raise InvalidRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
            param=f"messages[{asked_at}].tool_calls",
            code="invalid_value",
        )
