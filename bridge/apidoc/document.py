"""Our own API description (GET /openapi.json, and the pages at /docs and /redoc): the OpenAI
endpoints served, Anthropic's Messages API, sessions, spend per key, security.

It is generated, not written: response schemas come from the attrs models the handlers
unstructure (with the converter's rule that optional None fields are left out), request
parameters from the validators' own lists of known, unapplied and refused parameters, and the
error body from `ApiError`. A test checks that every route of the app is described. OpenAPI
3.0, the version the bundled Swagger UI and ReDoc (aiohttp-swagger3) validate and render.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import attrs

from bridge import __version__, schemas
from bridge.errors import InvalidRequest
from bridge.responses import request as responses_request
from bridge.storage.base import SAFE_ID_CHARS
from bridge.validation import chat as chat_validation

OPENAI_REF = "https://platform.openai.com/docs/api-reference"
ANTHROPIC_REF = "https://docs.anthropic.com/en/api/messages"
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def _type(tp: Any, found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _type(args[0], found) if len(args) == 1 else {"anyOf": [_type(a, found) for a in args]}
        return _nullable(inner) if len(args) < len(typing.get_args(tp)) else inner
    if origin is tuple:
        return {"type": "array", "items": _type(typing.get_args(tp)[0], found)}
    if attrs.has(tp):
        model_schema(tp, found)
        return _ref(tp.__name__)
    return dict(_SCALARS.get(tp, {}))


def model_schema(cls: type, found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON an attrs response model unstructures to (see bridge.json_boundary), registered in `found`."""
    if cls.__name__ in found:
        return found[cls.__name__]
    found[cls.__name__] = {}  # placeholder against recursion
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        schema = _type(hints[field.name], found)
        if isinstance(field.default, str):
            schema = {**schema, "enum": [field.default]}  # `object`, `type`, `role`: always this value
        if field.metadata.get("always") and "nullable" not in schema and "allOf" not in schema:
            schema = _nullable(schema)
        properties[field.name] = schema
        if field.default is not None or field.metadata.get("always"):
            required.append(field.name)  # a None default is left out unless marked `always`
    model: dict[str, Any] = {"type": "object", "properties": properties}
    if required:  # OpenAPI 3.0 refuses an empty list
        model["required"] = required
    found[cls.__name__] = model
    return model


def error_schema() -> dict[str, Any]:
    keys = InvalidRequest("x").body()["error"]
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": list(keys),
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
            }
        },
    }


def _parameters(known: set[str], typed: dict[str, dict[str, Any]], notes: dict[str, str]) -> dict[str, Any]:
    return {name: {**typed.get(name, {}), "description": notes.get(name, "")} for name in sorted(known)}


def chat_body() -> dict[str, Any]:
    notes = {
        name: "Accepted and validated, but not applied (X-Bridge-Unapplied-Params)."
        for name in chat_validation.UNAPPLIED
    }
    notes.update({name: f"Refused (400 unsupported_parameter): {why}" for name, why in chat_validation.REFUSED.items()})
    notes["session_id"] = (
        "A server-side session to continue (this bridge's extension; or the X-Session-ID header, where only "
        "ids of the form sess_... name a session)."
    )
    typed: dict[str, dict[str, Any]] = {
        "model": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "stream": {"type": "boolean"},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "session_id": {"type": "string", "pattern": f"^{SAFE_ID_CHARS}$"},
    }
    return {
        "type": "object",
        "required": ["model", "messages"],
        "properties": _parameters({*chat_validation.KNOWN, "session_id"}, typed, notes),
        "additionalProperties": False,
        "description": f"OpenAI's CreateChatCompletionRequest ({OPENAI_REF}/chat); see the README's "
        "parameter table for what is supported, mapped or refused.",
        "example": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]},
    }


