"""The chat-completions functions the tool tests share (their exact text is what the fake upstream
sees), and the marker that makes the fake upstream call one."""

import json

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "Time now.", "parameters": {"type": "object", "properties": {}}},
}


def call(name: str, args: dict) -> str:  # type: ignore[type-arg]
    return f"<<tool:mcp__c__{name}:{json.dumps(args)}>>"
