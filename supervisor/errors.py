"""What can go wrong below the HTTP layer, as domain exceptions the bridge maps to OpenAI errors."""

from __future__ import annotations

from supervisor.auth import not_logged_in


class SupervisorError(Exception):
    """Base class: every error the supervisor raises to its callers."""


class QueueFull(SupervisorError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("all Claude slots are busy and the wait queue is full")
        self.retry_after = retry_after


class QueueTimeout(SupervisorError):
    def __init__(self, waited: float, retry_after: float) -> None:
        super().__init__(f"no Claude slot became free within {waited:.1f}s")
        self.retry_after = retry_after


class PoolUnavailable(SupervisorError):
    """No CLI process can be started (bad CLAUDE_COMMAND, broken install, ...)."""


class PoolClosed(SupervisorError):
    """The server is shutting down and takes no new turns."""


class TurnTimeout(SupervisorError):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"the Claude turn did not finish within {timeout:g}s")
        self.timeout = timeout


class SlotDied(SupervisorError):
    """The CLI process ended in the middle of a turn."""


class ControlError(SupervisorError):
    """The CLI answered a control request with an error."""


class PlanLimited(SupervisorError):
    """Every upstream account that could take the turn has a plan window that ran out."""

    def __init__(self, message: str, window: str | None, resets_at: float, retry_after: float) -> None:
        super().__init__(message)
        self.window = window
        self.resets_at = resets_at
        self.retry_after = retry_after


class UpstreamError(SupervisorError):
    """The CLI reported an API error (`result.is_error`)."""

    def __init__(self, message: str, status: int | None, terminal_reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.terminal_reason = terminal_reason

    @property
    def timed_out(self) -> bool:
        return self.status is None and "timed out" in str(self).lower()

    @property
    def not_authenticated(self) -> bool:
        """The CLI has no credentials at all (not a rejected key: that is a 401)."""
        return self.status is None and not_logged_in(str(self))

    @property
    def transient(self) -> bool:
        """Worth another attempt: overload, rate limits, server errors, dropped connections."""
        if self.not_authenticated:
            return False
        if self.status is None:
            return not self.timed_out and self.terminal_reason == "api_error"
        return self.status in (408, 409, 429) or self.status >= 500
