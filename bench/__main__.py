"""``make bench``: starts both sites (and a bare echo server and readings sink) on free ports with
a temporary data directory, measures in one run the MBR create and the step-record throughput
ratios, the cross-site latency, the readings ingest rates against the sink, the CPU of a
run-write call and the delay of a step to the other site's board in a browser, writes
bench/results/<UTC time>-mbr.json and latest.json, and prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench import batches, conjugation, cpu, report
from bench.batches import PreparationError
from bench.board import board_delay
from bench.children import BenchChildError, run_child
from bench.conjugation import PreparedRun, tag_name
from bench.deployment import bench_deployment, echo_server, readings_sink
from bench.readings import ANSWER_TIMEOUT_S
from bench.reporting import CONJUGATION_TOKEN_ENV, MES_TOKEN_ENV, TOKEN_ENV, VIEW_TOKEN_ENV
from bench.stats import latency_summary_ms
from services.client.session import Session
from services.common.settings import Settings
from services.devstack.demo_users import demo_password
from services.devstack.launcher import Deployment
from services.devstack.nats_server import NatsServerError
from services.devstack.processes import PROJECT_ROOT, ServiceProcessError
from services.devstack.topology import BATCH_RECORDS, CONJUGATION, SITE_VIEW

# Between runs, wait until our processes are this idle (the views have caught up).
SETTLE_CORES = 0.15
SETTLE_WINDOW_S = 0.5
SETTLE_MAX_S = 90.0
CHILD_SLACK_S = 60.0
# The first cross-site record waits for the sourcing to attach on a fresh deployment.
READY_TIMEOUT_S = 60.0
# The parts of a run (--only names one): the MBR figures (create, step record, cross-site), the
# readings figures (ingest against the sink, CPU of a run write) and the board's delay.
PARTS = ("mbr", "readings", "board")
# The readings measurements: (points per message, streams at once).
READINGS_CASES = ((1, 1), (1, 4), (100, 1), (100, 4))


class Bench:
    """The servers of one bench run and the measurements taken against them."""

    def __init__(self, args: argparse.Namespace, progress: Progress, data_dir: Path) -> None:
        self.args = args
        self.progress = progress
        self.data_dir = data_dir
        self.settings = Settings()
        self.deployment: Deployment = bench_deployment(self.settings.registry, data_dir)
        self.parts = PARTS if args.only is None else (args.only,)
        self.echo = echo_server(data_dir / "bench")
        self.sink = readings_sink(data_dir / "bench")
        self.tokens: dict[str, str] = {}
        self.unsettled: list[str] = []
        self.batch_files: list[Path] = []
        self.preparation: dict[str, Any] = {}
        self.prepared_run: PreparedRun | None = None

    async def start(self) -> None:
        step = self.progress.add_task(
            "starting nats-servers, services, echo server, readings sink", total=None
        )
        await asyncio.to_thread(self.deployment.seed_demo_users)
        await self.deployment.start()
        await self.echo.start()
        await self.sink.start()
        origin = self.args.origin
        self.tokens[TOKEN_ENV] = await self._token(origin, BATCH_RECORDS.name, "author")
        self.tokens[VIEW_TOKEN_ENV] = await self._token(self.args.other, SITE_VIEW.name, "author")
        self.tokens[MES_TOKEN_ENV] = await self._token(origin, BATCH_RECORDS.name, "mes")
        self.tokens[CONJUGATION_TOKEN_ENV] = await self._token(origin, CONJUGATION.name, "mes")
        self.progress.update(step, total=1, completed=1)

    async def stop(self) -> None:
        step = self.progress.add_task("stopping servers", total=None)
        await asyncio.gather(
            self.echo.stop(), self.sink.stop(), self.deployment.stop(), return_exceptions=True
        )
        self.progress.update(step, total=1, completed=1)

    async def _token(self, site: str, service: str, job: str) -> str:
        session = await Session.login(
            self.deployment.address(site, service), f"{site}.{job}", demo_password(job)
        )
        await session.close()
        return session.token

    async def settle(self, before: str) -> None:
        """Waits until our processes are idle, e.g. the views have taken in a create run."""
        began = time.monotonic()
        previous = cpu.snapshot()
        while time.monotonic() - began < SETTLE_MAX_S:
            await asyncio.sleep(SETTLE_WINDOW_S)
            current = cpu.snapshot()
            cores = cpu.cores_used(previous, current)["cores_ours"]
            if isinstance(cores, float) and cores < SETTLE_CORES:
                return
            previous = current
        self.unsettled.append(before)

    async def child(self, description: str, module: str, args: list[str], budget: float
                    ) -> tuple[dict[str, Any], dict[str, object]]:
        step = self.progress.add_task(description, total=1.0)
        result = await run_child(
            module, args, env=self.tokens, timeout=budget + CHILD_SLACK_S,
            log_path=self.data_dir / "bench" / f"{module}.log",
            on_progress=lambda done: self.progress.update(step, completed=done),
        )
        self.progress.update(step, completed=1.0)
        return result

    async def cross_site(self) -> dict[str, Any]:
        args = self.args
        await self.settle("cross-site")
        result, usage = await self.child(
            f"cross-site: {args.records} records {args.origin} → {args.other}", "bench.cross_site",
            [
                "--create-address", self.deployment.address(args.origin, BATCH_RECORDS.name),
                "--view-address", self.deployment.address(args.other, SITE_VIEW.name),
                "--records", str(args.records), "--interval", str(args.poll_interval),
                "--deadline", str(args.record_deadline), "--time-limit", str(args.time_limit),
                "--ready-timeout", str(READY_TIMEOUT_S),
            ],
            budget=args.time_limit + READY_TIMEOUT_S + args.record_deadline,
        )
        p99 = result["delay"].get("p99_ms")
        met = result["missed"] == 0 and p99 is not None and p99 <= report.P99_TARGET_MS
        return {**result, "target_p99_ms": report.P99_TARGET_MS, "met": met, "cpu": usage}

    async def board(self) -> dict[str, Any]:
        """A step at the origin → the other site's board in headless chromium, per sample."""
        args = self.args
        await self.settle("board")
        step = self.progress.add_task(
            f"board: {args.board_samples} steps {args.origin} → {args.other}'s board (chromium)",
            total=None,
        )
        figure = await board_delay(
            self.deployment, self.data_dir / "bench", args.origin, args.other, args.board_samples
        )
        self.progress.update(step, total=1, completed=1)
        return figure

    async def prepare_batches(self) -> None:
        """A one-step master record made effective and the batches every record round uses."""
        args = self.args
        address = self.deployment.address(args.origin, BATCH_RECORDS.name)
        step = self.progress.add_task("step records: master record to effective", total=None)
        master = await batches.effective_master(address, args.origin)
        self.progress.update(step, total=1, completed=1)
        step = self.progress.add_task(
            f"step records: batches ({batches.TRIAL_S:g} s trial sets the number)", total=None
        )

        def advance(created: int, wanted: int | None) -> None:
            self.progress.update(step, completed=created, total=wanted)

        await self.settle("batch creation")
        prepared = await batches.create_batches(
            address, args.origin, master, rounds=args.rounds,
            seconds_per_round=args.warmup + args.duration, concurrency=args.concurrency,
            max_batches=args.max_batches, time_limit=args.batch_time_limit, on_progress=advance,
        )
        self.progress.update(step, total=len(prepared.names), completed=len(prepared.names))
        self.batch_files = batches.write_rounds(
            prepared.names, args.rounds, self.data_dir / "bench"
        )
        self.preparation = {
            "master_batch_record": master, "batches_created": len(prepared.names),
            "batches_wanted": prepared.wanted, "max_batches": args.max_batches,
            "create_batch_trial_requests_per_s": prepared.trial_requests_per_s,
            "headroom": batches.HEADROOM, "seconds": prepared.seconds,
        }

    async def prepare_run(self) -> None:
        """A batch in progress at the origin, a run of it, and a tag per readings stream."""
        step = self.progress.add_task(
            "readings: batch in progress, a run of it, its tags", total=None
        )
        tags = [
            tag_name(round_number, per_message, streams, stream)
            for round_number in range(1, self.args.rounds + 1)
            for per_message, streams in READINGS_CASES
            for stream in range(1, streams + 1)
        ]
        await self.settle("run preparation")
        self.prepared_run = await conjugation.prepare_run(self.deployment, self.args.origin, tags)
        self.progress.update(step, total=1, completed=1)

    async def throughput(self) -> list[dict[str, Any]]:
        """Every round of the echo and of each unary target of the parts measured, interleaved:
        (MBR create, step record) for the MBR figures, run write for the readings figures."""
        args = self.args
        service = self.deployment.address(args.origin, BATCH_RECORDS.name)
        addresses = {
            "echo": self.echo.address, "create": service, "record": service,
            "run": self.deployment.address(args.origin, CONJUGATION.name),
        }
        targets = ["echo"]
        if "mbr" in self.parts:
            targets += ["create", "record"]
        if "readings" in self.parts:
            targets.append("run")
        runs: list[dict[str, Any]] = []
        for round_number in range(1, args.rounds + 1):
            for target in targets:
                extra = []
                if target == "record":
                    extra = ["--batches", str(self.batch_files[round_number - 1])]
                if target == "run":
                    assert self.prepared_run is not None
                    extra = ["--batch", self.prepared_run.batch]
                await self.settle(f"{target} round {round_number}")
                result, usage = await self.child(
                    f"{target} round {round_number}/{args.rounds}", "bench.load",
                    [
                        "--target", target, "--address", addresses[target],
                        "--concurrency", str(args.concurrency), "--channels", str(args.channels),
                        "--warmup", str(args.warmup), "--duration", str(args.duration),
                        "--max-calls", str(args.max_calls), *extra,
                    ],
                    budget=args.warmup + args.duration,
                )
                runs.append({**result, "round": round_number, "cpu": usage})
        return runs

    def mbr_figures(self, runs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(MBR create, step record), each over the echo rounds interleaved with them."""
        echo = _combined(runs, "echo")
        create, record = _combined(runs, "create"), _combined(runs, "record")
        mbr_create = {
            **_ratio(create, echo), "create": create, "echo": echo,
            "runs": _without_latencies(runs, ("echo", "create")),
        }
        ran_out = any(run["ran_out_of_batches"] for run in runs if run["target"] == "record")
        step_record = _ratio(record, echo)
        step_record.update({
            # A round that ran out of batches measured less than asked: no verdict on it.
            "met": step_record["met"] and not ran_out, "ran_out_of_batches": ran_out,
            "record": record, "echo_requests_per_s": echo["requests_per_s"],
            "preparation": self.preparation,
            "runs": _without_latencies(runs, ("record",)),
        })
        return mbr_create, step_record

    def run_write_figure(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """CreateRun's CPU per call, all processes, in bare echo calls' CPU."""
        assert self.prepared_run is not None
        echo, run_write = _combined(runs, "echo"), _combined(runs, "run")
        cost = cpu_cost(run_write, echo, os.cpu_count() or 1)
        return {
            "cpu_in_echo_calls": in_echo_calls(cost), "cpu_cost": cost,
            "requests_per_s": run_write["requests_per_s"],
            "echo_requests_per_s": echo["requests_per_s"],
            "ratio": round(run_write["requests_per_s"] / echo["requests_per_s"], 3)
            if echo["requests_per_s"] else 0.0,
            "run": run_write, "echo": echo, "batch": self.prepared_run.batch,
            "runs": _without_latencies(runs, ("echo", "run")),
        }

    async def readings(self) -> dict[str, Any]:
        """Each readings case against the sink and the service, interleaved, every round."""
        args = self.args
        assert self.prepared_run is not None
        addresses = {
            "sink": self.sink.address,
            "service": self.deployment.address(args.origin, CONJUGATION.name),
        }
        runs: list[dict[str, Any]] = []
        for round_number in range(1, args.rounds + 1):
            for per_message, streams in READINGS_CASES:
                tags = [tag_name(round_number, per_message, streams, stream)
                        for stream in range(1, streams + 1)]
                for target in ("sink", "service"):
                    await self.settle(f"readings {target} {per_message}x{streams}")
                    result, usage = await self.child(
                        f"readings {target}: {per_message} pt/msg, {streams} streams, "
                        f"round {round_number}/{args.rounds}", "bench.readings",
                        [
                            "--address", addresses[target], "--run", self.prepared_run.run,
                            "--tags", ",".join(tags), "--points-per-message", str(per_message),
                            "--warmup", str(args.warmup), "--duration", str(args.duration),
                        ],
                        budget=args.warmup + args.duration + ANSWER_TIMEOUT_S,
                    )
                    runs.append({**result, "target": target, "round": round_number,
                                 "cpu": usage})
        return {
            "cases": [readings_case(runs, per_message, streams)
                      for per_message, streams in READINGS_CASES],
            "target_ratio_min": report.READINGS_RATIO_TARGET,
            "target_batched_points_per_s_per_stream_min": report.READINGS_RATE_TARGET,
            "run": self.prepared_run.run, "runs": runs,
        }


def _without_latencies(runs: list[dict[str, Any]], targets: tuple[str, ...]
                       ) -> list[dict[str, Any]]:
    """The runs of ``targets`` as the results file keeps them: every latency merged, not listed."""
    return [{key: value for key, value in run.items() if key != "latencies_us"}
            for run in runs if run["target"] in targets]


def in_echo_calls(cost: dict[str, Any]) -> float | None:
    """A call's CPU (all processes) in bare echo calls' CPU; None where either is missing."""
    service_ms, echo_ms = cost["ms_per_request"], cost["echo_ms_per_request"]
    return round(service_ms / echo_ms, 2) if service_ms and echo_ms else None


def readings_case(runs: list[dict[str, Any]], per_message: int, streams: int) -> dict[str, Any]:
    """One readings case over its rounds: points ingested per second per stream by the service
    and by the sink, their ratio and the verdicts (the rate target is for batched messages
    only; a stream whose answer did not match what it wrote gives its case no verdict)."""
    def mine(target: str) -> dict[str, Any]:
        return _combined_readings([
            run for run in runs if run["target"] == target
            and run["points_per_message"] == per_message and run["streams"] == streams
        ])

    sink, service = mine("sink"), mine("service")
    ratio = (service["ingested_points_per_s_per_stream"]
             / sink["ingested_points_per_s_per_stream"]
             if sink["ingested_points_per_s_per_stream"] else 0.0)
    rate_target = report.READINGS_RATE_TARGET if per_message > 1 else None
    clean = service["mismatches"] == 0 and sink["mismatches"] == 0
    ratio_met = ratio >= report.READINGS_RATIO_TARGET and clean
    rate_met = None if rate_target is None else (
        service["ingested_points_per_s_per_stream"] >= rate_target and clean
    )
    return {
        "points_per_message": per_message, "streams": streams, "ratio": round(ratio, 3),
        "target_ratio_min": report.READINGS_RATIO_TARGET, "ratio_met": ratio_met,
        "target_points_per_s_per_stream_min": rate_target, "rate_met": rate_met,
        "service": service, "sink": sink,
    }


def _combined_readings(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every round of one readings case at one server as one: points stored over the calls'
    time (first write to answer), per stream; beside it the points written in the windows over
    the windows' time; CPU per point ingested, every process of ours counted."""
    streams = runs[0]["streams"] if runs else 1
    stored = sum(run["points_stored"] for run in runs)
    ingest_s = sum(run["ingest_s"] for run in runs)  # summed over the streams too
    ingested = stored / ingest_s * streams if ingest_s else 0.0  # all streams together
    seconds = sum(run["duration_s"] for run in runs)
    written = sum(run["points_in_window"] for run in runs) / seconds if seconds else 0.0
    usage = _mean_usage([run["cpu"] for run in runs])
    cores = usage.get("cores_ours")
    return {
        "ingested_points_per_s_per_stream": round(ingested / streams, 1),
        "ingested_points_per_s": round(ingested, 1),
        "per_round_ingested_points_per_s_per_stream": [
            run["ingested_points_per_s_per_stream"] for run in runs
        ],
        "written_points_per_s_per_stream": round(written / streams, 1),
        "cpu_us_per_point": round(cores * 1e6 / ingested, 2) if cores and ingested else None,
        "mismatches": sum(run["mismatches"] for run in runs),
        "errors": [error for run in runs for error in run["errors"]],
        "longest_answer_s": max(
            (stream["answer_s"] or 0.0 for run in runs for stream in run["per_stream"]),
            default=None,
        ),
        "client_cpu_cores": round(sum(run["client_cpu_cores"] for run in runs) / len(runs), 3)
        if runs else 0.0,
        "cpu": usage,
    }


def _ratio(service: dict[str, Any], echo: dict[str, Any]) -> dict[str, Any]:
    ratio = service["requests_per_s"] / echo["requests_per_s"] if echo["requests_per_s"] else 0
    return {
        "ratio": round(ratio, 3), "target_min": report.RATIO_TARGET,
        "met": ratio >= report.RATIO_TARGET,
        "cpu_cost": cpu_cost(service, echo, os.cpu_count() or 1),
    }


def cpu_cost(service: dict[str, Any], echo: dict[str, Any], cores: int) -> dict[str, Any]:
    """What a request cost in CPU, every process of ours counted (client, servers, nats-servers,
    views), and what that cost allows on ``cores`` cores; None where a figure is missing.

    ``ceiling_ratio`` is the ratio the service would reach if it kept every core busy at the
    cost it had in this run, against the echo as measured; ``ms_for_target`` is the cost per
    request at which the target ratio would be within reach of the machine at all.
    """
    def per_request_ms(figures: dict[str, Any]) -> float | None:
        cores_used = figures.get("cpu", {}).get("cores_ours")
        rate = figures["requests_per_s"]
        return cores_used * 1000 / rate if rate and cores_used else None

    service_ms, echo_ms = per_request_ms(service), per_request_ms(echo)
    echo_rate = echo["requests_per_s"]
    ceiling = cores * 1000 / service_ms if service_ms else None
    return {
        "cores": cores,
        "ms_per_request": _rounded(service_ms),
        "echo_ms_per_request": _rounded(echo_ms),
        "ceiling_requests_per_s": _rounded(ceiling, 1),
        "ceiling_ratio": _rounded(ceiling / echo_rate if ceiling and echo_rate else None),
        "ms_for_target": _rounded(
            cores * 1000 / (report.RATIO_TARGET * echo_rate) if echo_rate else None
        ),
    }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _combined(runs: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """Every round of ``target`` as one: total completions over total measured time."""
    mine = [run for run in runs if run["target"] == target]
    seconds = sum(run["duration_s"] for run in mine)
    errors: dict[str, int] = {}
    for run in mine:
        for code, count in run["errors"].items():
            errors[code] = errors.get(code, 0) + count
    completed = sum(run["completed"] for run in mine)
    return {
        "requests_per_s": round(completed / seconds, 1) if seconds else 0.0,
        "per_round_requests_per_s": [run["requests_per_s"] for run in mine],
        "latency": latency_summary_ms(
            [latency / 1e6 for run in mine for latency in run["latencies_us"]]
        ),
        "errors": errors,
        "client_cpu_cores": round(sum(run["client_cpu_cores"] for run in mine) / len(mine), 3),
        "cpu": _mean_usage([run["cpu"] for run in mine]),
    }


def _mean_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    usages = [usage for usage in usages if usage]
    if not usages:
        return {}
    labels = sorted({label for usage in usages for label in usage["cores_by_process"]})
    return {
        "cores_by_process": {
            label: round(
                sum(usage["cores_by_process"].get(label, 0.0) for usage in usages) / len(usages), 3
            )
            for label in labels
        },
        **{
            key: round(sum(u[key] for u in usages) / len(usages), 3)
            for key in ("cores_ours", "cores_machine", "cores_others")
        },
    }


async def measure(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="twinline-bench-"))
    failed = False
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
        TimeElapsedColumn(), console=console,
    )
    with progress:
        bench = Bench(args, progress, data_dir)
        try:
            await bench.start()
            figures: dict[str, Any] = {}
            if "mbr" in bench.parts:
                figures["cross_site_latency"] = await bench.cross_site()
                await bench.prepare_batches()
            if "readings" in bench.parts:
                await bench.prepare_run()
            runs = await bench.throughput() if {"mbr", "readings"} & set(bench.parts) else []
            if "mbr" in bench.parts:
                figures["mbr_create_throughput"], figures["step_record_throughput"] = (
                    bench.mbr_figures(runs)
                )
            if "readings" in bench.parts:
                figures["run_write_cpu"] = bench.run_write_figure(runs)
                figures["readings_ingest"] = await bench.readings()
            if "board" in bench.parts:
                figures["board_delay"] = await bench.board()
        except Exception:
            failed = True  # the logs say why: keep them
            raise
        finally:
            await bench.stop()
            if failed or args.keep_data:
                console.print(f"data and logs kept in {data_dir}")
            else:
                shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "config": {
            "origin": args.origin, "other": args.other,
            "sqlite_synchronous": bench.settings.sqlite_synchronous,
            "concurrency": args.concurrency, "channels": args.channels,
            "warmup_s": args.warmup, "duration_s": args.duration, "rounds": args.rounds,
            "records": args.records, "poll_interval_ms": args.poll_interval * 1000,
            "record_deadline_s": args.record_deadline, "parts": list(bench.parts),
            "board_samples": args.board_samples,
            "readings_cases": [
                {"points_per_message": per_message, "streams": streams}
                for per_message, streams in READINGS_CASES
            ],
        },
        "unsettled_before": bench.unsettled,
        **figures,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The bench's options, from ``argv`` (None: the command line)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1, help="gRPC channels of the client")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of each measurement (echo, create, step record, run "
                        "write; each readings case against sink and service), interleaved")
    parser.add_argument("--max-calls", type=int, default=500_000, help="bound per run")
    parser.add_argument("--max-batches", type=int, default=20_000,
                        help="bound on the batches created for the step-record rounds")
    parser.add_argument("--batch-time-limit", type=float, default=120.0,
                        help="seconds after which no more batches are created")
    parser.add_argument("--records", type=int, default=200, help="cross-site records")
    parser.add_argument("--poll-interval", type=float, default=0.001, help="seconds")
    parser.add_argument("--record-deadline", type=float, default=5.0, help="seconds per record")
    parser.add_argument("--time-limit", type=float, default=180.0,
                        help="seconds after which the cross-site probe starts no more records")
    parser.add_argument("--origin", default="syracuse", help="site where records are created")
    parser.add_argument("--other", default="songdo", help="site whose view is polled")
    parser.add_argument("--board-samples", type=int, default=20,
                        help="steps timed to the other site's board in the browser")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir")
    parser.add_argument("--only", choices=PARTS,
                        help="measure one part: mbr (create, step record, cross-site), "
                        "readings (ingest against the sink, run-write CPU) or board (a step "
                        "to the other site's board in a browser); default all")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    console = Console()
    started = datetime.now(UTC)
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    measured = await measure(args, console)
    results = {
        "benchmark": "twinline-mbr",
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        **report.commit(),
        "machine": report.machine(),
        **measured,
    }
    report.print_tables(console, results, report.write(results, started))


def main() -> None:
    os.chdir(PROJECT_ROOT)
    try:
        asyncio.run(run(parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM
        Console(stderr=True).print("bench interrupted; servers stopped")
        sys.exit(130)
    except (BenchChildError, PreparationError, ServiceProcessError, NatsServerError) as exc:
        Console(stderr=True).print(f"[red]bench failed:[/] {exc}", markup=True, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
