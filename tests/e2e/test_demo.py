"""``make demo`` against the launcher of ``make run`` (two sites, free ports): the author who
holds QA is refused approving her own record, QA dispositions the major exception, and one
batch is left in review, which the printed ``twinline review`` commands then decide."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.sites import DEFAULT_REGISTRY
from services.devstack.demo_users import demo_password
from services.devstack.processes import PROJECT_ROOT
from tests.support.launcher import Launcher

pytestmark = pytest.mark.slow


def run(env: dict[str, str], *command: str, typed: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=PROJECT_ROOT, env=env, input=typed, capture_output=True, text=True,
        timeout=180, check=False,
    )


async def test_the_demo_shows_independence_and_leaves_a_batch_for_the_reader(
    tmp_path: Path,
) -> None:
    running = await asyncio.to_thread(Launcher.start, tmp_path, DEFAULT_REGISTRY.read_text())
    try:
        demo = await asyncio.to_thread(
            run, running.env, sys.executable, "-m", "services.devstack.demo"
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "…" not in demo.stdout  # its tables fit 80 columns (no terminal: 80 wide)
        said = " ".join(demo.stdout.split())
        assert "refused: Hana Seo" in said and "holds QA but wrote the record" in said
        assert "dispositioned by QA" in said
        assert "approved by QA: BATCH_STATE_APPROVED" in said
        left = re.search(r"(SYR-B-\d{4}-\d{5}) waits for QA", said)
        assert left is not None, demo.stdout

        twinline = str(Path(sys.executable).parent / "twinline")
        qa = demo_password("qa")
        listed = await asyncio.to_thread(
            run, running.env, twinline, "review", "list", "--user", "syracuse.qa", typed=f"{qa}\n"
        )
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert left.group(1) in listed.stdout
        decided = await asyncio.to_thread(
            run, running.env, twinline, "review", "disposition", left.group(1), "EX-1",
            "--reason", "S1 re-checked from the scale printout", "--user", "syracuse.qa",
            typed=f"{qa}\n{qa}\n",
        )
        assert decided.returncode == 0, decided.stdout + decided.stderr
        approved = await asyncio.to_thread(
            run, running.env, twinline, "review", "approve", left.group(1),
            "--user", "syracuse.qa", typed=f"{qa}\n{qa}\n",
        )
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "BATCH_STATE_APPROVED" in approved.stdout
    finally:
        await asyncio.to_thread(running.stop)
