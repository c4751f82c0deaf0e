"""HTTP handlers: thin, they parse, call translation and the supervisor, and raise domain errors."""
