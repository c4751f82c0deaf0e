"""Anthropic's request content blocks, field by field: types, required fields, nothing else. Data.

The shapes are those of Anthropic's Messages API reference, as the `anthropic` Python SDK
(2.10.0) declares them (`ContentBlockParam` and everything it refers to; object names are the
SDK's without `Param`). `tests/unit/test_block_table.py` compares this table with the installed
SDK, so a field the API adds or changes shows up there. What the bridge then does with a block
(passes it on, notes it as not applied, refuses it as unsupported) is `content.py`'s business:
this table only says whether Anthropic would accept the shape.
"""

from __future__ import annotations

from typing import Any

from bridge.messages.block_parts import CACHE, CALLER, PARTS
from bridge.messages.specs import (
    BOOLEAN,
    OBJECT,
    STRING,
    Field,
    any_of,
    check,
    list_of,
    lit,
    nullable,
    opt,
    ref,
    req,
    tagged,
)

BLOCKS: dict[str, dict[str, Field]] = {
    "TextBlock": {
        "text": req(STRING),
        "type": req(lit("text")),
        "cache_control": CACHE,
        "citations": opt(
            nullable(
                list_of(
                    tagged(
                        {
                            "char_location": "CitationCharLocation",
                            "page_location": "CitationPageLocation",
                            "content_block_location": "CitationContentBlockLocation",
                            "web_search_result_location": "CitationWebSearchResultLocation",
                            "search_result_location": "CitationSearchResultLocation",
                        }
                    )
                )
            )
        ),
    },
    "ImageBlock": {
        "source": req(tagged({"base64": "Base64ImageSource", "url": "URLImageSource", "file": "FileImageSource"})),
        "type": req(lit("image")),
        "cache_control": CACHE,
        "transformations": opt(nullable(ref("ImageTransformations"))),
    },
    "DocumentBlock": {
        "source": req(
            tagged(
                {
                    "base64": "Base64PDFSource",
                    "text": "PlainTextSource",
                    "content": "ContentBlockSource",
                    "url": "URLPDFSource",
                    "file": "FileDocumentSource",
                }
            )
        ),
        "type": req(lit("document")),
        "cache_control": CACHE,
        "citations": opt(nullable(ref("CitationsConfig"))),
        "context": opt(nullable(STRING)),
        "title": opt(nullable(STRING)),
    },
    "SearchResultBlock": {
        "content": req(list_of(ref("TextBlock"))),
        "source": req(STRING),
        "title": req(STRING),
        "type": req(lit("search_result")),
        "cache_control": CACHE,
        "citations": opt(ref("CitationsConfig")),
    },
    "ThinkingBlock": {"signature": req(STRING), "thinking": req(STRING), "type": req(lit("thinking"))},
    "RedactedThinkingBlock": {"data": req(STRING), "type": req(lit("redacted_thinking"))},
    "ToolUseBlock": {
        "id": req(STRING),
        "input": req(OBJECT),
        "name": req(STRING),
        "type": req(lit("tool_use")),
        "cache_control": CACHE,
        "caller": opt(CALLER),
        "toolset_name": opt(nullable(STRING)),
    },
    "ToolResultBlock": {
        "tool_use_id": req(STRING),
        "type": req(lit("tool_result")),
        "cache_control": CACHE,
        "content": opt(
            any_of(
                STRING,
                list_of(
                    tagged(
                        {
                            "text": "TextBlock",
                            "image": "ImageBlock",
                            "search_result": "SearchResultBlock",
                            "document": "DocumentBlock",
                            "tool_reference": "ToolReferenceBlock",
                            "browser_state": "BrowserStateBlock",
                        }
                    )
                ),
            )
        ),
        "is_error": opt(BOOLEAN),
        "toolset_name": opt(nullable(STRING)),
    },
    "ServerToolUseBlock": {
        "id": req(STRING),
        "input": req(OBJECT),
        "name": req(
            lit(
                "web_search",
                "web_fetch",
                "code_execution",
                "bash_code_execution",
                "text_editor_code_execution",
                "tool_search_tool_regex",
                "tool_search_tool_bm25",
            )
        ),
        "type": req(lit("server_tool_use")),
        "cache_control": CACHE,
        "caller": opt(CALLER),
    },
    "WebSearchToolResultBlock": {
        "content": req(any_of(list_of(ref("WebSearchResultBlock")), ref("WebSearchToolRequestErrorObject"))),
        "tool_use_id": req(STRING),
        "type": req(lit("web_search_tool_result")),
        "cache_control": CACHE,
        "caller": opt(CALLER),
    },
    "WebFetchToolResultBlock": {
        "content": req(
            tagged({"web_fetch_tool_result_error": "WebFetchToolResultErrorBlock", "web_fetch_result": "WebFetchBlock"})
        ),
        "tool_use_id": req(STRING),
        "type": req(lit("web_fetch_tool_result")),
        "cache_control": CACHE,
        "caller": opt(CALLER),
    },
    "CodeExecutionToolResultBlock": {
        "content": req(
            tagged(
                {
                    "code_execution_tool_result_error": "CodeExecutionToolResultError",
                    "code_execution_result": "CodeExecutionResultBlock",
                    "encrypted_code_execution_result": "EncryptedCodeExecutionResultBlock",
                }
            )
        ),
        "tool_use_id": req(STRING),
        "type": req(lit("code_execution_tool_result")),
        "cache_control": CACHE,
    },
    "BashCodeExecutionToolResultBlock": {
        "content": req(
            tagged(
                {
                    "bash_code_execution_tool_result_error": "BashCodeExecutionToolResultError",
                    "bash_code_execution_result": "BashCodeExecutionResultBlock",
                }
            )
        ),
        "tool_use_id": req(STRING),
        "type": req(lit("bash_code_execution_tool_result")),
        "cache_control": CACHE,
    },
    "TextEditorCodeExecutionToolResultBlock": {
        "content": req(
            tagged(
                {
                    "text_editor_code_execution_tool_result_error": "TextEditorCodeExecutionToolResultError",
                    "text_editor_code_execution_view_result": "TextEditorCodeExecutionViewResultBlock",
                    "text_editor_code_execution_create_result": "TextEditorCodeExecutionCreateResultBlock",
                    "text_editor_code_execution_str_replace_result": "TextEditorCodeExecutionStrReplaceResultBlock",
                }
            )
        ),
        "tool_use_id": req(STRING),
        "type": req(lit("text_editor_code_execution_tool_result")),
        "cache_control": CACHE,
    },
    "ToolSearchToolResultBlock": {
        "content": req(
            tagged(
                {
                    "tool_search_tool_result_error": "ToolSearchToolResultError",
                    "tool_search_tool_search_result": "ToolSearchToolSearchResultBlock",
                }
            )
        ),
        "tool_use_id": req(STRING),
        "type": req(lit("tool_search_tool_result")),
        "cache_control": CACHE,
    },
    "ContainerUploadBlock": {
        "file_id": req(STRING),
        "type": req(lit("container_upload")),
        "cache_control": CACHE,
    },
}
OBJECTS = {**BLOCKS, **PARTS}

