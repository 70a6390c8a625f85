"""The sites' NATS topology on real nats-servers: sourcing both ways, cuts, restarts, a 3rd site."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from services.common.messaging.streams import SourceWatchdog, ensure_site_stream, source_status
from services.common.messaging.subjects import (
    event_subject,
    site_of_subject,
    source_consumer_name,
    stream_name,
)
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.nats_harness import NatsSites, StartNatsSites

pytestmark = pytest.mark.timeout(60)

# Sourcing flows again after a heal or a restart: the target is 5 s (the watchdog's cadence;
# each test prints what it took), but a loaded 2-core machine may take longer, and a timing
# is not what passes or fails here: that it resumes, exactly once, is.
RESUME_TARGET_S = 5.0
RESUME_DEADLINE = 20.0
FIRST_SYNC_TIMEOUT = 15.0
TRANSIENT = (TimeoutError, nats.errors.Error)


async def publish_event(client: Client, site_id: str) -> str:
    """Publishes one event with fresh subject and Nats-Msg-Id; returns its subject."""
    subject = event_subject(site_id, "topology", f"batch-{uuid4().hex[:12]}", "recorded")
    ack = await client.jetstream().publish(subject, b"{}", headers={"Nats-Msg-Id": str(uuid4())})
    assert ack.stream == stream_name(site_id) and not ack.duplicate
    return subject


async def subject_counts(client: Client, site_id: str) -> dict[str, int]:
    info = await client.jetstream().stream_info(stream_name(site_id), subjects_filter=">")
    return dict(info.state.subjects or {})


async def ensure_all(sites: NatsSites) -> None:
    for site in sites.registry.sites:
        await ensure_site_stream(await sites.client(site.id), site, sites.registry)


async def wait_converged(sites: NatsSites, subjects: list[str], within_s: float) -> float:
    """Waits until every site's stream holds every subject; returns the seconds it took."""
    started = time.monotonic()

    async def converged() -> bool:
        for site_id in sites.registry.ids():
            counts = await subject_counts(await sites.client(site_id), site_id)
            if any(subject not in counts for subject in subjects):
                return False
        return True

    await wait_until(converged, within_s, message="streams converged", ignore=TRANSIENT)
    return time.monotonic() - started


async def assert_exactly_once(sites: NatsSites, subjects: list[str]) -> None:
    """Every stream holds each subject once and nothing else: no loss, no loop, no duplicate."""
    for site_id in sites.registry.ids():
        counts = await subject_counts(await sites.client(site_id), site_id)
        assert counts == dict.fromkeys(subjects, 1), site_id


async def publish_everywhere(sites: NatsSites, per_site: int = 1) -> list[str]:
    subjects = []
    for site_id in sites.registry.ids():
        client = await sites.client(site_id)
        subjects += [await publish_event(client, site_id) for _ in range(per_site)]
    return subjects


@contextlib.asynccontextmanager
async def source_watchdogs(sites: NatsSites) -> AsyncIterator[list[SourceWatchdog]]:
    """One SourceWatchdog per site, as a site's services should run one; stopped on exit."""
    watchdogs = [
        SourceWatchdog(await sites.client(site.id), site, sites.registry)
        for site in sites.registry.sites
    ]
    for watchdog in watchdogs:
        watchdog.start()
    try:
        yield watchdogs
    finally:
        for watchdog in watchdogs:
            await watchdog.stop()


async def linked_and_flowing(sites: NatsSites) -> list[str]:
    """Creates the streams and waits for a first event from each site to reach the others."""
    await ensure_all(sites)
    subjects = await publish_everywhere(sites)
    await wait_converged(sites, subjects, FIRST_SYNC_TIMEOUT)
    return subjects


async def test_events_cross_both_ways_exactly_once(nats_sites: NatsSites) -> None:
    await ensure_all(nats_sites)
    subjects = await publish_everywhere(nats_sites, per_site=5)

    await wait_converged(nats_sites, subjects, FIRST_SYNC_TIMEOUT)

    await assert_exactly_once(nats_sites, subjects)
    for site_id in nats_sites.registry.ids():
        # Each site's own events kept their origin's subject in every stream.
        counts = await subject_counts(await nats_sites.client(site_id), site_id)
        assert {site_of_subject(s) for s in counts} == set(nats_sites.registry.ids())


async def test_ensure_site_stream_is_idempotent(nats_sites: NatsSites) -> None:
    registry = nats_sites.registry
    await ensure_all(nats_sites)
    before = {}
    for site in registry.sites:
        client = await nats_sites.client(site.id)
        before[site.id] = (await client.jetstream().stream_info(stream_name(site.id))).config

    # Every service process calls it at start, possibly at the same moment.
    clients = {site.id: await nats_sites.client(site.id) for site in registry.sites}
    await asyncio.gather(
        *(
            ensure_site_stream(clients[site.id], site, registry)
            for site in registry.sites
            for _ in range(3)
        )
    )
    await ensure_all(nats_sites)

    for site in registry.sites:
        js = (await nats_sites.client(site.id)).jetstream()
        assert (await js.stream_info(stream_name(site.id))).config == before[site.id]
        consumers = {info.name for info in await js.consumers_info(stream_name(site.id))}
        assert consumers == {source_consumer_name(site.id, o.id) for o in registry.others(site.id)}
    subjects = await publish_everywhere(nats_sites)
    await wait_converged(nats_sites, subjects, FIRST_SYNC_TIMEOUT)
    await assert_exactly_once(nats_sites, subjects)


