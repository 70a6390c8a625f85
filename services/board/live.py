"""The board's server-sent events: one WatchChanges stream per open page, to the local site view
with the user's token. Each change re-reads the picture and sends the columns that differ;
every few seconds the link state and the columns (runs' latest readings) are refreshed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from twinline.siteview.v1 import site_view_service_pb2 as api

from services.board import render
from services.board.picture import SECTIONS, Metadata, SitePicture, SiteViewReader, Stale

log = logging.getLogger(__name__)

# How long the browser waits before it reconnects a dropped stream (the SSE "retry" field).
RECONNECT_MS = 1000
# After the site view refused or dropped the watch, wait this long before watching again.
REWATCH_S = 1.0
# What makes the user log in again rather than wait.
LOGGED_OUT = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


def sse(event: str, data: dict[str, str], event_id: str = "") -> str:
    """One server-sent event; its data is JSON on one line."""
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


def resume_token(last_event_id: str | None) -> str:
    """The change to watch from: the browser's Last-Event-ID when it is a token, else none."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit() \
            and len(last_event_id) <= 19:
        return last_event_id
    return ""


@dataclass
class ChangeWatch:
    """Follows the site view's WatchChanges from ``token`` on, across its restarts; ``changed``
    is set by every message that carries changes of a section the board shows (``stale``
    collects which), ``refused`` once the token is no longer accepted."""

    reader: SiteViewReader
    metadata: Metadata
    token: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    stale: Stale = field(default_factory=set)
    refused: grpc.aio.AioRpcError | None = None

    def take(self) -> Stale:
        """The sections changed since the last take; clears ``changed``."""
        taken, self.stale = self.stale, set()
        self.changed.clear()
        return taken

    async def run(self) -> None:
        while True:
            try:
                call = self.reader.stub.WatchChanges(
                    api.WatchChangesRequest(resume_token=self.token), metadata=self.metadata
                )
                async for response in call:
                    if response.resume_token:
                        self.token = response.resume_token
                    shown = {(change.home_site, change.kind) for change in response.changes
                             if change.kind in SECTIONS}
                    if shown:
                        self.stale |= shown
                        self.changed.set()
            except grpc.aio.AioRpcError as failure:
                if failure.code() in LOGGED_OUT:
                    self.refused = failure
                    self.changed.set()
                    return
                if failure.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    self.token = ""  # a token this view does not hold (a rebuilt view)
                log.info("watch of the site view ended (%s); watching again", failure.code())
            await asyncio.sleep(REWATCH_S)


async def _either(first: asyncio.Event, second: asyncio.Event, timeout: float) -> None:
    """Returns once either event is set, or after ``timeout`` seconds."""
    waits = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def board_events(
    reader: SiteViewReader, metadata: Metadata, last_event_id: str | None, refresh_s: float,
    stopping: asyncio.Event,
) -> AsyncIterator[str]:
    """The events of one open page until the browser leaves or the board stops: every column
    and the link state first (whatever changed between the page's load and this stream), then
    what changes."""
    watch = ChangeWatch(reader, metadata, resume_token(last_event_id))
    watching = asyncio.create_task(watch.run(), name="board watch")
    sent: dict[str, str] = {}
    pictures: list[SitePicture] = []
    # What to read again: everything at first; then what changed, and at each refresh the
    # runs (their latest readings are not changes).
    stale = reader.everything()
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        while not stopping.is_set():
            token = watch.token
            stale |= watch.take()
            if watch.refused is not None:
                yield sse("logout", {"reason": watch.refused.code().name})
                return
            try:
                pictures, links = await asyncio.gather(
                    reader.pictures(metadata, pictures, stale), reader.links(metadata)
                )
            except grpc.aio.AioRpcError as failure:
                if failure.code() in LOGGED_OUT:
                    yield sse("logout", {"reason": failure.code().name})
                    return
                yield sse("status", {"text": f"site view unreachable ({failure.code().name})"})
            else:
                stale = {(site.id, "run") for site in reader.registry.sites}
                for picture in pictures:
                    html = render.column(picture)
                    if sent.get(picture.site.id) != html:
                        sent[picture.site.id] = html
                        yield sse("column", {"site": picture.site.id, "html": html}, token)
                yield sse("link", {"html": render.link(links)})
                yield sse("status", {"text": "live"})
            await _either(watch.changed, stopping, refresh_s)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