def responses_body() -> dict[str, Any]:
    typed: dict[str, dict[str, Any]] = {
        "model": {"type": "string"},
        "input": {},
        "stream": {"type": "boolean"},
        "store": {"type": "boolean"},
    }
    return {
        "type": "object",
        "required": ["model", "input"],
        "properties": _parameters(responses_request.KNOWN, typed, {}),
        "additionalProperties": False,
        "description": f"OpenAI's CreateResponse ({OPENAI_REF}/responses).",
        "example": {"model": "gpt-4o", "input": "Hello"},
    }


ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"type": "string", "enum": ["error"]},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
        "request_id": {"type": "string"},
    },
}
FIGURES = {
    "type": "object",
    "required": [
        "requests",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cost_usd",
    ],
    "properties": {
        "period": {"type": "string"},
        "requests": {"type": "integer"},
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "cache_read_input_tokens": {"type": "integer"},
        "cache_creation_input_tokens": {"type": "integer"},
        "cost_usd": {"type": "number"},
    },
}
USAGE = {
    "type": "object",
    "required": ["object", "data", "admin"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "admin": {"type": "boolean"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["object", "key", "total", "day", "month", "budgets"],
                "properties": {
                    "object": {"type": "string", "enum": ["usage"]},
                    "key": {"type": "string"},
                    "total": FIGURES,
                    "day": FIGURES,
                    "month": FIGURES,
                    "budgets": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "upstream_accounts": {
            "type": "array",
            "description": "spend per upstream account that served the turns (admin keys; all without ADMIN_API_KEYS)",
            "items": {
                "type": "object",
                "required": ["object", "account", "total", "day", "month"],
                "properties": {
                    "object": {"type": "string", "enum": ["upstream_usage"]},
                    "account": {"type": "string"},
                    "total": FIGURES,
                    "day": FIGURES,
                    "month": FIGURES,
                },
            },
        },
    },
}
_WINDOW = {
    "type": "object",
    "required": ["utilization", "status", "resets_at", "resets_in_s"],
    "properties": {
        "utilization": {"type": "number", "nullable": True, "description": "share of the window used, 0-1"},
        "status": {"type": "string", "nullable": True, "enum": ["allowed", "allowed_warning", "rejected", None]},
        "resets_at": {"type": "number", "nullable": True, "description": "Unix time"},
        "resets_in_s": {"type": "integer", "nullable": True},
    },
}
LIMITS = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["object", "name", "kind", "status", "limited", "windows"],
                "properties": {
                    "object": {"type": "string", "enum": ["upstream_account"]},
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["default", "login", "api_key", "oauth_token", "env"]},
                    "status": {"type": "string", "nullable": True},
                    "limited": {"type": "boolean"},
                    "limited_window": {"type": "string", "nullable": True},
                    "limited_until": {"type": "number", "nullable": True},
                    "retry_after_s": {"type": "integer", "nullable": True},
                    "windows": {"type": "object", "additionalProperties": _WINDOW},
                    "updated_at": {"type": "number", "nullable": True},
                    "cooling_down_until": {"type": "number", "nullable": True},
                },
            },
        },
    },
}
SESSION = {
    "type": "object",
    "required": ["id", "object", "created_at", "metadata", "message_count"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["session"]},
        "created_at": {"type": "integer"},
        "updated_at": {"type": "integer"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "message_count": {"type": "integer"},
        "messages": {"type": "array", "items": {"type": "object"}},
    },
}
LIST = {
    "type": "object",
    "required": ["object", "data", "has_more"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": {}},
        "has_more": {"type": "boolean"},
        "first_id": {"type": "string", "nullable": True},
        "last_id": {"type": "string", "nullable": True},
    },
}


