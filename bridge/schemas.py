"""Request and response models of the OpenAI chat API, as attrs classes.

Requests are frozen values produced by `bridge.validation` (which owns the error messages);
responses are unstructured to JSON by `bridge.json_boundary`. Fields that OpenAI always sends, even
as null (`refusal`, `logprobs`, `finish_reason`), have no default so they are always emitted;
optional ones default to None and are left out.
"""

from __future__ import annotations

from typing import Any

import attrs

# -- requests -------------------------------------------------------------------------------


@attrs.frozen
class TextPart:
    text: str
    type: str = "text"


@attrs.frozen
class ImagePart:
    """An image from a `data:` URL, checked and ready to become an Anthropic image block."""

    media_type: str
    data: str = attrs.field(repr=lambda d: f"<{len(d)} base64 chars>")
    type: str = "image"


@attrs.frozen
class ImageUrlPart:
    """An image by URL (the Messages API's url source): Anthropic fetches it, the bridge never does."""

    url: str
    type: str = "image_url"


Part = TextPart | ImagePart | ImageUrlPart


@attrs.frozen
class ToolCallIn:
    """An earlier assistant call of a client function, as the client sends it back."""

    id: str
    name: str
    arguments: dict[str, Any]


@attrs.frozen
class ChatMessageIn:
    role: str  # system, developer, user, assistant, tool (legacy `function` messages become `tool`)
    content: str | tuple[Part, ...] | None
    name: str | None = None
    tool_calls: tuple[ToolCallIn, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False  # a tool result that reports a failure (the Messages API's `is_error`)

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@attrs.frozen
class FunctionDef:
    name: str
    description: str
    parameters: str  # canonical JSON of the JSON Schema


@attrs.frozen
class ResponseFormat:
    kind: str  # json_object | json_schema
    schema: str  # canonical JSON of the schema the content must match
    name: str | None = None


@attrs.frozen
class StreamOptions:
    include_usage: bool = False


@attrs.frozen
class ChatCompletionRequest:
    model: str
    messages: tuple[ChatMessageIn, ...]
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    user: str | None = None
    tools: tuple[FunctionDef, ...] = ()
    tool_choice: str = "auto"  # auto | none | required | function
    tool_choice_name: str | None = None
    parallel_tool_calls: bool = True
    legacy_functions: bool = False  # `functions` was used: answer with `function_call`
    response_format: ResponseFormat | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    max_thinking_tokens: int | None = None  # a thinking budget (the Messages API's `thinking`); 0 is off
    show_reasoning: bool = False  # reasoning_effort asked for reasoning: Claude's thinking is returned
    web_search: bool = False  # web_search_options was sent (web security mode only)
    # Accepted but not applied by Claude Code (see the README's parameter table); echoed in the
    # X-Bridge-Unapplied-Params response header so a client can tell.
    unapplied: tuple[str, ...] = ()


# -- responses ------------------------------------------------------------------------------


@attrs.frozen
class PromptTokensDetails:
    cached_tokens: int = 0
    audio_tokens: int = 0
    cache_write_tokens: int = 0


@attrs.frozen
class CompletionTokensDetails:
    reasoning_tokens: int = 0
    audio_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0


@attrs.frozen
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = PromptTokensDetails()
    completion_tokens_details: CompletionTokensDetails = CompletionTokensDetails()


@attrs.frozen
class FunctionCallOut:
    name: str
    arguments: str


@attrs.frozen
class ToolCallOut:
    id: str
    function: FunctionCallOut
    type: str = "function"


@attrs.frozen
class UrlCitationOut:
    url: str
    title: str
    start_index: int
    end_index: int


@attrs.frozen
class AnnotationOut:
    url_citation: UrlCitationOut
    type: str = "url_citation"


@attrs.frozen
class AssistantMessageOut:
    content: str | None
    refusal: str | None = attrs.field(default=None, metadata={"always": True})
    role: str = "assistant"
    tool_calls: tuple[ToolCallOut, ...] | None = None
    function_call: FunctionCallOut | None = None
    # Claude's readable thinking, in the field DeepSeek, vLLM, LiteLLM and OpenRouter clients read
    reasoning_content: str | None = None
    annotations: tuple[AnnotationOut, ...] | None = None


@attrs.frozen
class Choice:
    index: int
    message: AssistantMessageOut
    finish_reason: str
    logprobs: Any = attrs.field(default=None, metadata={"always": True})


@attrs.frozen
class ChatCompletion:
    id: str
    created: int
    model: str
    choices: tuple[Choice, ...]
    usage: Usage | None = None
    object: str = "chat.completion"


@attrs.frozen
class FunctionCallDelta:
    name: str | None = None
    arguments: str | None = None


@attrs.frozen
class ToolCallDelta:
    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


@attrs.frozen
class Delta:
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] | None = None
    function_call: FunctionCallDelta | None = None
    reasoning_content: str | None = None
    annotations: tuple[AnnotationOut, ...] | None = None


@attrs.frozen
class ChunkChoice:
    index: int
    delta: Delta
    finish_reason: str | None = attrs.field(default=None, metadata={"always": True})
    logprobs: Any = attrs.field(default=None, metadata={"always": True})


@attrs.frozen
class ChatCompletionChunk:
    id: str
    created: int
    model: str
    choices: tuple[ChunkChoice, ...]
    # With stream_options.include_usage OpenAI sends "usage": null on every chunk but the last.
    usage: Usage | None = attrs.field(default=None, metadata={"when_requested": True})
    object: str = "chat.completion.chunk"


@attrs.frozen
class ModelCard:
    id: str
    created: int
    owned_by: str
    object: str = "model"


@attrs.frozen
class ModelList:
    data: tuple[ModelCard, ...]
    object: str = "list"
