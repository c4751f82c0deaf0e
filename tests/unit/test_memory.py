"""The default number of warm conversations, from the machine's memory or its container's limit."""

from __future__ import annotations

from pathlib import Path

from supervisor.memory import default_warm, memory_low, memory_mb

GIB = 1024 * 1024 * 1024


def machine(root: Path, total_mb: int, available_mb: int) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text(
        f"MemTotal:       {total_mb * 1024} kB\nMemFree:  1 kB\nMemAvailable:   {available_mb * 1024} kB\n"
    )
    return root


def test_the_default_comes_from_available_memory(tmp_path: Path) -> None:
    root = machine(tmp_path, 24_000, 20_000)
    assert memory_mb(root) == (24_000, 20_000)
    assert default_warm(4, root=root) == 48, "capped"
    assert default_warm(4, cap=100, root=root) == 48  # 20000 * 0.6 / 250
    small = machine(tmp_path / "small", 4000, 1000)
    assert default_warm(4, root=small) == 4, "never below POOL_SIZE"
    assert default_warm(1, root=small) == 2


def test_a_container_limit_wins_over_the_hosts_memory(tmp_path: Path) -> None:
    root = machine(tmp_path, 24_000, 20_000)
    (root / "sys/fs/cgroup").mkdir(parents=True)
    (root / "sys/fs/cgroup/memory.max").write_text(f"{int(2.5 * GIB)}\n")
    (root / "sys/fs/cgroup/memory.current").write_text(f"{GIB // 2}\n")
    assert memory_mb(root) == (2560, 2048)
    assert default_warm(2, root=root) == 4  # 2048 * 0.6 / 250
    (root / "sys/fs/cgroup/memory.max").write_text("max\n")
    assert memory_mb(root) == (24_000, 20_000), "no limit: the host's memory"


def test_low_memory(tmp_path: Path) -> None:
    assert memory_low(machine(tmp_path / "a", 10_000, 500))
    assert not memory_low(machine(tmp_path / "b", 10_000, 5000))
    assert not memory_low(tmp_path / "nothing"), "unknown is not low"
