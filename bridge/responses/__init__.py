"""The Responses API, translated onto the same chat machinery (validation, turns, outputs)."""
