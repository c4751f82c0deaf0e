"""The Anthropic Messages API, translated into and out of the one internal conversation model."""
