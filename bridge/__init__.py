"""Claude OpenAI Bridge: an OpenAI-compatible HTTP API answered by warm Claude CLI processes."""

__version__ = "0.1.0"