async def test_a_site_starts_alone_takes_writes_and_catches_up(nats_sites: NatsSites) -> None:
    registry = nats_sites.registry
    hub, leaf = registry.hub, registry.others(registry.hub.id)[0]
    await nats_sites.server(hub.id).stop()

    # The leaf's services start with the hub down: stream, sources and consumers are all local.
    leaf_client = await nats_sites.client(leaf.id)
    await ensure_site_stream(leaf_client, leaf, registry)
    early = [await publish_event(leaf_client, leaf.id)]

    await nats_sites.server(hub.id).start()
    await ensure_site_stream(await nats_sites.client(hub.id), hub, registry)
    async with source_watchdogs(nats_sites):
        later = await publish_everywhere(nats_sites)
        caught_up_in = await wait_converged(nats_sites, early + later, FIRST_SYNC_TIMEOUT)

    print(f"caught up after the hub's first start: {caught_up_in:.2f} s")
    await assert_exactly_once(nats_sites, early + later)


async def test_watchdog_readds_and_repairs_sources_losing_nothing(nats_sites: NatsSites) -> None:
    registry = nats_sites.registry
    hub, leaf = registry.hub, registry.others(registry.hub.id)[0]
    before = await linked_and_flowing(nats_sites)
    hub_client = await nats_sites.client(hub.id)

    # With no quiet allowance every source counts as stalled: re-adding must be harmless.
    eager = SourceWatchdog(hub_client, hub, registry, stalled_after_ms=0)
    assert await wait_until(eager.check_once, 3.0) == [stream_name(leaf.id)]
    # A stream update that failed half-way left the stream without its sources.
    config = (await hub_client.jetstream().stream_info(stream_name(hub.id))).config
    await hub_client.jetstream().update_stream(config.evolve(sources=None))
    assert await SourceWatchdog(hub_client, hub, registry).check_once() == []
    assert [s["name"] for s in await source_status(hub_client, hub)] == [stream_name(leaf.id)]

    after = await publish_everywhere(nats_sites, per_site=3)
    await wait_converged(nats_sites, after, RESUME_DEADLINE)
    await assert_exactly_once(nats_sites, before + after)


async def sources_quiet_for(sites: NatsSites, milliseconds: int) -> bool:
    for site in sites.registry.sites:
        for source in await source_status(await sites.client(site.id), site):
            if 0 <= source["active"] < milliseconds:
                return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("cut_ms", [0, 11_000], ids=["short-cut", "cut-over-10s"])
async def test_sites_take_writes_during_a_cut_and_resume_after_heal(
    nats_sites: NatsSites, cut_ms: int
) -> None:
    before = await linked_and_flowing(nats_sites)

    async with source_watchdogs(nats_sites):
        nats_sites.proxy.cut()
        # Each site still acks its own writes: its stream is in its own domain.
        during = await publish_everywhere(nats_sites, per_site=3)
        if cut_ms:
            # Past ~10 s of silence ephemeral sourcing backs off (nats-server #6454).
            await wait_until(
                lambda: sources_quiet_for(nats_sites, cut_ms),
                cut_ms / 1000 + 5,
                interval=0.25,
                message=f"sources quiet for {cut_ms} ms",
            )
        for site_id in nats_sites.registry.ids():
            counts = await subject_counts(await nats_sites.client(site_id), site_id)
            assert sum(1 for s in during if s in counts) == 3, "only its own events while cut"

        nats_sites.proxy.restore()
        healed_at = time.monotonic()
        resumed_in = await wait_converged(nats_sites, during, RESUME_DEADLINE)
        after = await publish_everywhere(nats_sites)
        await wait_converged(nats_sites, after, RESUME_DEADLINE - (time.monotonic() - healed_at))

    print(f"resume after {cut_ms} ms cut: {resumed_in:.2f} s (target {RESUME_TARGET_S} s)")
    await assert_exactly_once(nats_sites, before + during + after)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["hub", "leaf"])
async def test_sourcing_resumes_after_a_server_restart(nats_sites: NatsSites, which: str) -> None:
    registry = nats_sites.registry
    restarted = registry.hub if which == "hub" else registry.others(registry.hub.id)[0]
    before = await linked_and_flowing(nats_sites)

    async with source_watchdogs(nats_sites):
        await nats_sites.server(restarted.id).stop()
        # The other site keeps taking writes while its peer is down.
        during = [
            await publish_event(await nats_sites.client(site.id), site.id)
            for site in registry.others(restarted.id)
        ]
        await nats_sites.server(restarted.id).start()
        up_at = time.monotonic()
        after = await publish_everywhere(nats_sites)
        await wait_converged(
            nats_sites, during + after, RESUME_DEADLINE - (time.monotonic() - up_at)
        )
        resumed_in = time.monotonic() - up_at

    print(f"resume after {which} restart: {resumed_in:.2f} s (target {RESUME_TARGET_S} s)")
    await assert_exactly_once(nats_sites, before + during + after)


async def test_a_third_site_needs_no_code(start_nats_sites: StartNatsSites) -> None:
    sites = await start_nats_sites(["syracuse", "songdo", "kalundborg"])
    await ensure_all(sites)

    subjects = await publish_everywhere(sites, per_site=2)
    await wait_converged(sites, subjects, FIRST_SYNC_TIMEOUT)

    await assert_exactly_once(sites, subjects)
