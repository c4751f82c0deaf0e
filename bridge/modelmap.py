"""Which Claude model answers for a requested model name. Pure, loaded from config/models.json.

The CLI forwards any string upstream unchecked (`gpt-4` included), so an unknown name must be
refused here with `model_not_found` rather than passed on or silently defaulted.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Collection, Mapping
from pathlib import Path

import attrs


class UnknownModel(LookupError):
    pass


@attrs.frozen
class ModelMap:
    rules: tuple[tuple[str, str], ...]
    claude_aliases: tuple[str, ...]
    passthrough_prefixes: tuple[str, ...]
    listed: tuple[str, ...]
    exact: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def load(cls, path: Path, override: Mapping[str, str] | None = None) -> ModelMap:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            rules=tuple((str(p), str(t)) for p, t in data.get("rules", [])),
            claude_aliases=tuple(data.get("claude_aliases", [])),
            passthrough_prefixes=tuple(data.get("passthrough_prefixes", [])),
            listed=tuple(data.get("listed", [])),
            exact=dict(override or {}),
        )

    def resolve(self, requested: str, cli_aliases: Collection[str] = ()) -> str:
        """The CLI model (alias or id) for a requested name; UnknownModel when there is none.

        `cli_aliases` are the model values the running CLI announced (e.g. `fable`).
        """
        name = requested
        if not name or len(name) > 256 or not name.isprintable() or any(c.isspace() for c in name):
            # Never stripped or passed on: a control character would reach the CLI's set_model.
            raise UnknownModel(requested)
        if name in self.exact:
            return self.exact[name]
        if name in self.claude_aliases or name in cli_aliases or name.startswith(self.passthrough_prefixes):
            return name
        lowered = name.lower()
        for pattern, target in self.rules:
            if fnmatch.fnmatchcase(lowered, pattern):
                return target
        raise UnknownModel(requested)

    def ids(self, cli_models: Collection[str] = ()) -> list[str]:
        """Every id /v1/models lists: OpenAI names, overrides, Claude aliases and the CLI's ids."""
        seen: dict[str, None] = {}
        for name in (*self.listed, *self.exact, *self.claude_aliases, *cli_models):
            try:
                self.resolve(name, cli_models)
            except UnknownModel:
                continue
            seen.setdefault(name, None)
        return list(seen)
