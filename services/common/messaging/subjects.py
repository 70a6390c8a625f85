"""Subjects and stream names: the one place they are spelled.

Subject: ``twinline.<site>.<context>.<aggregate>.<event>``. Each site's JetStream domain has
one stream, ``TWINLINE_<SITE>``, holding its own subjects and the other sites' own-origin
subjects sourced into it.
"""

from __future__ import annotations

ROOT = "twinline"


def event_subject(site_id: str, context: str, aggregate: str, event: str) -> str:
    return f"{ROOT}.{site_id}.{context}.{aggregate}.{event}"


def site_subjects(site_id: str) -> str:
    """The wildcard of every subject a site originates."""
    return f"{ROOT}.{site_id}.>"


def all_subjects() -> str:
    """Every site's events, as a site's stream holds them (its own and the sourced ones)."""
    return f"{ROOT}.>"


def site_of_subject(subject: str) -> str:
    """The origin site of an event subject."""
    parts = subject.split(".")
    if len(parts) < 3 or parts[0] != ROOT:
        raise ValueError(f"not a Twinline event subject: {subject!r}")
    return parts[1]


def stream_name(site_id: str) -> str:
    return f"TWINLINE_{site_id.upper()}"


def source_consumer_name(origin_site_id: str, target_site_id: str) -> str:
    """The durable consumer on the origin's stream that feeds the target's stream."""
    return f"source_{origin_site_id}_to_{target_site_id}"


# The event contexts each service publishes: its events anchor its audit trail's head.
SERVICE_CONTEXTS: dict[str, tuple[str, ...]] = {"batch_records": ("batchrecords",)}


def audit_anchor_subjects(site_id: str, service: str) -> list[str]:
    """The subjects whose events carry ``service``'s audit head at ``site_id``."""
    return [f"{ROOT}.{site_id}.{context}.>" for context in SERVICE_CONTEXTS.get(service, ())]
