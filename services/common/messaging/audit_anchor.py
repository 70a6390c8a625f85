"""Reads the newest audit head the site's stream witnessed (the anchor of a service's chain).

The newest event on the service's own subjects carries the head as of its change
(``Twinline-Audit-Seq``/``Twinline-Audit-Hash``); only published events are witnessed, so an
unpublished tail of the chain is never taken for a truncation.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.common.messaging.bus import Bus
from services.common.messaging.events import AUDIT_HASH_HEADER, AUDIT_SEQUENCE_HEADER
from services.common.messaging.subjects import audit_anchor_subjects, stream_name
from services.common.persistence.audit import ChainHead, WitnessedHead

ANCHOR_TIMEOUT_S = 3.0
NOT_PUBLISHING = "this service publishes no events: its head is not anchored"


async def newest_witnessed(js: JetStreamContext, site_id: str, service: str) -> WitnessedHead:
    """The head carried by the newest event on ``service``'s subjects in ``site_id``'s stream."""
    if not audit_anchor_subjects(site_id, service):
        return WitnessedHead(None, NOT_PUBLISHING)
    newest: tuple[int, ChainHead] | None = None
    for subject in audit_anchor_subjects(site_id, service):
        try:
            message = await js.get_last_msg(stream_name(site_id), subject)
        except NotFoundError:
            continue  # nothing published on it yet
        headers = message.headers or {}
        if AUDIT_SEQUENCE_HEADER not in headers:
            continue  # published before events were anchored
        head = ChainHead(int(headers[AUDIT_SEQUENCE_HEADER]), headers[AUDIT_HASH_HEADER])
        if newest is None or (message.seq or 0) > newest[0]:
            newest = (message.seq or 0, head)
    if newest is None:
        return WitnessedHead(None, "the stream holds no anchored event of this trail yet")
    return WitnessedHead(newest[1])


async def witnessed_through_bus(bus: Bus, site_id: str, service: str) -> WitnessedHead:
    """As ``newest_witnessed``, on the process's bus; a note instead if NATS cannot answer."""
    if not audit_anchor_subjects(site_id, service):
        return WitnessedHead(None, NOT_PUBLISHING)
    try:
        async with asyncio.timeout(ANCHOR_TIMEOUT_S):
            return await newest_witnessed(await bus.jetstream(), site_id, service)
    except Exception as exc:  # the chain is still verified; the answer says it was not anchored
        return WitnessedHead(None, f"the stream could not be read ({type(exc).__name__})")
