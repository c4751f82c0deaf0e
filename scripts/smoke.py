"""A short end-to-end check of a running bridge with the openai client.

    BASE_URL=http://127.0.0.1:8000/v1 API_KEY=... make smoke

Exercises: the model list, a completion, a stream, a tool call, and a session.
"""

from __future__ import annotations

import os
import sys
import time

import openai


def main() -> int:
    base = os.environ.get("BASE_URL", "http://127.0.0.1:8000/v1")
    client = openai.OpenAI(base_url=base, api_key=os.environ.get("API_KEY", "none"), max_retries=0, timeout=120)
    model = os.environ.get("MODEL", "gpt-4o-mini")
    steps = []

    def step(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 - report every failure and go on
            steps.append((name, False, f"{type(exc).__name__}: {exc}"))
            return
        steps.append((name, True, f"{detail} ({(time.perf_counter() - started) * 1000:.0f} ms)"))

    step("models", lambda: f"{len(client.models.list().data)} models")
    step(
        "completion",
        lambda: (
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Say hello in three words."}]
            )
            .choices[0]
            .message.content
        ),
    )

    def stream() -> str:
        chunks = client.chat.completions.create(
            model=model, stream=True, messages=[{"role": "user", "content": "Count to five."}]
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    step("stream", stream)

    def tool() -> str:
        weather = {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
        resp = client.chat.completions.create(
            model=model,
            tools=[weather],
            tool_choice="required",  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        )
        calls = resp.choices[0].message.tool_calls or []
        if not calls or resp.choices[0].finish_reason != "tool_calls":
            raise AssertionError(f"no tool call (finish_reason={resp.choices[0].finish_reason})")
        return f"calls={[c.function.name for c in calls]} arguments={calls[0].function.arguments}"

    step("tool call", tool)

    def session() -> str:
        sid = f"sess_smoke_{int(time.time())}"
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "My name is Zed."}], extra_body={"session_id": sid}
        )
        again = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "My name?"}], extra_body={"session_id": sid}
        )
        return str(again.choices[0].message.content)

    step("session", session)
    for name, ok, detail in steps:
        print(f"{'ok  ' if ok else 'FAIL'} {name:<11} {detail}")
    return 0 if all(ok for _, ok, _ in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
