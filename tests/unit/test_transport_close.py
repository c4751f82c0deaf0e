"""Closing a process survives the closer's cancellation: the escalation runs to its end.

A real child process (a Python that ignores a closed stdin and SIGTERM), not the CLI: what is
under test is the transport's own close, which is the same for any process.
"""

from __future__ import annotations

import asyncio
import os
import sys

from supervisor.transport import SubprocessTransport

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_cancelled_close_still_kills_the_process(tmp_path: object) -> None:
    transport = SubprocessTransport([sys.executable, "-c", STUBBORN], dict(os.environ), str(tmp_path))
    await transport.start()
    pid = transport.pid
    assert pid is not None and _running(pid)
    closer = asyncio.create_task(transport.close(stdin_grace=0.2, term_grace=0.2))
    await asyncio.sleep(0.05)  # inside the stdin grace: nothing has been signalled yet
    closer.cancel()
    await asyncio.gather(closer, return_exceptions=True)
    assert closer.cancelled(), "the caller is cancelled at once"
    for _ in range(100):  # the escalation goes on: SIGTERM is ignored, SIGKILL ends it
        if not _running(pid):
            break
        await asyncio.sleep(0.02)
    assert not _running(pid)
    assert await transport.close() is not None, "a later close returns the ended process's status"
