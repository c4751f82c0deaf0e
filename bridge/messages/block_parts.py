"""The objects inside Anthropic's request content blocks (sources, citations, server tool results,
cache control ...), field by field. Data; see `block_table`, which uses them."""

from __future__ import annotations

from bridge.messages.specs import BOOLEAN, INTEGER, STRING, Field, any_of, list_of, lit, nullable, opt, ref, req, tagged

# Fields many blocks share.
CACHE = opt(nullable(ref("CacheControlEphemeral")))
CALLER = tagged(
    {
        "direct": "DirectCaller",
        "code_execution_20250825": "ServerToolCaller",
        "code_execution_20260120": "ServerToolCaller20260120",
    }
)

PARTS: dict[str, dict[str, Field]] = {
    "CacheControlEphemeral": {"type": req(lit("ephemeral")), "ttl": opt(lit("5m", "1h"))},
    "CitationCharLocation": {
        "cited_text": req(STRING),
        "document_index": req(INTEGER),
        "document_title": req(nullable(STRING)),
        "end_char_index": req(INTEGER),
        "start_char_index": req(INTEGER),
        "type": req(lit("char_location")),
    },
    "CitationPageLocation": {
        "cited_text": req(STRING),
        "document_index": req(INTEGER),
        "document_title": req(nullable(STRING)),
        "end_page_number": req(INTEGER),
        "start_page_number": req(INTEGER),
        "type": req(lit("page_location")),
    },
    "CitationContentBlockLocation": {
        "cited_text": req(STRING),
        "document_index": req(INTEGER),
        "document_title": req(nullable(STRING)),
        "end_block_index": req(INTEGER),
        "start_block_index": req(INTEGER),
        "type": req(lit("content_block_location")),
    },
    "CitationWebSearchResultLocation": {
        "cited_text": req(STRING),
        "encrypted_index": req(STRING),
        "title": req(nullable(STRING)),
        "type": req(lit("web_search_result_location")),
        "url": req(STRING),
    },
    "CitationSearchResultLocation": {
        "cited_text": req(STRING),
        "end_block_index": req(INTEGER),
        "search_result_index": req(INTEGER),
        "source": req(STRING),
        "start_block_index": req(INTEGER),
        "title": req(nullable(STRING)),
        "type": req(lit("search_result_location")),
    },
    "Base64ImageSource": {
        "data": req(STRING),
        "media_type": req(lit("image/jpeg", "image/png", "image/gif", "image/webp")),
        "type": req(lit("base64")),
    },
    "URLImageSource": {"type": req(lit("url")), "url": req(STRING)},
    "FileImageSource": {"file_id": req(STRING), "type": req(lit("file"))},
    "ImageTransformations": {"oversized_image": opt(lit("downsize", "error"))},
    "Base64PDFSource": {"data": req(STRING), "media_type": req(lit("application/pdf")), "type": req(lit("base64"))},
    "PlainTextSource": {"data": req(STRING), "media_type": req(lit("text/plain")), "type": req(lit("text"))},
    "ContentBlockSource": {
        "content": req(any_of(STRING, list_of(tagged({"text": "TextBlock", "image": "ImageBlock"})))),
        "type": req(lit("content")),
    },
    "URLPDFSource": {"type": req(lit("url")), "url": req(STRING)},
    "FileDocumentSource": {"file_id": req(STRING), "type": req(lit("file"))},
    "CitationsConfig": {"enabled": opt(BOOLEAN)},
    "DirectCaller": {"type": req(lit("direct"))},
    "ServerToolCaller": {"tool_id": req(STRING), "type": req(lit("code_execution_20250825"))},
    "ServerToolCaller20260120": {"tool_id": req(STRING), "type": req(lit("code_execution_20260120"))},
    "ToolReferenceBlock": {
        "tool_name": req(STRING),
        "type": req(lit("tool_reference")),
        "cache_control": CACHE,
    },
    "BrowserStateBlock": {
        "tabs": req(list_of(ref("BrowserStateTabEntry"))),
        "type": req(lit("browser_state")),
        "cache_control": CACHE,
        "state_changes": opt(
            nullable(
                list_of(
                    tagged(
                        {
                            "tab_opened": "BrowserStateChangeTabOpened",
                            "download_started": "BrowserStateChangeDownloadStarted",
                            "download_completed": "BrowserStateChangeDownloadCompleted",
                            "download_failed": "BrowserStateChangeDownloadFailed",
                        }
                    )
                )
            )
        ),
    },
    "WebSearchResultBlock": {
        "encrypted_content": req(STRING),
        "title": req(STRING),
        "type": req(lit("web_search_result")),
        "url": req(STRING),
        "page_age": opt(nullable(STRING)),
    },
    "WebSearchToolRequestErrorObject": {
        "error_code": req(
            lit(
                "invalid_tool_input",
                "unavailable",
                "max_uses_exceeded",
                "too_many_requests",
                "query_too_long",
                "request_too_large",
            )
        ),
        "type": req(lit("web_search_tool_result_error")),
    },
    "WebFetchToolResultErrorBlock": {
        "error_code": req(
            lit(
                "invalid_tool_input",
                "url_too_long",
                "url_not_allowed",
                "url_not_in_prior_context",
                "url_not_accessible",
                "unsupported_content_type",
                "too_many_requests",
                "max_uses_exceeded",
                "unavailable",
                "content_too_large",
            )
        ),
        "type": req(lit("web_fetch_tool_result_error")),
    },
    "WebFetchBlock": {
        "content": req(ref("DocumentBlock")),
        "type": req(lit("web_fetch_result")),
        "url": req(STRING),
        "retrieved_at": opt(nullable(STRING)),
    },
    "CodeExecutionToolResultError": {
        "error_code": req(lit("invalid_tool_input", "unavailable", "too_many_requests", "execution_time_exceeded")),
        "type": req(lit("code_execution_tool_result_error")),
    },
    "CodeExecutionResultBlock": {
        "content": req(list_of(ref("CodeExecutionOutputBlock"))),
        "return_code": req(INTEGER),
        "stderr": req(STRING),
        "stdout": req(STRING),
        "type": req(lit("code_execution_result")),
    },
    "EncryptedCodeExecutionResultBlock": {
        "content": req(list_of(ref("CodeExecutionOutputBlock"))),
        "encrypted_stdout": req(STRING),
        "return_code": req(INTEGER),
        "stderr": req(STRING),
        "type": req(lit("encrypted_code_execution_result")),
    },
    "BashCodeExecutionToolResultError": {
        "error_code": req(
            lit(
                "invalid_tool_input",
                "unavailable",
                "too_many_requests",
                "execution_time_exceeded",
                "output_file_too_large",
            )
        ),
        "type": req(lit("bash_code_execution_tool_result_error")),
    },
    "BashCodeExecutionResultBlock": {
        "content": req(list_of(ref("BashCodeExecutionOutputBlock"))),
        "return_code": req(INTEGER),
        "stderr": req(STRING),
        "stdout": req(STRING),
        "type": req(lit("bash_code_execution_result")),
    },
    "TextEditorCodeExecutionToolResultError": {
        "error_code": req(
            lit("invalid_tool_input", "unavailable", "too_many_requests", "execution_time_exceeded", "file_not_found")
        ),
        "type": req(lit("text_editor_code_execution_tool_result_error")),
        "error_message": opt(nullable(STRING)),
    },
    "TextEditorCodeExecutionViewResultBlock": {
        "content": req(STRING),
        "file_type": req(lit("text", "image", "pdf")),
        "type": req(lit("text_editor_code_execution_view_result")),
        "num_lines": opt(nullable(INTEGER)),
        "start_line": opt(nullable(INTEGER)),
        "total_lines": opt(nullable(INTEGER)),
    },
    "TextEditorCodeExecutionCreateResultBlock": {
        "is_file_update": req(BOOLEAN),
        "type": req(lit("text_editor_code_execution_create_result")),
    },
    "TextEditorCodeExecutionStrReplaceResultBlock": {
        "type": req(lit("text_editor_code_execution_str_replace_result")),
        "lines": opt(nullable(list_of(STRING))),
        "new_lines": opt(nullable(INTEGER)),
        "new_start": opt(nullable(INTEGER)),
        "old_lines": opt(nullable(INTEGER)),
        "old_start": opt(nullable(INTEGER)),
    },
    "ToolSearchToolResultError": {
        "error_code": req(lit("invalid_tool_input", "unavailable", "too_many_requests", "execution_time_exceeded")),
        "type": req(lit("tool_search_tool_result_error")),
        "error_message": opt(nullable(STRING)),
    },
    "ToolSearchToolSearchResultBlock": {
        "tool_references": req(list_of(ref("ToolReferenceBlock"))),
        "type": req(lit("tool_search_tool_search_result")),
    },
    "BrowserStateTabEntry": {"tab_id": req(STRING), "title": req(STRING), "url": req(STRING), "active": opt(BOOLEAN)},
    "BrowserStateChangeTabOpened": {"tab_id": req(STRING), "type": req(lit("tab_opened"))},
    "BrowserStateChangeDownloadStarted": {
        "download_id": req(STRING),
        "type": req(lit("download_started")),
        "url": req(STRING),
    },
    "BrowserStateChangeDownloadCompleted": {
        "download_id": req(STRING),
        "type": req(lit("download_completed")),
        "url": req(STRING),
        "path": opt(nullable(STRING)),
        "size_bytes": opt(nullable(INTEGER)),
    },
    "BrowserStateChangeDownloadFailed": {
        "download_id": req(STRING),
        "type": req(lit("download_failed")),
        "url": req(STRING),
        "error": opt(nullable(STRING)),
    },
    "CodeExecutionOutputBlock": {"file_id": req(STRING), "type": req(lit("code_execution_output"))},
    "BashCodeExecutionOutputBlock": {"file_id": req(STRING), "type": req(lit("bash_code_execution_output"))},
}
