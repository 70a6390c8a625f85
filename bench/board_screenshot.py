"""The README's picture of the live board, made by the code: ``python -m bench.board_screenshot``.

Starts both sites with every process (the boards too) on free ports with a temporary data
directory, like the bench; gives them a little of everything the board shows, through the
end-to-end tests' own steps (``tests.support``): at Syracuse an approved batch, a batch in
progress with a conjugation run and its readings, a sample with a result awaiting review, an
OOS investigation on a batch put on hold, and a transfer package sent to Songdo; at Songdo a
batch in progress. Then it logs in to Songdo's board in headless chromium, waits until the
board shows all of it, and saves ``docs/images/board.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc
from selenium.webdriver.common.by import By
from twinline.batchrecords.v1 import batch_pb2
from twinline.releasetesting.v1 import disposition_pb2
from twinline.releasetesting.v1 import release_testing_service_pb2 as rt_api
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub
from twinline.techtransfer.v1 import tech_transfer_service_pb2 as tt_api

from bench.conjugation import DemoLogins
from bench.deployment import free_ports
from services.common.grpc.status import details_of
from services.common.settings import Settings
from services.devstack.browser import chromium, log_in, wait_for
from services.devstack.demo_users import demo_password
from services.devstack.launcher import Deployment
from services.devstack.processes import PROJECT_ROOT
from services.devstack.topology import BOARD, PROCESS_NAMES, RELEASE_TESTING, TECH_TRANSFER
from tests.support import batches, runs, samples, transfers
from tests.support import specifications as specs
from tests.support.mbr import request_id, sign
from tests.support.waiting import wait_until

OUTPUT = PROJECT_ROOT / "docs" / "images" / "board.png"
ORIGIN, OTHER = "syracuse", "songdo"
DEADLINE_S = 120.0
# The board's page at a size that shows both columns whole.
WINDOW = (1440, 1000)


def deployment_on_free_ports(data_dir: Path) -> Deployment:
    registry = Settings().registry
    sites = [site.id for site in registry.sites]
    ports = iter(free_ports(len(sites) * (1 + len(PROCESS_NAMES)) + 1))
    return Deployment(
        registry=registry, data_dir=data_dir,
        nats_ports={site: next(ports) for site in sites}, leaf_port=next(ports),
        service_ports={(site, name): next(ports) for site in sites for name in PROCESS_NAMES},
        env={"TWINLINE_HEARTBEAT_SECONDS": "1", "TWINLINE_SQLITE_SYNCHRONOUS": "NORMAL"},
    )


async def demo_floor(logins: DemoLogins) -> None:
    """What the board shows: see the module's docstring."""
    approved = await batches.approved(logins, ORIGIN, await _new_batch(logins, ORIGIN))
    in_progress = await runs.batch_in_progress(logins, ORIGIN)
    run = await runs.create_run(logins, in_progress, ORIGIN)
    now_us = int(time.time() * 1_000_000)
    for tag, unit, values in (("R201.TT01", "Cel", (24.6, 24.9, 25.1)),
                              ("R201.PH01", "[pH]", (7.02, 7.01, 7.0))):
        await runs.declare_tag(logins, run, tag, unit=unit, site=ORIGIN)
        points = [(now_us - (len(values) - n) * 1_000_000, value)
                  for n, value in enumerate(values)]
        await runs.stream_points(logins, run, tag, points, unit=unit, site=ORIGIN)

    await specs.effective(logins, ORIGIN, specs.release_specification())  # type: ignore[arg-type]
    analyst = await logins.login(ORIGIN, "analyst", RELEASE_TESTING.name)
    reviewed_later = await samples.create_sample(logins, ORIGIN, approved)  # type: ignore[arg-type]
    await samples.enter(analyst, reviewed_later, "average DAR", replicates=("4.02", "3.98"))
    on_hold = await _new_batch(logins, ORIGIN)
    failing = await samples.create_sample(logins, ORIGIN, on_hold)  # type: ignore[arg-type]
    await samples.enter(analyst, failing, "average DAR", replicates=("4.62", "4.58"))
    qa = await logins.login(ORIGIN, "qa", RELEASE_TESTING.name)
    await DispositionServiceStub(qa.channel).DisposeBatch(rt_api.DisposeBatchRequest(
        request_id=request_id(), batch=on_hold.name,
        decision=disposition_pb2.DISPOSITION_DECISION_ON_HOLD,
        signature=sign("qa", "average DAR out of specification: OOS investigation open"),
    ), metadata=qa.metadata)

    await _send_transfer(logins, approved.master_batch_record)
    songdo = await runs.batch_in_progress(logins, OTHER)
    assert songdo.state


async def _new_batch(logins: DemoLogins, site: str) -> batch_pb2.Batch:
    master = await batches.effective_master(logins, site)
    return await batches.create_batch(await logins.login(site, "reviewer"), master)


async def _send_transfer(logins: DemoLogins, master: str) -> None:
    author = await logins.login(ORIGIN, "author", TECH_TRANSFER.name)

    async def drafted() -> object | None:
        try:
            answer = await transfers.stub(author).CreateTransferPackage(
                tt_api.CreateTransferPackageRequest(
                    request_id=request_id(), package=transfers.content(master, OTHER)),
                metadata=author.metadata)
        except grpc.aio.AioRpcError as error:
            if details_of(error)["reason"] == "MASTER_RECORD_NOT_EFFECTIVE_HERE":
                return None
            raise
        return answer.package

    draft = await wait_until(drafted, DEADLINE_S, interval=0.2)
    qa = await logins.login(ORIGIN, "qa", TECH_TRANSFER.name)
    await transfers.stub(qa).SendTransferPackage(tt_api.SendTransferPackageRequest(
        request_id=request_id(), name=draft.name, etag=draft.etag, signature=sign("qa")),
        metadata=qa.metadata)


def everything_shown(driver: object) -> bool:
    """The board shows a row of every kind at Syracuse, a batch at Songdo, a reading."""
    wanted = [f'[data-column="{ORIGIN}"] [data-{kind}]' for kind in (
        "batch", "run", "sample", "investigation", "disposition", "transfer")]
    wanted += [f'[data-column="{OTHER}"] [data-batch]', f'[data-column="{ORIGIN}"] .reading']
    return all(driver.find_elements(By.CSS_SELECTOR, selector)  # type: ignore[attr-defined]
               for selector in wanted)


def screenshot(board_url: str, output: Path) -> None:
    with chromium(WINDOW) as driver:
        log_in(driver, board_url, f"{OTHER}.qa", demo_password("qa"))
        wait_for(driver, everything_shown, DEADLINE_S)
        # The link state after a refresh, and no row still highlighted as just changed.
        wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "tr.fresh"), 30)
        output.parent.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(WINDOW[0], max(WINDOW[1], int(height) + 20))
        driver.save_screenshot(str(output))


async def make(output: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="twinline-screenshot-"))
    deployment = deployment_on_free_ports(data_dir)
    logins = DemoLogins(deployment)
    try:
        await asyncio.to_thread(deployment.seed_demo_users)
        await deployment.start()
        await demo_floor(logins)
        board = deployment.address(OTHER, BOARD.name)
        await asyncio.to_thread(screenshot, BOARD.url(board), output)
    finally:
        await logins.close()
        await deployment.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.board_screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUTPUT, help="the PNG to write")
    args = parser.parse_args()
    os.chdir(PROJECT_ROOT)
    asyncio.run(make(args.out))
    print(f"written {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
