"""The turn service every API front end shares: starting a request's choices on the pool, the
conversation a process may hold, usage and metrics, the stream and non-stream drivers, and
the mapping of what ended a turn to an error. It knows no API's wire format."""
