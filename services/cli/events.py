"""``twinline events tail``: the events as they arrive at a site's NATS, both sites', one line
each — when, which site, which context, what happened, to what.

    twinline events tail                                # every event from now on, Ctrl-C ends
    twinline events tail --origin songdo --context batchrecords
    twinline events tail --since 10m --idle-seconds 2   # the last ten minutes', then stop
    twinline events tail --output json                  # one JSON document per line

A site's stream holds its own events and those sourced from the other sites, so one site's
server shows them all. Heartbeats are left out unless ``--heartbeats``. Nothing is
acknowledged or kept: the tail reads through an ordered consumer of its own that the server
forgets when it stops.

Exit codes: 0 stopped (Ctrl-C, ``--max-events`` or ``--idle-seconds``), 2 bad arguments,
4 the site's NATS does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import pkgutil
import re
import signal
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import nats
import twinline.events.v1
import typer
from google.protobuf import json_format, message, symbol_database
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.cli.common import (
    Exit,
    OutputOption,
    SiteOption,
    checked_output,
    console,
    fail,
)
from services.cli.record_text import version_label
from services.common.messaging.subjects import ROOT, stream_name
from services.common.settings import Settings

events_app = typer.Typer(help="Follow the events of both sites.", no_args_is_help=True)
CONTEXTS = ("batchrecords", "conjugation", "release_testing", "tech_transfer", "siteview")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.5
SUMMARY_FIELDS = 3
DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _register_event_types() -> None:
    """Imports every ``twinline.events.v1.*_pb2``: their messages join the symbol database."""
    for module in pkgutil.iter_modules(twinline.events.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"{twinline.events.v1.__name__}.{module.name}")


def event_of(msg: Msg) -> dict[str, Any]:
    """An event's CloudEvents attributes, its subject's parts and its payload, decoded."""
    headers = msg.headers or {}
    parts = msg.subject.split(".")
    payload: dict[str, Any] | None = None
    try:
        payload_class: type[message.Message] = symbol_database.Default().GetSymbol(
            headers.get("ce-type", ""))
        payload = json_format.MessageToDict(payload_class.FromString(msg.data),
                                            preserving_proto_field_name=True)
    except (KeyError, message.DecodeError):
        payload = None  # a type newer than this tool, or not an event: the line says so
    return {
        "stream_sequence": msg.metadata.sequence.stream,
        "time": headers.get("ce-time"),
        "site": parts[1] if len(parts) > 1 else "",
        "context": parts[2] if len(parts) > 2 else "",
        "event": ".".join(parts[3:]),
        "subject": msg.subject,
        "type": headers.get("ce-type"),
        "id": headers.get("ce-id"),
        "resource": headers.get("ce-subject"),
        "payload": payload,
    }


def line_of(event: dict[str, Any]) -> str:
    """One event as a person reads it: time, site, context, event, resource, a few fields."""
    stamp = event["time"] or ""
    try:
        shown = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
        when = shown.strftime("%H:%M:%S")
    except ValueError:
        when = "--:--:--"
    summary = _summary(event["payload"]) if event["payload"] is not None else "(undecoded)"
    resource = _short_name(event["resource"] or "")
    return f"{when} {event['site']:<9} {event['context']:<13} {event['event']} {resource} " \
           f"{summary}".rstrip()


def _summary(payload: dict[str, Any]) -> str:
    """What a person wants from a payload on one line: its short fields (``step_id=S2``,
    ``step_ids=S1,S2``), who signed it and what for, the state the record is now in."""
    found: list[str] = []
    for name, value in payload.items():
        if isinstance(value, list) and value and all(_short(item) for item in value):
            found.append(f"{name}={','.join(map(str, value))}")
        elif _short(value):
            found.append(f"{name}={value}")
        elif isinstance(value, dict) and "signer" in value:
            meaning = value.get("meaning", "").rpartition("_MEANING_")[2]
            meaning = f" ({meaning})" if meaning else ""
            found.append(f"signed by {value['signer']}{meaning}")
        elif isinstance(value, dict) and isinstance(value.get("state"), str):
            found.append(f"now {value['state'].rpartition('_STATE_')[2]}")
    return " ".join(found[:SUMMARY_FIELDS])


def _short_name(resource: str) -> str:
    """A resource as the commands take it: "batches/SYR-B-2026-00001" → its id,
    "masterBatchRecords/SYR-MBR-000001/versions/2" → "SYR-MBR-000001@2"."""
    labelled = version_label(resource)
    return labelled if labelled != resource else resource.rpartition("/")[2]


def _short(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 40


def _subject(origin: str | None, context: str | None) -> str:
    return f"{ROOT}.{origin or '*'}.{context or '*'}.>"


@events_app.command("tail")
def tail(
    site: SiteOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Only the events this site originated.")] = None,
    context: Annotated[str | None, typer.Option(
        "--context", help=f"Only this context's: one of {', '.join(CONTEXTS)}.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Start with the events of the last 30s, 10m, 2h or 1d.")] = None,
    max_events: Annotated[int | None, typer.Option(
        "--max-events", min=1, help="Stop after this many.")] = None,
    idle_seconds: Annotated[float | None, typer.Option(
        "--idle-seconds", min=0.1, help="Stop when nothing came for this long.")] = None,
    heartbeats: Annotated[bool, typer.Option(
        "--heartbeats", help="Show the sites' heartbeats too.")] = False,
    nats_url: Annotated[str | None, typer.Option(
        "--nats-url", help="The site's NATS; default: TWINLINE_NATS_URL.")] = None,
    output: OutputOption = "text",
) -> None:
    """Print the events as they arrive, both sites', filtered by origin site and context."""
    checked_output(output)
    settings = Settings(site=site) if site else Settings()
    known = settings.registry.ids()
    if settings.site not in known:
        fail(f"unknown site {settings.site!r}; known: {', '.join(known)}", Exit.USAGE)
    if origin is not None and origin not in known:
        fail(f"unknown origin {origin!r}; known: {', '.join(known)}", Exit.USAGE)
    if context is not None and not NAME.match(context):
        fail(f"not a context name: {context!r}; e.g. {', '.join(CONTEXTS)}", Exit.USAGE)
    start = None if since is None else datetime.now(UTC) - _duration(since)
    _register_event_types()
    url = nats_url or settings.nats_url
    asyncio.run(_follow(
        url, stream_name(settings.site), _subject(origin, context), start, max_events,
        idle_seconds, heartbeats, output,
    ))


