"""The board's server-sent events: one WatchChanges stream per open page, to the local site view
with the user's token, from the view's first change. The changes name what changed most
recently (the sections of ``picture.RECENT_KEPT`` are read by those names); each change
re-reads its section and sends the columns that differ; every few seconds the link state and
the runs (their latest readings are not changes) are refreshed too.
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
from services.board.picture import (
    RECENT_KEPT,
    SECTIONS,
    Metadata,
    Recent,
    SitePicture,
    SiteViewReader,
    Stale,
)

log = logging.getLogger(__name__)

# How long the browser waits before it reconnects a dropped stream (the SSE "retry" field).
RECONNECT_MS = 1000
# After the site view refused or dropped the watch, wait this long before watching again.
REWATCH_S = 1.0
# What makes the user log in again rather than wait.
LOGGED_OUT = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
# A WatchChanges message this full says more changes are waiting (decision 0013: 200 a
# message): the board reads its picture again once a shorter one says it has caught up.
FULL_MESSAGE = 200
# How long a new stream waits for the view's backlog of changes before its first render (a
# view with no change sends nothing until a keep-alive).
BACKLOG_WAIT_S = 2.0


def sse(event: str, data: dict[str, str]) -> str:
    """One server-sent event; its data is JSON on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass
class ChangeWatch:
    """Follows the site view's WatchChanges from its first change on, across the view's
    restarts (resuming from the last token seen). ``recent`` keeps the names of the most
    recently changed resources of each section; ``changed`` is set once the changes of a
    section the board shows (``stale`` collects which) have all come in, ``caught_up`` once
    the backlog has; ``refused`` once the user's token is no longer accepted."""

    reader: SiteViewReader
    metadata: Metadata
    token: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    stale: Stale = field(default_factory=set)
    recent: Recent = field(default_factory=dict)
    refused: grpc.aio.AioRpcError | None = None

    def take_in(self, response: api.WatchChangesResponse) -> None:
        for change in response.changes:
            if change.kind not in SECTIONS:
                continue
            key = (change.home_site, change.kind)
            self.stale.add(key)
            kept = RECENT_KEPT.get(change.kind)
            if kept is not None:
                names = self.recent.setdefault(key, [])
                if change.name in names:
                    names.remove(change.name)
                names.insert(0, change.name)
                del names[kept:]
        if len(response.changes) < FULL_MESSAGE:
            self.caught_up.set()
            if self.stale:
                self.changed.set()

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
                    self.take_in(response)
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
    reader: SiteViewReader, metadata: Metadata, refresh_s: float, stopping: asyncio.Event,
) -> AsyncIterator[str]:
    """The events of one open page until the browser leaves or the board stops: every column
    and the link state first (once the view's changes so far are in), then what changes."""
    watch = ChangeWatch(reader, metadata)
    watching = asyncio.create_task(watch.run(), name="board watch")
    sent: dict[str, str] = {}
    pictures: list[SitePicture] = []
    # What to read again: everything at first; then what changed, and at each refresh the
    # runs (their latest readings are not changes).
    stale = reader.everything()
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        await _either(watch.caught_up, stopping, BACKLOG_WAIT_S)
        while not stopping.is_set():
            stale |= watch.take()
            if watch.refused is not None:
                yield sse("logout", {"reason": watch.refused.code().name})
                return
            try:
                pictures, links = await asyncio.gather(
                    reader.pictures(metadata, pictures, stale, watch.recent),
                    reader.links(metadata),
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
                        yield sse("column", {"site": picture.site.id, "html": html})
                yield sse("link", {"html": render.link(links)})
                yield sse("status", {"text": "live"})
            await _either(watch.changed, stopping, refresh_s)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
