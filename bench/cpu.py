"""CPU time of this process's children (nats-servers, services, load client) and of the whole
machine, read from /proc, so each figure says who was busy while it was measured.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class CpuSnapshot:
    taken: float  # time.monotonic()
    by_process: dict[str, float]  # label -> CPU seconds since the process started
    machine_busy: float  # CPU seconds of every core not idle since boot


def _ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _label(pid: int) -> str:
    """``batch_records@syracuse``, ``nats-server@songdo``, ``bench.load``…"""
    argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    words = [word.decode(errors="replace") for word in argv if word]
    if words and words[0].endswith("nats-server") and "--config" in words:
        config = Path(words[words.index("--config") + 1])
        return f"nats-server@{config.parent.name}"
    if "-m" in words and words.index("-m") + 1 < len(words):
        module = words[words.index("-m") + 1]
        if module.startswith("services."):
            site = _environ(pid).get("TWINLINE_SITE", "?")
            return f"{module.removeprefix('services.')}@{site}"
        return module
    return " ".join(words[:2]) or str(pid)


def _environ(pid: int) -> dict[str, str]:
    entries = (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    pairs = (entry.decode(errors="replace").partition("=") for entry in entries if entry)
    return {key: value for key, _, value in pairs}


def _children() -> dict[str, float]:
    ticks = _ticks_per_second()
    me = os.getpid()
    used: dict[str, float] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after "(comm)": state ppid ... utime(14th) stime(15th) of proc(5).
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) != me:
                continue
            label = _label(int(entry.name))
            used[label] = used.get(label, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile, or not ours to read
    return used


def _machine_busy() -> float:
    first = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(value) for value in first[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _ticks_per_second()


def snapshot() -> CpuSnapshot:
    if not PROC.is_dir():
        return CpuSnapshot(time.monotonic(), {}, 0.0)
    return CpuSnapshot(time.monotonic(), _children(), _machine_busy())


def cores_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, object]:
    """Average cores busy between two snapshots: per child, all children, the rest of the box."""
    wall = max(after.taken - before.taken, 1e-9)
    per_process = {
        label: round((seconds - before.by_process.get(label, 0.0)) / wall, 3)
        for label, seconds in sorted(after.by_process.items())
    }
    ours = sum(per_process.values())
    machine = (after.machine_busy - before.machine_busy) / wall
    return {
        "wall_s": round(wall, 3),
        "cores_by_process": per_process,
        "cores_ours": round(ours, 3),
        "cores_machine": round(machine, 3),
        "cores_others": round(max(0.0, machine - ours), 3),
    }
