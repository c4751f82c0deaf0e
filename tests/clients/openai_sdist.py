"""Fetches the sdist of the pinned `openai` version (its own generated API tests) into .cache/.

Used by `make clients` and, when the cache is missing, by tests/clients/test_openai_sdist.py.
The sdist comes from PyPI through pip, the registry's ordinary client.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "openai-sdist"


def pinned_version() -> str:
    text = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    match = re.search(r"^openai==([^\s;#]+)", text, re.MULTILINE)
    if match is None:
        raise RuntimeError("requirements-dev.txt pins no openai version")
    return match.group(1)


def sdist_tree(version: str | None = None) -> Path:
    """The extracted sdist (downloaded on first use); its `tests/` is openai's own suite."""
    version = version or pinned_version()
    tree = CACHE / f"openai-{version}"
    if (tree / "tests" / "api_resources").is_dir():
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"openai-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--no-build-isolation",  # pip reads the sdist's metadata with the pinned hatchling
                f"openai=={version}",
                "--dest",
                str(CACHE),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return tree


if __name__ == "__main__":
    print(sdist_tree())
