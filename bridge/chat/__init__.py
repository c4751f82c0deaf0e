"""The chat completions front end: POST /v1/chat/completions, its sessions and its chunks."""
