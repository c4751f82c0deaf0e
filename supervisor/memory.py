"""How much memory warm CLI processes may take: the machine's, or its container's when the
container has a limit (/proc/meminfo shows the host's memory inside a container, so a default
taken from it alone would start more processes than the limit allows)."""

from __future__ import annotations

from pathlib import Path

CLI_PROCESS_MB = 250  # a used CLI process (idle ~190-210 MiB RSS, measured by bench/idle.py)
MEMORY_SHARE = 0.6  # of the memory available at start, what warm processes may take by default
LOW_MEMORY_SHARE = 0.08  # below this share of the total available, idle conversations are released
_UNLIMITED = 1 << 60


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def memory_mb(root: Path = Path("/")) -> tuple[int, int] | None:
    """(total, available) in MiB, the container's limit taken into account; None if unknown."""
    try:
        lines = (root / "proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    info = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in lines if len(line.split()) > 1}
    total, available = info.get("MemTotal"), info.get("MemAvailable")
    if total is None or available is None:
        return None
    cgroup = root / "sys/fs/cgroup"
    for limit_file, usage_file in (
        (cgroup / "memory.max", cgroup / "memory.current"),  # cgroup v2
        (cgroup / "memory/memory.limit_in_bytes", cgroup / "memory/memory.usage_in_bytes"),  # v1
    ):
        limit = _read_int(limit_file)
        if limit is None or limit >= _UNLIMITED:
            continue
        used = _read_int(usage_file) or 0
        total = min(total, limit // (1024 * 1024))
        available = min(available, max(0, limit - used) // (1024 * 1024))
        break
    return total, available


def default_warm(size: int, cap: int = 48, root: Path = Path("/")) -> int:
    """Warm conversations the memory bears: MEMORY_SHARE of what is available now, in CLI
    processes of CLI_PROCESS_MB, at least `size` and at most `cap`."""
    memory = memory_mb(root)
    available = memory[1] if memory else 0
    return max(size, min(cap, int(available * MEMORY_SHARE // CLI_PROCESS_MB)))


def memory_low(root: Path = Path("/")) -> bool:
    memory = memory_mb(root)
    return memory is not None and memory[1] < memory[0] * LOW_MEMORY_SHARE