# A message's content block (the SDK's ContentBlockParam), by its `type`.
CONTENT_BLOCK = tagged(
    {
        "text": "TextBlock",
        "image": "ImageBlock",
        "document": "DocumentBlock",
        "search_result": "SearchResultBlock",
        "thinking": "ThinkingBlock",
        "redacted_thinking": "RedactedThinkingBlock",
        "tool_use": "ToolUseBlock",
        "tool_result": "ToolResultBlock",
        "server_tool_use": "ServerToolUseBlock",
        "web_search_tool_result": "WebSearchToolResultBlock",
        "web_fetch_tool_result": "WebFetchToolResultBlock",
        "code_execution_tool_result": "CodeExecutionToolResultBlock",
        "bash_code_execution_tool_result": "BashCodeExecutionToolResultBlock",
        "text_editor_code_execution_tool_result": "TextEditorCodeExecutionToolResultBlock",
        "tool_search_tool_result": "ToolSearchToolResultBlock",
        "container_upload": "ContainerUploadBlock",
    }
)
BLOCK_TYPES = frozenset(tag for tag, _ in CONTENT_BLOCK.tags)
TEXT_BLOCK = ref("TextBlock")
CACHE_CONTROL = ref("CacheControlEphemeral")


def check_block(path: str, block: Any) -> None:
    """A content block of a type Anthropic defines must have exactly its shape. A block of another
    type is left to the caller, which refuses it with the reason."""
    if isinstance(block, dict) and block.get("type") not in BLOCK_TYPES:
        return
    check(path, block, CONTENT_BLOCK, OBJECTS)
