"""Where the cross-site delay goes: ``python -m bench.hops`` (``--help`` for the knobs).

Starts both sites like ``make bench`` does (free ports, a temporary data directory), then
creates records one at a time at the origin and times, from the moment each Create returns:

- **published**: a core-NATS subscriber on the origin's subjects receives the event (the
  relay's publish reached the origin's nats-server);
- **sourced**: an ordered consumer on the other site's stream receives it (stored there by
  the cross-domain sourcing);
- **listed**: the other site's ``SiteViewService.GetMasterBatchRecord`` returns the record
  (polled every ``--interval``, as ``bench.cross_site`` does).

Prints p50/p90/p99/max per hop. A diagnostic beside ``make bench``, not one of its figures: its
own subscribers add a little load to the nats-servers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import shutil
import tempfile
import time
from pathlib import Path

import grpc
import nats
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench import __main__ as bench_main
from bench.cross_site import Probe
from bench.reporting import TOKEN_ENV, VIEW_TOKEN_ENV
from bench.stats import latency_summary_ms
from services.common.messaging.subjects import site_subjects, stream_name
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW

HOPS = ("published", "sourced", "listed")


async def measure(args: argparse.Namespace, console: Console) -> dict[str, list[float]]:
    """Seconds from each Create's return to each hop, per hop, over ``args.records`` records."""
    data_dir = Path(tempfile.mkdtemp(prefix="twinline-hops-"))
    seen: dict[str, dict[str, float]] = {hop: {} for hop in HOPS[:2]}

    def stamp(hop: str) -> object:
        async def on_message(msg: Msg) -> None:
            seen[hop][(msg.headers or {}).get("ce-subject", "")] = time.perf_counter()
        return on_message

    with Progress(console=console, transient=True) as progress:
        run = bench_main.Bench(bench_main.parse_args([]), progress, data_dir)
        try:
            await run.start()
            deployment = run.deployment
            origin = await nats.connect(deployment.nats_url(args.origin))
            other = await nats.connect(deployment.nats_url(args.other))
            await origin.subscribe(site_subjects(args.origin), cb=stamp("published"))
            await other.jetstream().subscribe(
                site_subjects(args.origin), stream=stream_name(args.other), cb=stamp("sourced"),
                ordered_consumer=True, deliver_policy=DeliverPolicy.NEW,
            )
            probe = Probe(
                grpc.aio.insecure_channel(deployment.address(args.origin, BATCH_RECORDS.name)),
                grpc.aio.insecure_channel(deployment.address(args.other, SITE_VIEW.name)),
                create_token=run.tokens[TOKEN_ENV], view_token=run.tokens[VIEW_TOKEN_ENV],
                interval=args.interval,
            )
            listed: dict[str, tuple[float, float]] = {}
            # As in bench.cross_site: the probe's own full collections are not the system's.
            gc.collect()
            gc.freeze()
            task = progress.add_task("records", total=args.warmup + args.records)
            for index in range(args.warmup + args.records):
                name, _, committed = await probe.create()
                delay, _ = await probe.wait_listed(name, committed, args.deadline)
                if math.isnan(delay):
                    raise SystemExit(f"{name} not listed at {args.other} in time")
                if index >= args.warmup:
                    listed[name] = (committed, committed + delay)
                progress.update(task, advance=1)
            await origin.drain()
            await other.drain()
        finally:
            await run.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
    delays: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for name, (committed, visible) in listed.items():
        for hop in HOPS[:2]:
            if name in seen[hop]:
                delays[hop].append(seen[hop][name] - committed)
        delays["listed"].append(visible - committed)
    return delays


def print_table(console: Console, delays: dict[str, list[float]], args: argparse.Namespace) -> None:
    table = Table(title=f"from Create's return at {args.origin}, {args.records} records (ms)")
    for column in ("hop", "count", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for hop in HOPS:
        summary = latency_summary_ms(delays[hop])
        columns = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
        table.add_row(
            hop, str(summary["count"]),
            *(f"{summary.get(key, float('nan')):.2f}" for key in columns),
        )
    console.print(table)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hops", description=__doc__)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5, help="records not measured")
    parser.add_argument("--interval", type=float, default=0.001, help="seconds between polls")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds per record")
    parser.add_argument("--origin", default="syracuse")
    parser.add_argument("--other", default="songdo")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    console = Console()
    print_table(console, asyncio.run(measure(args, console)), args)


if __name__ == "__main__":
    main()
