"""Validation against OpenAI's own OpenAPI document (vendor/openai-openapi/openapi.yaml).

The document uses OpenAPI 3.0's `nullable: true`; JSON Schema 2020-12 needs that spelled as a
`null` type, so it is rewritten once on load (see that folder's README).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "vendor" / "openai-openapi" / "openapi.yaml"


def _denull(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _denull(v) for k, v in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
                node["type"] = [*kinds, "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_denull(v) for v in node]
    return node


@functools.cache
def _components() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=loader)
    return _denull(doc["components"])


@functools.cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": _components()})


def errors(name: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(instance)]


def assert_valid(name: str, instance: Any) -> None:
    problems = errors(name, instance)
    assert not problems, f"{name} violations:\n" + "\n".join(problems[:10]) + "\n" + json.dumps(instance)[:2000]


def sse_payloads(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    payloads = []
    for event in raw.decode().replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip() for line in event.split("\n") if line.startswith("data:")]
        if data:
            payloads.append("\n".join(data))
    return payloads
