"""Runs one bench subprocess (``python -m bench.load`` or ``bench.cross_site``), relays its
progress lines, samples CPU at the edges of its measured window, and returns its result.
Bounded by a timeout; the process is killed on any way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cpu
from bench.reporting import MEASURE_END, MEASURE_START
from services.devstack.processes import PROJECT_ROOT

# A result line carries every latency of a run (tens of thousands of numbers).
LINE_LIMIT = 64 * 1024 * 1024


class BenchChildError(RuntimeError):
    pass


async def run_child(
    module: str, args: list[str], *, env: dict[str, str], timeout: float, log_path: Path,
    on_progress: Callable[[float], None],
) -> tuple[dict[str, Any], dict[str, object]]:
    """(the child's result, cores used by every process during its measured window)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, cwd=PROJECT_ROOT, env={**os.environ, **env},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log,
            start_new_session=True, limit=LINE_LIMIT,
        )
        try:
            return await asyncio.wait_for(_follow(process, on_progress), timeout)
        except TimeoutError:
            raise BenchChildError(f"{module} did not finish in {timeout:.0f} s") from None
        except BenchChildError as exc:
            tail = _tail(log_path)
            raise BenchChildError(f"{module} {exc}; its log, {log_path}:\n{tail}") from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def _follow(
    process: asyncio.subprocess.Process, on_progress: Callable[[float], None]
) -> tuple[dict[str, Any], dict[str, object]]:
    assert process.stdout is not None
    result: dict[str, Any] | None = None
    started = ended = None
    async for raw in process.stdout:
        line = json.loads(raw)
        if line.get("event") == MEASURE_START:
            started = cpu.snapshot()
        elif line.get("event") == MEASURE_END:
            ended = cpu.snapshot()
        if "progress" in line:
            on_progress(float(line["progress"]))
        if "result" in line:
            result = line["result"]
    code = await process.wait()
    if code != 0 or result is None:
        raise BenchChildError(f"exited with {code} without a result")
    usage = cpu.cores_used(started, ended) if started and ended else {}
    return result, usage


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
