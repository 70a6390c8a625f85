"""The board's delay: a step recorded at the origin, until it shows on the other site's board in
a real browser (Debian's headless chromium), with no reload of the page.

Each sample: the origin's MES account creates a batch and the bench waits until the batch shows
on the board (not measured); then it records step S1 and waits for the row with the step. The
delay is from just before RecordStep is called to the moment the page's script put the row on
the page (its ``data-first-seen``, the browser's clock, on this same machine).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from selenium.common.exceptions import TimeoutException

from bench import batches
from bench.deployment import free_ports
from bench.stats import latency_summary_ms, percentile
from services.client.session import Session
from services.devstack.browser import batch_row_selector, chromium, first_seen, log_in, wait_for
from services.devstack.demo_users import demo_password
from services.devstack.launcher import Deployment
from services.devstack.processes import ServiceProcess
from services.devstack.topology import BATCH_RECORDS, BOARD, address_variable
from tests.support.batches import create_batch, record

TARGET_S = 2.0
# Seconds a sample may take to show before it is counted missed.
SAMPLE_DEADLINE_S = 10.0


def board_process(deployment: Deployment, site: str, log_dir: Path) -> ServiceProcess:
    """The board of ``site`` on a free port, calling the deployment's services of that site."""
    (port,) = free_ports(1)
    return ServiceProcess(
        BOARD.name, site=site, grpc_port=port,
        env={
            **deployment.env, "TWINLINE_DATA_DIR": str(deployment.data_dir),
            **{address_variable(name): deployment.address(site, name) for name in BOARD.calls},
        },
        log_path=log_dir / f"{site}-board.log",
    )


def _shown_at_ms(driver: Any, selector: str, deadline_s: float) -> int:
    shown_ms, _ = wait_for(driver, lambda driver: first_seen(driver, selector), deadline_s)
    return int(shown_ms)


async def board_delay(
    deployment: Deployment, log_dir: Path, origin: str, other: str, samples: int
) -> dict[str, Any]:
    """``samples`` delays (origin → ``other``'s board), their summary and the verdict."""
    board = board_process(deployment, other, log_dir)
    await board.start()
    delays: list[float] = []
    missed = 0
    try:
        address = deployment.address(origin, BATCH_RECORDS.name)
        master = await batches.effective_master(address, origin)
        async with await Session.login(address, f"{origin}.mes", demo_password("mes")) as mes:
            with chromium() as driver:
                await asyncio.to_thread(
                    log_in, driver, f"http://{board.address}/", f"{other}.qa",
                    demo_password("qa"),
                )
                driver.execute_script("window.benchPage = 'unreloaded';")
                for _ in range(samples):
                    batch = await create_batch(mes, master)
                    await asyncio.to_thread(
                        _shown_at_ms, driver, batch_row_selector(origin, batch.batch_id, 0),
                        SAMPLE_DEADLINE_S * 3,
                    )
                    started = time.time()
                    await record(mes, batch, batches.step_record(origin), job="mes")
                    try:
                        shown_ms = await asyncio.to_thread(
                            _shown_at_ms, driver, batch_row_selector(origin, batch.batch_id, 1),
                            SAMPLE_DEADLINE_S,
                        )
                    except TimeoutException:
                        missed += 1
                        continue
                    delays.append(shown_ms / 1000 - started)
                reloaded = driver.execute_script("return window.benchPage;") != "unreloaded"
    finally:
        await board.stop()
    summary = latency_summary_ms(delays)
    p95_s = percentile(sorted(delays), 95) if delays else None
    return {
        "samples": samples, "missed": missed, "page_reloaded": reloaded,
        "delay": {**summary, "p95_ms": None if p95_s is None else round(p95_s * 1000, 3)},
        "target_p95_s": TARGET_S,
        "met": missed == 0 and not reloaded and p95_s is not None and p95_s <= TARGET_S,
    }
