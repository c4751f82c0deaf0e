"""What one turn asks of a slot: the contract between the bridge's translation and the supervisor."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from supervisor.launch import DEFAULT_PROFILE, ClientTool, LaunchProfile

Content = str | list[dict[str, Any]]


@attrs.frozen
class Line:
    """One earlier conversation message, replayed into the CLI without an upstream call.

    An assistant line may start with the signed thinking blocks it was answered with, and name
    the upstream model that signed them: the CLI drops thinking blocks from a replayed message
    whose `model` is not the model it is about to call.
    """

    role: Literal["user", "assistant"]
    content: Content
    thinking: tuple[dict[str, Any], ...] = ()
    model: str | None = None


@attrs.frozen
class TurnSettings:
    """Per-turn knobs applied to a warm process with `apply_flag_settings` (None: the CLI default)."""

    effort: str | None = None
    max_output_tokens: int | None = None
    # `set_max_thinking_tokens`: a budget (0 turns thinking off) on models with budgeted thinking;
    # the CLI sends adaptive thinking to models that have it, whatever this says.
    max_thinking_tokens: int | None = None
    # "summarized" asks for readable thinking (set_max_thinking_tokens); None: the CLI default
    thinking_display: str | None = None


@attrs.frozen
class ReAsk:
    """A turn that must end in a call: structured output, or a deferred client tool call.

    When the turn's result has neither, `message` is sent in the same conversation, on the same
    process, up to `times` times (see `supervisor.reask`).
    """

    message: Content
    times: int = 2


@attrs.frozen
class TurnSpec:
    """One turn: the conversation so far, the new message, and what the process must offer.

    `namespace` owns the conversation (a session, or a stateless client's API key): a process
    holding an earlier turn's conversation is only reused within it. `hold` says whether the
    answer may stay on the process for the next turn (the caller then reports the answer as
    the client will echo it back, see `TurnRunner.finish`).
    """

    model: str
    message: Content
    history: tuple[Line, ...] = ()
    profile: LaunchProfile = DEFAULT_PROFILE
    settings: TurnSettings = TurnSettings()
    system_prompt: str = attrs.field(default="", repr=lambda s: f"<{len(s)} chars>")
    client_tools: tuple[ClientTool, ...] = ()
    namespace: str = ""
    hold: bool = False
    reask: ReAsk | None = None