def _sse(data: str) -> dict[str, Any]:
    """One server-sent event; `data` holds JSON text (or `[DONE]` at the end of a chat stream)."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"event": {"type": "string"}, "data": {"type": "string", "description": data}},
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ref("Error"), "an OpenAI-format error") for code in codes}


def _anthropic_errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ref("AnthropicError"), "an Anthropic-format error") for code in codes}


def _op(
    op_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    tag: str = "OpenAI",
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = {
            "required": bool(body.get("required")),
            "content": {"application/json": {"schema": body}},
        }
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{SAFE_ID_CHARS}$"},
    }


PAGE = [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
]


def build() -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {}
    for model in (schemas.ModelList, schemas.ChatCompletion, schemas.ChatCompletionChunk):
        model_schema(model, components)
    components.update({"Error": error_schema(), "AnthropicError": ANTHROPIC_ERROR, "Session": SESSION, "List": LIST})
    auth_errors = _errors(400, 401, 404, 429)
    anthropic_codes = (400, 401, 404, 405, 413, 429, 500, 504, 529)
    messages_body = {
        "type": "object",
        "required": ["model", "messages", "max_tokens"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            "max_tokens": {"type": "integer", "minimum": 1},
            "stream": {"type": "boolean"},
        },
        "description": f"Anthropic's Messages request ({ANTHROPIC_REF}); see the README for what is mapped.",
        "example": {
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "Hello"}],
        },
    }
    count_body = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        },
        "description": f"Anthropic's token-counting request ({ANTHROPIC_REF}/count_tokens).",
    }
    sessions_errors = _errors(400, 401, 404, 429, 503)
    model_id = {
        "name": "model_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 256},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Claude OpenAI Bridge",
            "version": __version__,
            "description": "An OpenAI-compatible API answered by warm Claude Code CLI processes.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "tags": [
            {"name": "OpenAI", "description": "The OpenAI endpoints this bridge serves."},
            {"name": "Anthropic", "description": "Anthropic's Messages API, answered by the same pool."},
            {"name": "Sessions", "description": "Server-side conversations (this bridge's extension)."},
            {"name": "Service", "description": "Status, metrics and this description."},
        ],
        "paths": {
            "/": {
                "get": {
                    **_op(
                        "getIndex",
                        "Name, version, features and links",
                        {"200": _json({"type": "object"})},
                        tag="Service",
                    ),
                    "security": [],
                }
            },
            "/health": {
                "get": {
                    **_op(
                        "getHealth",
                        "Pool, CLI and authentication status (503 when no model request can be answered)",
                        {"200": _json({"type": "object"}), "503": _json({"type": "object"})},
                        tag="Service",
                    ),
                    "security": [],
                }
            },
            "/metrics": {
                "get": {
                    **_op(
                        "getMetrics",
                        "Prometheus metrics",
                        {"200": {"description": "text exposition format"}},
                        tag="Service",
                    ),
                    "security": [],
                }
            },
            "/openapi.json": {
                "get": {
                    **_op("getOpenapi", "This description", {"200": _json({"type": "object"})}, tag="Service"),
                    "security": [],
                }
            },
            "/v1/models": {"get": _op("listModels", "List models", {"200": _json(_ref("ModelList")), **auth_errors})},
            "/v1/models/{model_id}": {
                "get": _op(
                    "retrieveModel",
                    "Retrieve a model",
                    {"200": _json(_ref("ModelCard")), **auth_errors},
                    params=[model_id],
                )
            },
            "/v1/chat/completions": {
                "post": _op(
                    "createChatCompletion",
                    "Create a chat completion (text/event-stream of ChatCompletionChunk when stream is true)",
                    {
                        "200": {
                            "description": "a chat.completion, or a stream of chat.completion.chunk events",
                            "content": {
                                "application/json": {"schema": _ref("ChatCompletion")},
                                "text/event-stream": {
                                    "schema": _sse("a ChatCompletionChunk as JSON, an error object, or [DONE]")
                                },
                            },
                        },
                        **_errors(400, 401, 404, 413, 429, 500, 502, 503, 504),
                    },
                    body=chat_body(),
                )
            },
            "/v1/messages": {
                "post": _op(
                    "createMessage",
                    "Create a message (Anthropic's Messages API; text/event-stream when stream is true)",
                    {
                        "200": {
                            "description": "a message, or a stream of Anthropic's message events",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": _sse("an Anthropic message event as JSON")},
                            },
                        },
                        **_anthropic_errors(*anthropic_codes),
                    },
                    body=messages_body,
                    tag="Anthropic",
                )
            },
            "/v1/messages/count_tokens": {
                "post": _op(
                    "countTokens",
                    "Count a request's input tokens with the CLI",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["input_tokens"],
                                "properties": {"input_tokens": {"type": "integer"}},
                            }
                        ),
                        **_anthropic_errors(*anthropic_codes),
                    },
                    body=count_body,
                    tag="Anthropic",
                )
            },
            "/v1/usage": {
                "get": _op(
                    "getUsage",
                    "Spend of the caller's key (every key's for an admin key)",
                    {"200": _json(USAGE), **_errors(400, 401, 403, 429)},
                    params=[
                        {
                            "name": "key",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^(key_[0-9a-f]{10}|anonymous)$"},
                        }
                    ],
                    tag="Service",
                )
            },
            "/v1/limits": {
                "get": _op(
                    "getLimits",
                    "Plan windows of each upstream account (admin keys only when ADMIN_API_KEYS is set)",
                    {"200": _json(LIMITS), **_errors(401, 403, 429)},
                    tag="Service",
                )
            },
            "/v1/responses": {
                "post": _op(
                    "createResponse",
                    "Create a response (text/event-stream of response events when stream is true)",
                    {
                        "200": {
                            "description": "a response, or a stream of response events",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": _sse("a response stream event as JSON")},
                            },
                        },
                        **_errors(400, 401, 404, 413, 429, 502, 503, 504),
                    },
                    body=responses_body(),
                ),
                "get": _op(
                    "listResponses",
                    "List stored responses",
                    {"200": _json(_ref("List")), **sessions_errors},
                    params=PAGE,
                ),
            },
            "/v1/responses/{response_id}": {
                "get": _op(
                    "retrieveResponse",
                    "Retrieve a stored response",
                    {"200": _json({"type": "object"}), **_errors(400, 401, 404, 429, 500, 503)},
                    params=[_path_param("response_id")],
                ),
                "delete": _op(
                    "deleteResponse",
                    "Delete a stored response",
                    {"200": _json({"type": "object"}), **sessions_errors},
                    params=[_path_param("response_id")],
                ),
            },
            "/v1/responses/{response_id}/input_items": {
                "get": _op(
                    "listInputItems",
                    "List a response's input items",
                    {"200": _json(_ref("List")), **_errors(400, 401, 404, 429, 500, 503)},
                    params=[_path_param("response_id"), *PAGE],
                )
            },
            "/v1/sessions": {
                "post": _op(
                    "createSession",
                    "Create a session",
                    {"200": _json(_ref("Session")), **sessions_errors},
                    body={
                        "type": "object",
                        "properties": {
                            "metadata": {"type": "object", "nullable": True, "additionalProperties": {"type": "string"}}
                        },
                    },
                    tag="Sessions",
                ),
                "get": _op(
                    "listSessions",
                    "List sessions, newest first",
                    {"200": _json(_ref("List")), **sessions_errors},
                    params=PAGE,
                    tag="Sessions",
                ),
            },
            "/v1/sessions/{session_id}": {
                "get": _op(
                    "retrieveSession",
                    "A session with its messages",
                    {"200": _json(_ref("Session")), **_errors(400, 401, 404, 429, 500, 503)},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                ),
                "delete": _op(
                    "deleteSession",
                    "Delete a session",
                    {"200": _json({"type": "object"}), **sessions_errors},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                ),
            },
            "/v1/sessions/{session_id}/clear": {
                "post": _op(
                    "clearSession",
                    "Empty a session",
                    {"200": _json(_ref("Session")), **_errors(400, 401, 404, 429, 500, 503)},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                )
            },
            "/v1/security": {
                "get": _op(
                    "getSecurity",
                    "The effective security configuration",
                    {"200": _json({"type": "object"}), **auth_errors},
                    tag="Service",
                )
            },
        },
    }
