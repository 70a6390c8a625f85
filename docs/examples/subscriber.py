"""Follows every site's Twinline events from one site's NATS server, durably: a restart
resumes after the last event it acknowledged.

An outside subscriber's example (docs/events.md, "Following the events from outside"): it needs
only nats-py, the standard library and the generated protobuf package ``twinline``, e.g.

    python docs/examples/subscriber.py nats://127.0.0.1:4222 --site syracuse --durable erp \\
        --output events.jsonl

Each site's stream ``TWINLINE_<SITE>`` holds its own events and those sourced from the other
sites, so one site's server is enough to see them all. Delivery is at least once: an event
handled but not acknowledged before a crash comes again, so a subscriber that must not apply
one twice keeps the ``ce-id`` of what it applied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import pkgutil
import signal
import sys
import time
from pathlib import Path
from typing import IO

import nats
import twinline.events.v1
from google.protobuf import json_format, message, symbol_database
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

# The fetch returns as soon as a message is there; this bounds an idle wait, and how long a
# stop waits for the pull in flight to run out (a pull cut short would hold back a message
# delivered to it until the consumer's ack wait).
FETCH_TIMEOUT_S = 1.0
ACK_WAIT_S = 30.0


def register_event_types() -> None:
    """Imports every ``twinline.events.v1.*_pb2``: their messages join the symbol database."""
    for module in pkgutil.iter_modules(twinline.events.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"{twinline.events.v1.__name__}.{module.name}")


def is_heartbeat(subject: str) -> bool:
    """``twinline.<site>.siteview.site.heartbeat``: a site's "I am up", every few seconds."""
    return subject.split(".")[2:] == ["siteview", "site", "heartbeat"]


def decode(msg: Msg) -> dict[str, object]:
    """The event's CloudEvents attributes and its payload, decoded by ``ce-type``."""
    headers = msg.headers or {}
    event_type = headers["ce-type"]
    payload_class: type[message.Message] | None
    try:
        payload_class = symbol_database.Default().GetSymbol(event_type)
    except KeyError:
        # A type newer than this copy of the protobuf package: kept, undecoded.
        print(f"unknown event type {event_type} on {msg.subject}", file=sys.stderr)
        payload_class = None
    return {
        "id": headers["ce-id"],
        "site": msg.subject.split(".")[1],
        "subject": msg.subject,
        "type": event_type,
        "source": headers.get("ce-source"),
        "ce_subject": headers.get("ce-subject"),
        "time": headers.get("ce-time"),
        "stream_sequence": msg.metadata.sequence.stream,
        "payload": None if payload_class is None
        else json_format.MessageToDict(payload_class.FromString(msg.data)),
    }


async def follow(arguments: argparse.Namespace, output: IO[str] | None) -> int:
    """Handles events until SIGTERM or SIGINT, `--max-events` or `--idle-seconds`; returns how
    many it handled."""
    stopping = asyncio.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(number, stopping.set)
    stream = arguments.stream or f"TWINLINE_{arguments.site.upper()}"
    client = await nats.connect(arguments.url, name=f"twinline-subscriber-{arguments.durable}")
    handled = 0
    try:
        js = client.jetstream()
        subscription = await bind(js, stream, arguments.durable, arguments.subject)
        last_event = time.monotonic()
        while not stopping.is_set() and handled < arguments.max_events:
            if time.monotonic() - last_event >= arguments.idle_seconds:
                break
            try:
                messages = await subscription.fetch(arguments.batch, timeout=FETCH_TIMEOUT_S)
            except TimeoutError:  # nothing new
                continue
            for msg in messages:
                if stopping.is_set() or handled >= arguments.max_events:
                    await msg.nak()  # not handled: the next run gets it at once
                    continue
                if is_heartbeat(msg.subject) and not arguments.heartbeats:
                    await msg.ack()
                    continue
                if not {"ce-id", "ce-type"} <= set(msg.headers or {}):
                    # Not an event: retrying cannot make it one.
                    print(f"skipped {msg.subject}: no CloudEvents headers", file=sys.stderr)
                    await msg.ack()
                    continue
                event = decode(msg)
                print(f"{event['site']:<10} {event['subject']} {event['type']} "
                      f"{event['ce_subject']} {event['time']}", flush=True)
                if output is not None:
                    output.write(json.dumps(event, sort_keys=True) + "\n")
                    output.flush()
                # Acknowledged once handled, and confirmed: a restart resumes after it.
                await msg.ack_sync()
                handled += 1
                last_event = time.monotonic()
    finally:
        # Not drain(): on a pull subscription nats-py's drain waits out its timeout, and
        # everything handled is acknowledged already.
        await client.close()
    return handled


async def bind(
    js: JetStreamContext, stream: str, durable: str, subject: str
) -> JetStreamContext.PullSubscription:
    """The durable pull consumer `durable` on `stream`, created the first time; after that the
    same call finds it with its position (what it acknowledged is not delivered again), and a
    new `subject` updates its filter."""
    await js.add_consumer(stream, ConsumerConfig(
        durable_name=durable,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
    ))
    return await js.pull_subscribe_bind(durable=durable, stream=stream)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", help="a site's NATS server, e.g. nats://127.0.0.1:4222")
    parser.add_argument("--site", required=True,
                        help="that server's site id, e.g. syracuse: the stream is TWINLINE_<SITE>")
    parser.add_argument("--stream", help="the stream's name, if not TWINLINE_<SITE>")
    parser.add_argument("--durable", required=True,
                        help="the consumer's name; the same name resumes where it left off")
    parser.add_argument("--subject", default="twinline.>",
                        help="which events (every site's by default), e.g. "
                        "twinline.*.batchrecords.>")
    parser.add_argument("--heartbeats", action="store_true",
                        help="also show the sites' heartbeats (skipped and acked by default)")
    parser.add_argument("--output", help="also append each event as a JSON line to this file")
    parser.add_argument("--batch", type=int, default=64, help="events per fetch (1..1000)")
    parser.add_argument("--max-events", type=int, default=sys.maxsize,
                        help="stop after handling this many")
    parser.add_argument("--idle-seconds", type=float, default=float("inf"),
                        help="stop after this long without an event (heartbeats do not count)")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.batch <= 1000:
        parser.error("--batch must be 1..1000")
    return arguments


def main(argv: list[str]) -> None:
    arguments = parse(argv)
    register_event_types()
    with contextlib.ExitStack() as files:
        output = None
        if arguments.output is not None:
            output = files.enter_context(Path(arguments.output).open("a", encoding="utf-8"))
        handled = asyncio.run(follow(arguments, output))
    print(f"handled {handled} events", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
