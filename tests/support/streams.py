"""Reading a site's stream directly, to count what the bus really holds."""

from __future__ import annotations

from collections import Counter

from nats.aio.client import Client
from nats.js.errors import NotFoundError

from services.common.messaging.subjects import stream_name
from services.site_view.heartbeat import is_heartbeat_subject


async def stream_event_ids(client: Client, site_id: str) -> Counter[str]:
    """How many times each CloudEvents id of a record's event is stored in the site's stream
    (heartbeats, which every site view sends every few seconds, are left out)."""
    js = client.jetstream()
    info = await js.stream_info(stream_name(site_id))
    counts: Counter[str] = Counter()
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            message = await js.get_msg(stream_name(site_id), sequence)
        except NotFoundError:
            continue
        if is_heartbeat_subject(message.subject):
            continue
        counts[(message.headers or {})["ce-id"]] += 1
    return counts
