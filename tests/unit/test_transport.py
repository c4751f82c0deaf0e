"""How the CLI command is wrapped in setpriv (resolved as the exec would resolve it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from supervisor.transport import _with_parent_death_signal

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv is not installed")


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_relative_command_resolves_from_the_child_working_directory(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    cli = _executable(tmp_path / "bin" / "claude")
    argv = _with_parent_death_signal(["bin/claude", "-p"], {"PATH": "/usr/bin"}, str(tmp_path))
    assert argv[1:4] == ["--pdeathsig", "KILL", "--"]
    assert argv[4:] == [str(cli), "-p"]


def test_a_bare_name_resolves_on_the_child_path(tmp_path: Path) -> None:
    cli = _executable(tmp_path / "claude-candidate")
    argv = _with_parent_death_signal(["claude-candidate"], {"PATH": str(tmp_path)}, "/")
    assert argv[-1] == str(cli)
    assert os.path.basename(argv[0]) == "setpriv"


def test_a_command_that_does_not_resolve_is_left_unwrapped(tmp_path: Path) -> None:
    argv = ["no-such-claude", "-p"]
    assert _with_parent_death_signal(argv, {"PATH": str(tmp_path)}, str(tmp_path)) == argv
    assert _with_parent_death_signal(["./missing"], None, str(tmp_path)) == ["./missing"]
