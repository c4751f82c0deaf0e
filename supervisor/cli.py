"""Facts about the installed CLI itself."""

from __future__ import annotations

import asyncio
import contextlib


async def cli_version(command: str, timeout: float = 15.0) -> str:
    """`claude --version`, or a short reason why it could not be read."""
    try:
        proc = await asyncio.create_subprocess_exec(
            command,
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return f"unavailable ({exc.strerror or exc})"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return "unavailable (timed out)"
    text = out.decode(errors="replace").strip()
    return text.split()[0] if proc.returncode == 0 and text else f"unavailable ({text[:100]})"
