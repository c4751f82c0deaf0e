"""Runs an app inside a fresh network namespace where only the bridge is reachable.

Started as `unshare --net --pid --fork --mount-proc -- python -m tests.apps.netns PORT SOCKET --
APP ARGS...`: the new network namespace has nothing but a loopback interface, which is down
until this brings it up. Then
127.0.0.1:PORT inside forwards every connection to the Unix socket SOCKET, which the test
serves from the outer namespace (a path on the shared filesystem crosses the namespace
boundary; a TCP port does not). The app can reach the bridge at http://127.0.0.1:PORT and
nothing else: telemetry, update checks and model-list downloads fail at once instead of
leaving the machine. The app's exit status is this process's exit status.

This process is also the init (pid 1) of a PID namespace of its own: a daemon an app starts
with setsid (Cline's hub does) escapes the app's process group but not the namespace. When the
app exits, whatever it left running is named on stderr and killed by its pid; the kernel would
end it anyway when this process exits.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve(listener: socket.socket, target: str) -> None:
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(target)
        except OSError:
            client.close()
            upstream.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def main(argv: list[str]) -> int:
    port, target, sep, *command = argv
    assert sep == "--" and command, "usage: netns PORT SOCKET -- APP ARGS..."
    loopback_up()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(64)
    threading.Thread(target=_serve, args=(listener, target), daemon=True).start()
    status = subprocess.call(command, stdin=subprocess.DEVNULL)
    end_leftovers()
    return status


def end_leftovers() -> None:
    """Kills, by pid, every process of this PID namespace but this one, saying which."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue  # already ended, not yet reaped
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
            os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
        print(f"netns: ended what the app left running: pid {entry}: {cmdline[:200]}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
