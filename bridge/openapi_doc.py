"""Our own API description (GET /openapi.json): the OpenAI endpoints served, Anthropic's Messages
API, sessions, spend per key, security.

Request bodies are described loosely (OpenAI's own reference is authoritative for them);
responses are described precisely enough for schemathesis to check what the server returns.
"""

from __future__ import annotations

from typing import Any

from bridge import __version__

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
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
        "object": {"const": "list"},
        "admin": {"type": "boolean"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["object", "key", "total", "day", "month", "budgets"],
                "properties": {
                    "object": {"const": "usage"},
                    "key": {"type": "string"},
                    "total": FIGURES,
                    "day": FIGURES,
                    "month": FIGURES,
                    "budgets": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}
ANTHROPIC_REF = "https://docs.anthropic.com/en/api/messages"
MODEL = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}
SESSION = {
    "type": "object",
    "required": ["id", "object", "created_at", "metadata", "message_count"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "session"},
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
        "object": {"const": "list"},
        "data": {"type": "array"},
        "has_more": {"type": "boolean"},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
    },
}
MODEL_LIST = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": MODEL}},
}
OPENAI_REF = "https://platform.openai.com/docs/api-reference"


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json({"$ref": "#/components/schemas/Error"}, "an OpenAI-format error") for code in codes}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    tag: str = "OpenAI",
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = {
            "required": "properties" not in body or bool(body.get("required")),
            "content": {"application/json": {"schema": body}},
        }
    if params:
        op["parameters"] = params
    return op


def _anthropic_errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): _json({"$ref": "#/components/schemas/AnthropicError"}, "an Anthropic-format error") for code in codes
    }


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
    }


PAGE = [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
]


def build() -> dict[str, Any]:
    chat_body = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1},
            "stream": {"type": "boolean"},
            "session_id": {"type": "string"},
        },
        "description": f"OpenAI's CreateChatCompletionRequest ({OPENAI_REF}/chat); see the README's "
        "parameter table for what is supported, mapped or refused.",
    }
    responses_body = {
        "type": "object",
        "required": ["model", "input"],
        "properties": {"model": {"type": "string"}, "input": {}, "stream": {"type": "boolean"}},
        "description": f"OpenAI's CreateResponse ({OPENAI_REF}/responses).",
    }
    messages_body = {
        "type": "object",
        "required": ["model", "messages", "max_tokens"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1},
            "max_tokens": {"type": "integer", "minimum": 1},
            "stream": {"type": "boolean"},
        },
        "description": f"Anthropic's Messages request ({ANTHROPIC_REF}); see the README for what is mapped.",
    }
    count_body = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {"model": {"type": "string"}, "messages": {"type": "array", "minItems": 1}},
        "description": f"Anthropic's token-counting request ({ANTHROPIC_REF}/count_tokens).",
    }
    anthropic_codes = (400, 401, 404, 405, 413, 429, 500, 504, 529)
    auth_errors = _errors(400, 401, 404, 429)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Claude OpenAI Bridge",
            "version": __version__,
            "description": "An OpenAI-compatible API answered by warm Claude Code CLI processes.",
        },
        "components": {
            "schemas": {
                "Error": ERROR,
                "AnthropicError": ANTHROPIC_ERROR,
                "Model": MODEL,
                "Session": SESSION,
                "List": LIST,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {
                    **_op(
                        "Pool and CLI status",
                        {"200": _json({"type": "object"}), "503": _json({"type": "object"})},
                        tag="Service",
                    ),
                    "security": [],
                }
            },
            "/metrics": {
                "get": {
                    **_op("Prometheus metrics", {"200": {"description": "text exposition format"}}, tag="Service"),
                    "security": [],
                }
            },
            "/v1/models": {"get": _op("List models", {"200": _json(MODEL_LIST), **auth_errors})},
            "/v1/models/{model_id}": {
                "get": _op("Retrieve a model", {"200": _json(MODEL), **auth_errors}, params=[_path_param("model_id")])
            },
            "/v1/chat/completions": {
                "post": _op(
                    "Create a chat completion (text/event-stream when stream is true)",
                    {
                        "200": {
                            "description": "a chat.completion, or a stream of chat.completion.chunk events",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 401, 404, 413, 429, 500, 502, 503, 504),
                    },
                    body=chat_body,
                )
            },
            "/v1/messages": {
                "post": _op(
                    "Create a message (Anthropic's Messages API; text/event-stream when stream is true)",
                    {
                        "200": {
                            "description": "a message, or a stream of Anthropic's message events",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
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
            "/v1/responses": {
                "post": _op(
                    "Create a response",
                    {"200": _json({"type": "object"}), **_errors(400, 401, 404, 429, 502, 503, 504)},
                    body=responses_body,
                ),
                "get": _op("List stored responses", {"200": _json(LIST), **auth_errors}, params=PAGE),
            },
            "/v1/responses/{response_id}": {
                "get": _op(
                    "Retrieve a stored response",
                    {"200": _json({"type": "object"}), **auth_errors},
                    params=[_path_param("response_id")],
                ),
                "delete": _op(
                    "Delete a stored response",
                    {"200": _json({"type": "object"}), **auth_errors},
                    params=[_path_param("response_id")],
                ),
            },
            "/v1/responses/{response_id}/input_items": {
                "get": _op(
                    "List a response's input items",
                    {"200": _json(LIST), **auth_errors},
                    params=[_path_param("response_id"), *PAGE],
                )
            },
            "/v1/sessions": {
                "post": _op(
                    "Create a session",
                    {"200": _json({"$ref": "#/components/schemas/Session"}), **auth_errors},
                    body={
                        "type": "object",
                        "properties": {
                            "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
                        },
                    },
                    tag="Sessions",
                ),
                "get": _op(
                    "List sessions, newest first", {"200": _json(LIST), **auth_errors}, params=PAGE, tag="Sessions"
                ),
            },
            "/v1/sessions/{session_id}": {
                "get": _op(
                    "A session with its messages",
                    {"200": _json({"$ref": "#/components/schemas/Session"}), **_errors(400, 401, 404, 429, 500)},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                ),
                "delete": _op(
                    "Delete a session",
                    {"200": _json({"type": "object"}), **auth_errors},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                ),
            },
            "/v1/sessions/{session_id}/clear": {
                "post": _op(
                    "Empty a session",
                    {"200": _json({"$ref": "#/components/schemas/Session"}), **auth_errors},
                    params=[_path_param("session_id")],
                    tag="Sessions",
                )
            },
            "/v1/security": {
                "get": _op(
                    "The effective security configuration",
                    {"200": _json({"type": "object"}), **auth_errors},
                    tag="Service",
                )
            },
        },
    }
