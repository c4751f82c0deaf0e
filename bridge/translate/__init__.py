"""OpenAI <-> CLI translation: pure functions, no I/O."""
