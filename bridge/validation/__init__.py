"""Request validation: raw JSON in, typed attrs values out, OpenAI-style errors on the way."""

from bridge.validation.chat import parse_chat_request

__all__ = ["parse_chat_request"]