async def _follow(
    url: str, stream: str, subject: str, start: datetime | None, max_events: int | None,
    idle_seconds: float | None, heartbeats: bool, output: str,
) -> None:
    async def quiet(exc: Exception) -> None:
        pass  # the failure below says it once

    try:
        client = await asyncio.wait_for(nats.connect(
            url, connect_timeout=CONNECT_TIMEOUT_S, max_reconnect_attempts=0,
            allow_reconnect=False, error_cb=quiet, name="twinline-events-tail",
        ), CONNECT_TIMEOUT_S)
    except Exception:
        fail(f"the NATS at {url} does not answer: is the site running (make run)?",
             Exit.UNREACHABLE)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stopping.set)
    try:
        js = client.jetstream()
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW) if start is None else \
            ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)
        arrived: asyncio.Queue[Msg] = asyncio.Queue()

        async def deliver(msg: Msg) -> None:
            await arrived.put(msg)

        subscription = await js.subscribe(subject, stream=stream, ordered_consumer=True,
                                          cb=deliver, config=config)
        shown = 0
        idle_since = loop.time()
        try:
            while not stopping.is_set() and (max_events is None or shown < max_events):
                if idle_seconds is not None and loop.time() - idle_since >= idle_seconds:
                    break
                try:
                    msg = await asyncio.wait_for(arrived.get(), POLL_S)
                except TimeoutError:
                    continue
                if not heartbeats and msg.subject.endswith(".siteview.site.heartbeat"):
                    continue
                idle_since = loop.time()
                event = event_of(msg)
                if output == "json":
                    typer.echo(json.dumps(event, ensure_ascii=False, sort_keys=True))
                else:
                    console.print(line_of(event), soft_wrap=True, highlight=False, markup=False)
                shown += 1
        finally:
            await subscription.unsubscribe()
    finally:
        await client.close()


def _duration(text: str) -> timedelta:
    """``30s``, ``10m``, ``2h``, ``1d``; anything else is refused (exit 2)."""
    found = DURATION.match(text.strip())
    if found is None:
        fail(f"--since {text!r}: a number and s, m, h or d, e.g. 10m", Exit.USAGE)
    return timedelta(seconds=int(found[1]) * UNIT_SECONDS[found[2]])
