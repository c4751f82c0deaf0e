"""Request and response models of the OpenAI chat API, as attrs classes.

Requests are frozen values produced by `bridge.validation` (which owns the error messages);
responses are unstructured to JSON by `bridge.convert`. Fields that OpenAI always sends, even
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
class ChatMessageIn:
    role: str
    content: str | tuple[TextPart, ...] | None
    name: str | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


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
    # Accepted but not applied by Claude Code (see the README's parameter table); echoed in the
    # X-Bridge-Unapplied-Params response header so a client can tell.
    unapplied: tuple[str, ...] = ()


# -- responses ------------------------------------------------------------------------------


@attrs.frozen
class PromptTokensDetails:
    cached_tokens: int = 0
    audio_tokens: int = 0


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
class AssistantMessageOut:
    content: str | None
    refusal: str | None = attrs.field(default=None, metadata={"always": True})
    role: str = "assistant"


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
class Delta:
    role: str | None = None
    content: str | None = None
    refusal: str | None = None


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
