"""`tools`, `tool_choice`, legacy `functions`/`function_call`, and `response_format`."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from bridge.errors import InvalidRequest
from bridge.schemas import FunctionDef, ResponseFormat
from bridge.validation.common import canonical_json, invalid_type, invalid_value, max_items, missing

# Anthropic's tool names allow 64 characters; the CLI prefixes client tools with `mcp__c__`.
# \A...\Z, not ^...$: `$` also matches before a final newline.
NAME = re.compile(r"\A[a-zA-Z0-9_-]{1,56}\Z")
SCHEMA_NAME = re.compile(r"\A[a-zA-Z0-9_-]{1,64}\Z")
MAX_SCHEMA_BYTES = 64 * 1024
MAX_TOOLS = 128  # OpenAI's limit for `tools` (and `functions`)
NO_PARAMETERS = {"type": "object", "properties": {}}  # a function declared without `parameters`


# Schemas already found valid, by canonical text: agents send the same functions every turn, and
# checking a schema against the metaschema costs ~0.6 ms (20 functions: most of the bridge's CPU
# for a turn, measured with cProfile on a 160-message agent request).
_VALID_SCHEMAS: dict[str, None] = {}
_VALID_SCHEMAS_MAX = 4096


def check_schema(param: str, schema: Any, *, object_root: bool) -> str:
    if not isinstance(schema, dict):
        raise invalid_type(param, "an object (a JSON Schema)", schema)
    text = canonical_json(schema)
    if text not in _VALID_SCHEMAS:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise InvalidRequest(
                f"Invalid schema for '{param}': {exc.message}", param=param, code="invalid_schema"
            ) from None
        if len(_VALID_SCHEMAS) >= _VALID_SCHEMAS_MAX:
            _VALID_SCHEMAS.clear()
        _VALID_SCHEMAS[text] = None
    if object_root and schema.get("type", "object") != "object":
        raise InvalidRequest(
            f"Invalid schema for '{param}': the root must be of type 'object'.", param=param, code="invalid_schema"
        )
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise invalid_value(param, f"the schema is larger than {MAX_SCHEMA_BYTES} bytes.")
    return text


def _function(param: str, raw: Any) -> FunctionDef:
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    name = raw.get("name")
    if name is None:
        raise missing(f"{param}.name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise invalid_value(f"{param}.name", f"'{name}' must be 1 to 56 letters, digits, '_' or '-'.")
    return function_def(param, name, raw.get("description", ""), raw.get("parameters", NO_PARAMETERS))


def function_def(param: str, name: str, description: Any, parameters: Any) -> FunctionDef:
    """A function whose name is already checked: its description and its parameters' schema."""
    if not isinstance(description, str):
        raise invalid_type(f"{param}.description", "a string", description)
    schema = check_schema(f"{param}.parameters", parameters, object_root=True)
    return FunctionDef(name=name, description=description, parameters=schema)


def parse_tools(body: dict[str, Any]) -> tuple[tuple[FunctionDef, ...], bool]:
    """The declared functions, and whether they came as legacy `functions`."""
    tools, functions = body.get("tools"), body.get("functions")
    if tools and functions:
        raise InvalidRequest(
            "Use either 'tools' or the deprecated 'functions', not both.", param="functions", code="invalid_value"
        )
    defs: list[FunctionDef] = []
    legacy = False
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid_type("tools", "an array", tools)
        max_items("tools", tools, MAX_TOOLS)
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise invalid_type(f"tools[{i}]", "an object", tool)
            if tool.get("type") != "function":
                raise InvalidRequest(
                    f"Invalid value: '{tool.get('type')}'. Supported values are: 'function'.",
                    param=f"tools[{i}].type",
                    code="invalid_value",
                )
            if "function" not in tool:
                raise missing(f"tools[{i}].function")
            defs.append(_function(f"tools[{i}].function", tool["function"]))
    elif functions is not None:
        if not isinstance(functions, list):
            raise invalid_type("functions", "an array", functions)
        max_items("functions", functions, MAX_TOOLS)
        defs = [_function(f"functions[{i}]", f) for i, f in enumerate(functions)]
        legacy = bool(defs)
    names = [d.name for d in defs]
    for i, name in enumerate(names):
        if name in names[:i]:
            param = f"tools[{i}].function.name" if not legacy else f"functions[{i}].name"
            raise invalid_value(param, f"the function name '{name}' is declared twice.")
    return tuple(defs), legacy


def parse_tool_choice(body: dict[str, Any], defs: tuple[FunctionDef, ...], legacy: bool) -> tuple[str, str | None]:
    param = "function_call" if legacy or ("function_call" in body and "tool_choice" not in body) else "tool_choice"
    raw = body.get(param)
    if raw is None:
        return "auto", None
    return tool_choice_value(param, raw, defs)


def tool_choice_value(param: str, raw: Any, defs: tuple[FunctionDef, ...]) -> tuple[str, str | None]:
    """`param` is `tool_choice` or the legacy `function_call`; `raw` is not null."""
    names = {d.name for d in defs}
    if not defs:
        raise InvalidRequest(
            f"'{param}' is only allowed when functions are declared in 'tools'.", param=param, code="invalid_value"
        )
    if isinstance(raw, str):
        allowed = ("none", "auto") if param == "function_call" else ("none", "auto", "required")
        if raw not in allowed:
            raise InvalidRequest(
                f"Invalid value: '{raw}'. Supported values are: {', '.join(repr(a) for a in allowed)}.",
                param=param,
                code="invalid_value",
            )
        return raw, None
    if not isinstance(raw, dict):
        raise invalid_type(param, "a string or an object", raw)
    if param == "tool_choice":
        if raw.get("type") != "function" or not isinstance(raw.get("function"), dict):
            raise invalid_value(param, "expected {'type': 'function', 'function': {'name': ...}}.")
        name = raw["function"].get("name")
        where = "tool_choice.function.name"
    else:
        name = raw.get("name")
        where = "function_call.name"
    if not isinstance(name, str):
        raise invalid_type(where, "a string", name)
    if name not in names:
        raise invalid_value(where, f"no function named '{name}' is declared.")
    return "function", str(name)


def parse_response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_type("response_format", "an object", raw)
    kind = raw.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object", canonical_json({"type": "object"}))
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise missing("response_format.json_schema")
        name = spec.get("name")
        if not isinstance(name, str) or not SCHEMA_NAME.fullmatch(name):
            raise invalid_value("response_format.json_schema.name", "1 to 64 letters, digits, '_' or '-'.")
        if "schema" not in spec:
            raise missing("response_format.json_schema.schema")
        schema = check_schema("response_format.json_schema.schema", spec["schema"], object_root=True)
        return ResponseFormat("json_schema", schema, name)
    raise InvalidRequest(
        f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object' and 'json_schema'.",
        param="response_format.type",
        code="invalid_value",
    )
