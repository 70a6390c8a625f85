"""CPU of the write paths inside one process: ``python -m bench.inprocess`` (``--help``).

No gRPC, no NATS: the group-commit writer on a temporary SQLite database (synchronous=FULL, as
the services run), driven the way the servicer drives it. Two paths:

- **create**: `CreateMasterBatchRecord`'s command (translation from the request, the domain,
  the record, its audit entry and event, the idempotency record);
- **view apply**: the site view taking in those creates' events.

Each is measured one per transaction (what a quiet system does) and 32 per transaction (what
group commit does under load). Prints CPU milliseconds per item (process time: user + system)
and items per second of wall time. A diagnostic for the write path's cost, beside ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api

from services.batch_records.__main__ import MIGRATIONS as RECORD_MIGRATIONS
from services.batch_records.master import handlers
from services.batch_records.master.translate import content_from_proto, record_to_proto
from services.common.domain.roles import Principal, Role
from services.common.messaging.events import OutboxEntry, decode
from services.common.persistence.database import KERNEL_MIGRATIONS, create_database_engine, migrate
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from services.devstack.recipes import conjugation_recipe
from services.site_view import handlers as view_handlers
from services.site_view.__main__ import MIGRATIONS as VIEW_MIGRATIONS

GROUP = 32
AUTHOR = Principal(
    "syracuse.author", "Author (bench)", frozenset({Role.PROCESS_ENGINEER}), "syracuse"
)


async def timed(
    count: int, group: int, one: Callable[[int], Awaitable[object]]
) -> tuple[float, float]:
    """(CPU ms per item, items per wall second) of ``count`` items, ``group`` at a time."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, count, group):
        await asyncio.gather(*(one(index) for index in range(start, min(start + group, count))))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1000, count / wall


async def measure(count: int, data_dir: Path) -> dict[str, dict[int, tuple[float, float]]]:
    records = create_database_engine(f"sqlite:///{data_dir / 'batch_records.db'}")
    migrate(records, KERNEL_MIGRATIONS, RECORD_MIGRATIONS)
    committed: list[OutboxEntry] = []
    writer = Writer(records, "syracuse", on_commit=committed.extend)
    writer.start()
    recipe = conjugation_recipe()

    async def create(_: int) -> bytes:
        request = api.CreateMasterBatchRecordRequest(
            request_id=str(uuid.uuid4()), master_batch_record=recipe
        )
        content = content_from_proto(request.master_batch_record)

        def command(uow: UnitOfWork) -> bytes:
            record = handlers.create(uow, principal=AUTHOR, site_code="SYR", content=content)
            return api.CreateMasterBatchRecordResponse(
                master_batch_record=record_to_proto(record)
            ).SerializeToString()

        return await writer.run_idempotent(
            request_id=request.request_id, method="CreateMasterBatchRecord",
            principal=AUTHOR.username, request=request, command=command,
        )

    results: dict[str, dict[int, tuple[float, float]]] = {"create": {}, "view apply": {}}
    try:
        await timed(GROUP, GROUP, create)  # warm-up: statement caches, first pages
        for group in (1, GROUP):
            results["create"][group] = await timed(count, group, create)
    finally:
        await writer.stop()
        records.dispose()

    view = create_database_engine(f"sqlite:///{data_dir / 'site_view.db'}")
    migrate(view, KERNEL_MIGRATIONS, VIEW_MIGRATIONS)
    events = [
        view_handlers.replica_event(
            decode(entry.subject, entry.headers, entry.payload, sequence)
        )
        for sequence, entry in enumerate(committed, start=1)
    ]
    view_writer = Writer(view, "songdo")
    view_writer.start()
    try:
        offset = GROUP
        await view_writer.run(lambda uow: view_handlers.apply_events(uow, events[:offset]))
        for group in (1, GROUP):
            chunk = events[offset:offset + count]
            offset += count

            async def apply(index: int, chunk: list[view_handlers.ReplicaEvent] = chunk) -> int:
                return await view_writer.run(
                    lambda uow: view_handlers.apply_events(uow, [chunk[index]])
                )

            if group == 1:
                results["view apply"][group] = await timed(len(chunk), 1, apply)
            else:
                batches = [chunk[start:start + group] for start in range(0, len(chunk), group)]

                async def apply_batch(
                    index: int, batches: list[list[view_handlers.ReplicaEvent]] = batches
                ) -> int:
                    return await view_writer.run(
                        lambda uow: view_handlers.apply_events(uow, batches[index])
                    )

                cpu_ms, per_s = await timed(len(batches), 1, apply_batch)
                results["view apply"][group] = (cpu_ms / group, per_s * group)
    finally:
        await view_writer.stop()
        view.dispose()
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--count", type=int, default=1600, help="items per measurement")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="twinline-inprocess-"))
    try:
        results = asyncio.run(measure(args.count, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    table = Table(title=f"write paths in one process, {args.count} items each (SQLite FULL)")
    for column in ("path", "per transaction", "CPU ms / item", "items / s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for path, by_group in results.items():
        for group, (cpu_ms, per_s) in by_group.items():
            table.add_row(path, str(group), f"{cpu_ms:.3f}", f"{per_s:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
