"""A valid example of every Messages API content block type (Anthropic accepts each of these shapes)."""

from __future__ import annotations

from typing import Any

# A valid example of every block type (Anthropic accepts each of these shapes).
CACHE = {"type": "ephemeral", "ttl": "5m"}


CITATION = {
    "type": "char_location",
    "cited_text": "x",
    "document_index": 0,
    "document_title": None,
    "start_char_index": 0,
    "end_char_index": 1,
}


TEXT = {"type": "text", "text": "hi", "cache_control": CACHE, "citations": [CITATION]}


IMAGE = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    "cache_control": CACHE,
}


DOCUMENT = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
    "title": "t",
    "context": "c",
    "citations": {"enabled": True},
}


EXAMPLES: dict[str, dict[str, Any]] = {
    "text": TEXT,
    "image": IMAGE,
    "document": DOCUMENT,
    "search_result": {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "r"}]},
    "thinking": {"type": "thinking", "thinking": "hmm", "signature": "sig"},
    "redacted_thinking": {"type": "redacted_thinking", "data": "opaque"},
    "tool_use": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}, "caller": {"type": "direct"}},
    "tool_result": {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "r"}],
        "is_error": False,
    },
    "server_tool_use": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    "web_search_tool_result": {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [{"type": "web_search_result", "url": "https://e.com", "title": "t", "encrypted_content": "e"}],
    },
    "web_fetch_tool_result": {
        "type": "web_fetch_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {"type": "web_fetch_result", "url": "https://e.com", "content": DOCUMENT},
    },
    "code_execution_tool_result": {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_3",
        "content": {"type": "code_execution_result", "stdout": "", "stderr": "", "return_code": 0, "content": []},
    },
    "bash_code_execution_tool_result": {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "srvtoolu_4",
        "content": {"type": "bash_code_execution_tool_result_error", "error_code": "unavailable"},
    },
    "text_editor_code_execution_tool_result": {
        "type": "text_editor_code_execution_tool_result",
        "tool_use_id": "srvtoolu_5",
        "content": {"type": "text_editor_code_execution_create_result", "is_file_update": False},
    },
    "tool_search_tool_result": {
        "type": "tool_search_tool_result",
        "tool_use_id": "srvtoolu_6",
        "content": {
            "type": "tool_search_tool_search_result",
            "tool_references": [{"type": "tool_reference", "tool_name": "f"}],
        },
    },
    "container_upload": {"type": "container_upload", "file_id": "file_1"},
}
