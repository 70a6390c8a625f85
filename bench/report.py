"""The results file (bench/results/<UTC time>-mbr.json and latest.json) and the console tables."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from services.devstack.processes import PROJECT_ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RATIO_TARGET = 0.6
P99_TARGET_MS = 25.0
# Readings ingest: of the bare sink's points/s per stream, and points/s per stream when batched.
READINGS_RATIO_TARGET = 0.5
READINGS_RATE_TARGET = 50_000


def commit() -> dict[str, object]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": model,
    }


def write(results: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2) + "\n"
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}-mbr.json"
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path


def _verdict(met: bool) -> str:
    return "[green]✔ met[/]" if met else "[red]✘ missed[/]"


def _mark(met: bool) -> str:
    return "[green]✔[/]" if met else "[red]✘[/]"


def print_tables(console: Console, results: dict[str, Any], path: Path) -> None:
    config = results["config"]
    host = results["machine"]
    console.print(
        f"commit {results['commit']}{' (dirty tree)' if results['worktree_dirty'] else ''} · "
        f"nproc {host['nproc']} · Python {host['python']} · "
        f"SQLite synchronous={config['sqlite_synchronous']}"
    )
    if "mbr_create_throughput" in results:
        print_mbr_tables(console, results)
    if "readings_ingest" in results:
        print_readings_tables(console, results)
    if "board_delay" in results:
        print_board_table(console, results)
    console.print(f"written {path.relative_to(PROJECT_ROOT)} and latest.json")


def print_board_table(console: Console, results: dict[str, Any]) -> None:
    figure = results["board_delay"]
    delay = figure["delay"]
    table = Table(title=f"A step at {results['config']['origin']} → "
                  f"{results['config']['other']}'s board in the browser")
    for column in ("samples", "missed", "p50 ms", "p95 ms", "max ms", f"target p95 ≤ "
                   f"{figure['target_p95_s']:g} s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(figure["samples"]), str(figure["missed"]), _figure(delay.get("p50_ms"), 0),
        _figure(delay.get("p95_ms"), 0), _figure(delay.get("max_ms"), 0),
        _verdict(figure["met"]) + (" (page reloaded)" if figure["page_reloaded"] else ""),
    )
    console.print(table)


def print_mbr_tables(console: Console, results: dict[str, Any]) -> None:
    config = results["config"]
    throughput = results["mbr_create_throughput"]
    step_record = results["step_record_throughput"]
    table = Table(
        title=f"Throughput ({config['concurrency']} in flight, "
        f"{config['channels']} channel, {config['rounds']} runs of {config['duration_s']:g} s each)"
    )
    for column in ("server", "req/s", "p50 ms", "p99 ms", "errors", "client cores", "÷ echo"):
        table.add_column(column, justify="left" if column == "server" else "right")
    rows = (
        ("MBR create", throughput["create"], f"{throughput['ratio']:.3f}"),
        ("step record", step_record["record"], f"{step_record['ratio']:.3f}"),
        ("bare echo", throughput["echo"], ""),
    )
    for label, figures, ratio in rows:
        table.add_row(
            label, f"{figures['requests_per_s']:.0f}", f"{figures['latency'].get('p50_ms', 0):.2f}",
            f"{figures['latency'].get('p99_ms', 0):.2f}", str(sum(figures["errors"].values())),
            f"{figures['client_cpu_cores']:.2f}", ratio,
        )
    prepared = step_record["preparation"]
    ran_out = " [red]— ran out of batches: measured less than asked[/]" if (
        step_record["ran_out_of_batches"]) else ""
    table.caption = (
        f"ratio create/echo = {throughput['ratio']:.3f} (target ≥ {RATIO_TARGET}) "
        f"{_verdict(throughput['met'])}\n"
        f"ratio step record/echo = {step_record['ratio']:.3f} (target ≥ {RATIO_TARGET}) "
        f"{_verdict(step_record['met'])}{ran_out}\n"
        f"step record: RecordStep of a one-step batch as the MES, one batch per call, "
        f"{prepared['batches_created']} batches prepared"
    )
    console.print(table)

    cross = results["cross_site_latency"]
    delay = cross["delay"]
    table = Table(
        title=f"Cross-site: commit at {config['origin']} → listed by {config['other']}'s "
        f"view ({cross['records_measured']} records)"
    )
    for column in ("p50 ms", "p90 ms", "p99 ms", "max ms", "missed", "create p50", "poll p50"):
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{delay.get(key, math.nan):.2f}" for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
        f"{cross['missed']}/{cross['records_measured']}",
        f"{cross['create_latency'].get('p50_ms', math.nan):.2f}",
        f"{cross['poll_round_trip'].get('p50_ms', math.nan):.2f}",
    )
    table.caption = (
        f"target p99 ≤ {P99_TARGET_MS:g} ms {_verdict(cross['met'])}; polled every "
        f"{cross['poll_interval_ms']:g} ms, {cross['deadline_s']:g} s deadline per record"
    )
    console.print(table)

    console.print(cost_table(throughput, step_record))

    cpu = Table(title="CPU (cores, averaged over the measured windows)")
    cpu.add_column("process")
    windows = [("echo", "echo rounds"), ("create", "create rounds"),
               ("record", "step-record rounds"), ("cross_site", "cross-site")]
    for _, title in windows:
        cpu.add_column(title, justify="right")
    usage = {
        "echo": throughput["echo"]["cpu"], "create": throughput["create"]["cpu"],
        "record": step_record["record"]["cpu"], "cross_site": cross.get("cpu", {}),
    }
    labels = sorted(
        {label for window in usage.values() for label in window.get("cores_by_process", {})}
    )
    for label in labels:
        cpu.add_row(label, *(
            f"{usage[key].get('cores_by_process', {}).get(label, 0.0):.2f}" for key, _ in windows
        ))
    cpu.add_row("[dim]other processes on the machine[/]", *(
        f"{usage[key].get('cores_others', 0.0):.2f}" for key, _ in windows
    ))
    console.print(cpu)


def print_readings_tables(console: Console, results: dict[str, Any]) -> None:
    config = results["config"]
    ingest = results["readings_ingest"]
    table = Table(
        title=f"Readings ingested, points/s per stream ({config['rounds']} runs per case and "
        "server)"
    )
    for column in ("pts", "streams", "sink", "service", "÷ sink", "≥ 0.5", "≥ 50k",
                   "written", "drain"):
        table.add_column(column, justify="right")
    mismatches = 0
    for case in ingest["cases"]:
        sink, service = case["sink"], case["service"]
        table.add_row(
            str(case["points_per_message"]), str(case["streams"]),
            f"{sink['ingested_points_per_s_per_stream']:,.0f}",
            f"{service['ingested_points_per_s_per_stream']:,.0f}", f"{case['ratio']:.3f}",
            _mark(case["ratio_met"]), "" if case["rate_met"] is None else _mark(case["rate_met"]),
            f"{service['written_points_per_s_per_stream']:,.0f}",
            _figure(service["longest_answer_s"], 1),
        )
        mismatches += service["mismatches"] + sink["mismatches"]
    table.caption = (
        f"pts: points a message. StreamReadings to {ingest['run']} (a tag per stream, strictly "
        f"later times) and to a bare grpc.aio sink, by the same client: points stored ÷ first "
        f"write to answer, "
        f"{config['warmup_s']:g} + {config['duration_s']:g} s of writing; targets ≥ "
        f"{READINGS_RATIO_TARGET} of the sink, ≥ {READINGS_RATE_TARGET:,} points/s per stream "
        "in batched messages (reported, not pass/fail); written: the service's points/s per "
        "stream written in the window; drain: its longest wait (s) for an answer after the "
        f"writing. Answers short of the points written: {mismatches}"
        + ("" if not mismatches else " [red](no verdict on their cases)[/]")
    )
    console.print(table)

    run_write = results["run_write_cpu"]
    cost = run_write["cpu_cost"]
    table = Table(title="Run write: CreateRun, CPU of all our processes per call")
    for column in ("server", "req/s", "CPU ms / call", "in echo calls"):
        table.add_column(column, justify="left" if column == "server" else "right")
    table.add_row("CreateRun", f"{run_write['requests_per_s']:.0f}",
                  _figure(cost["ms_per_request"], 3), _figure(run_write["cpu_in_echo_calls"], 1))
    table.add_row("bare echo", f"{run_write['echo_requests_per_s']:.0f}",
                  _figure(cost["echo_ms_per_request"], 3), "1")
    table.caption = f"{config['concurrency']} in flight, runs of {run_write['batch']}"
    console.print(table)

    cpu = Table(title="CPU while ingesting (cores, averaged over the measured windows)")
    for column in ("pts", "streams", "to", "client", "server", "nats", "views",
                   "rest", "others", "µs/pt"):
        cpu.add_column(column, justify="left" if column == "to" else "right")
    for case in ingest["cases"]:
        for target in ("sink", "service"):
            figures = case[target]
            shares = _ingest_shares(figures["cpu"])
            cpu.add_row(
                str(case["points_per_message"]), str(case["streams"]), target,
                *(f"{shares[group]:.2f}" for group in INGEST_GROUPS),
                f"{figures['cpu'].get('cores_others', 0.0):.2f}",
                _figure(figures["cpu_us_per_point"], 1),
            )
    cpu.caption = (
        "client: bench.readings; server: the sink or conjugation; rest: our other processes; "
        "others: the rest of the machine; µs/pt: all our processes' CPU per point ingested"
    )
    console.print(cpu)


INGEST_GROUPS = ("client", "server", "nats", "views", "rest")


def _ingest_shares(usage: dict[str, Any]) -> dict[str, float]:
    """Cores per group of our processes: the load client, the server under test, the
    nats-servers, the site views, the rest."""
    shares = dict.fromkeys(INGEST_GROUPS, 0.0)
    for label, cores in usage.get("cores_by_process", {}).items():
        if label == "bench.readings":
            group = "client"
        elif label == "bench.readings_sink" or label.startswith("conjugation@"):
            group = "server"
        elif label.startswith("nats-server@"):
            group = "nats"
        elif label.startswith("site_view@"):
            group = "views"
        else:
            group = "rest"
        shares[group] += cores
    return shares


def cost_table(throughput: dict[str, Any], step_record: dict[str, Any]) -> Table:
    """CPU per request, every process of ours counted, and the ceiling it sets on this machine."""
    create, record = throughput["cpu_cost"], step_record["cpu_cost"]
    table = Table(
        title="CPU per request (all our processes: client, services, nats-servers, views)"
    )
    for column in ("server", "CPU ms / request", f"req/s with {create['cores']} cores busy",
                   "÷ echo at most"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for label, cost in (("MBR create", create), ("step record", record)):
        table.add_row(
            label, _figure(cost["ms_per_request"], 3), _figure(cost["ceiling_requests_per_s"], 0),
            _figure(cost["ceiling_ratio"], 3),
        )
    table.add_row("bare echo", _figure(create["echo_ms_per_request"], 3), "", "")
    table.caption = (
        f"at this run's cost per request; a ratio of {RATIO_TARGET} would need at most "
        f"{_figure(create['ms_for_target'], 3)} ms of CPU per request, all processes together"
    )
    return table


def _figure(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
