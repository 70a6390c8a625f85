"""The rules of the replica: which state of a record version, a batch, a conjugation run, a
sample or an investigation the view keeps, which latest reading of a run's tag, that a
disposition is kept as first taken in, how a transfer package's two parts merge, where a
master record version is effective, and how far the view is.

Pure: no database, no bus, no clock. Events arrive at least once and, across the sourcing of
two streams, not necessarily in the order they were made; these rules make that harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol


class Revised(Protocol):
    """Anything replicated that its home site counts the changes of."""

    @property
    def revision(self) -> int: ...


@dataclass(frozen=True)
class ReplicaVersion:
    """What the view knows of one version of a master batch record."""

    record_id: str
    version: int
    home_site: str
    state: str
    # Counts the changes of this version at its home site; from the etag "<version>-<revision>".
    revision: int


def revision_of(etag: str, version: int) -> int:
    """The revision in an etag "<version>-<revision>"; ValueError if the etag is not one."""
    version_text, separator, revision_text = etag.partition("-")
    if not separator or not version_text.isdigit() or not revision_text.isdigit():
        raise ValueError(f"etag {etag!r} is not '<version>-<revision>'")
    if int(version_text) != version:
        raise ValueError(f"etag {etag!r} belongs to another version than {version}")
    return int(revision_text)


@dataclass(frozen=True)
class ReplicaBatch:
    """What the view knows of one executed batch."""

    batch_id: str
    home_site: str
    state: str
    # Counts the changes of the batch at its home site; the etag is this number in decimal.
    revision: int


def batch_revision_of(etag: str) -> int:
    """The revision a batch's etag "<revision>" carries; ValueError if the etag is not one."""
    if not etag.isascii() or not etag.isdigit():
        raise ValueError(f"etag {etag!r} is not a decimal revision")
    return int(etag)


@dataclass(frozen=True)
class ReplicaRun:
    """What the view knows of one conjugation run."""

    run_id: str
    home_site: str
    batch_id: str
    phase: str
    # Counts the changes of the run at its home site; the etag is this number in decimal.
    revision: int


def run_revision_of(etag: str) -> int:
    """The revision a run's etag "<revision>" carries; ValueError if the etag is not one."""
    return batch_revision_of(etag)


@dataclass(frozen=True)
class ReplicaSample:
    """What the view knows of one sample (with its results) of any site's lab."""

    sample_id: str
    home_site: str
    batch_id: str
    # Counts the changes of the sample at its home site; the etag is this number in decimal.
    revision: int


@dataclass(frozen=True)
class ReplicaInvestigation:
    """What the view knows of one OOS investigation of any site."""

    investigation_id: str
    home_site: str
    batch_id: str
    state: str
    # Counts the changes of the investigation at its home site; the etag is this number.
    revision: int


def release_testing_revision_of(etag: str) -> int:
    """The revision a sample's or investigation's etag "<revision>" carries; ValueError if
    the etag is not one."""
    return batch_revision_of(etag)


@dataclass(frozen=True)
class ReplicaDisposition:
    """One decision of QA on a batch, at the batch's home site.

    Decided once and never changed (a later decision is another number): the view keeps the
    first copy it takes in, and a repeat of the event changes nothing.
    """

    batch_id: str
    number: int
    home_site: str
    decision: str


@dataclass(frozen=True)
class LatestReading:
    """The newest point the view holds of one tag of a run."""

    run_id: str
    tag: str
    time_us: int  # source time, microseconds since the Unix epoch
    value: float
    unit: str


def is_later_reading(incoming: LatestReading, stored: LatestReading | None) -> bool:
    """True if ``incoming`` is a later point of its tag than the one the view holds.

    Only a later source time wins: a redelivered point has the same time, and a late one an
    earlier time; neither may replace what the view shows as the latest.
    """
    return stored is None or incoming.time_us > stored.time_us


def supersedes(incoming: Revised, stored: Revised | None) -> bool:
    """True if ``incoming`` is newer than what the view holds and so replaces it.

    Only a higher revision wins: a redelivered or late event carries the same or a lower one,
    and applying it would take the view back in time.
    """
    return stored is None or incoming.revision > stored.revision


# A master record version's state when it is effective at its home site.
EFFECTIVE = "effective"


def is_effective_at_home(state: str) -> bool:
    """True if a version in ``state`` (as the view stores it) is effective at its home site:
    its own site's events say so; superseded, it is no longer."""
    return state == EFFECTIVE


@dataclass(frozen=True)
class Effectivity:
    """One site where a master record version is effective: its home site, or a site whose
    QA accepted its transfer (``package``: "transferPackages/{id}"; empty at home)."""

    name: str  # "masterBatchRecords/SYR-MBR-000001/versions/2"
    site: str
    package: str


@dataclass(frozen=True)
class SenderPart:
    """What the view knows of the sending site's part of a transfer package."""

    version: int  # its etag
    revision: int  # 1 at the first send; + 1 per revision after a return
    sent: bool


@dataclass(frozen=True)
class ReceiptPart:
    """What the view knows of the receiving site's receipt of a transfer package."""

    version: int  # its etag
    revision: int  # the package revision it is the receipt of
    state: str  # "received", "under_review", "accepted", "returned"; "unknown_<n>"


DRAFT, SENT = "draft", "sent"


@dataclass(frozen=True)
class ReplicaPackage:
    """A transfer package as the view knows it: each part from its own site's events only,
    either part possibly not arrived yet."""

    package_id: str
    sending_site: str
    receiving_site: str
    sender: SenderPart | None = None
    receipt: ReceiptPart | None = None

    @property
    def state(self) -> str:
        """The newest state known, as tech transfer's ``Package.state``: the receipt's when it
        is of the package's revision, else sent or draft by the sender's part.

        A site never holds a receipt ahead of its package; the view may (the receiving site's
        event came first), and then the receipt is the newer news: its state is shown.
        """
        receipt, sender = self.receipt, self.sender
        if receipt is not None and (sender is None or receipt.revision >= sender.revision):
            return receipt.state
        return SENT if sender is not None and sender.sent else DRAFT


def with_sender_part(held: ReplicaPackage, incoming: SenderPart) -> ReplicaPackage | None:
    """The package with the sending site's part ``incoming``; None if the view holds that
    version of it or a newer one (a repeat or a late event)."""
    if held.sender is not None and incoming.version <= held.sender.version:
        return None
    return replace(held, sender=incoming)


def with_receipt(held: ReplicaPackage, incoming: ReceiptPart) -> ReplicaPackage | None:
    """The package with the receiving site's receipt ``incoming``; None if the view holds that
    version of it or a newer one."""
    if held.receipt is not None and incoming.version <= held.receipt.version:
        return None
    return replace(held, receipt=incoming)


def decimal_version_of(etag: str) -> int:
    """The version a decimal etag "<n>" carries (n ≥ 1); ValueError if the etag is not one."""
    if not etag.isascii() or not etag.isdigit() or int(etag) < 1:
        raise ValueError(f"etag {etag!r} is not a decimal version")
    return int(etag)


@dataclass(frozen=True)
class Watermark:
    """How far the view has taken in the events of one origin site."""

    site: str
    last_event_time: datetime | None = None
    stream_sequence: int = 0
    events_applied: int = 0
    # The newest heartbeat of the site taken in: its origin time, the origin stream's last
    # sequence then, and the interval the origin sends them at.
    last_heartbeat_time: datetime | None = None
    origin_last_sequence: int = 0
    heartbeat_interval: timedelta | None = None


# A site that sent no heartbeat for this many of its intervals reads stale: one interval is
# the normal gap, the rest absorbs a late timer, a slow link and a few clock skews.
STALE_AFTER_INTERVALS = 3


def advance(
    mark: Watermark, *, event_time: datetime, stream_sequence: int, applied: int = 1
) -> Watermark:
    """The watermark after one more event of its site, taken in for the first time.

    Time and sequence only move forward: a redelivered older message arrives after newer ones,
    and must not make the view look staler than it is. ``applied`` is 0 for an event that
    skips the inbox (a latest reading): the view cannot tell a redelivery of it, so it is not
    counted, though it still shows how far the view has read.
    """
    later_time = (
        event_time if mark.last_event_time is None else max(mark.last_event_time, event_time)
    )
    return replace(
        mark,
        last_event_time=later_time,
        stream_sequence=max(mark.stream_sequence, stream_sequence),
        events_applied=mark.events_applied + applied,
    )


def age(mark: Watermark, now: datetime) -> timedelta | None:
    """How old the newest event of the site is; None before the first one.

    Never negative: the origin's clock may run slightly ahead of ours, and a view cannot be
    fresher than now.
    """
    if mark.last_event_time is None:
        return None
    return max(now - mark.last_event_time, timedelta(0))


def heard(
    mark: Watermark, *, sent_time: datetime, last_sequence: int, interval: timedelta
) -> Watermark:
    """The watermark after a heartbeat of its site: the view holds every event of the site
    published before ``sent_time``, since the heartbeat travels in order behind them.

    Like events, heartbeats only move the mark forward: a redelivered older one changes
    nothing. They are not events applied.
    """
    if mark.last_heartbeat_time is not None and sent_time <= mark.last_heartbeat_time:
        return mark
    return replace(
        mark,
        last_heartbeat_time=sent_time,
        origin_last_sequence=max(mark.origin_last_sequence, last_sequence),
        heartbeat_interval=interval,
    )


def known_until(mark: Watermark) -> datetime | None:
    """The newest origin time up to which the view holds every event of the site."""
    times = [t for t in (mark.last_event_time, mark.last_heartbeat_time) if t is not None]
    return max(times) if times else None


def lag(mark: Watermark, now: datetime) -> timedelta | None:
    """How far behind its origin the view may be; None before any event or heartbeat.

    An idle site that sends heartbeats has a lag under its heartbeat interval; a cut link
    makes it grow. Never negative, as ``age``.
    """
    until = known_until(mark)
    if until is None:
        return None
    return max(now - until, timedelta(0))


def is_current(mark: Watermark, now: datetime) -> bool:
    """True while the lag stays within STALE_AFTER_INTERVALS of the site's heartbeat interval.

    Without a heartbeat yet nothing tells idleness from a cut link, so the view is not current.
    """
    behind = lag(mark, now)
    if mark.heartbeat_interval is None or behind is None:
        return False
    return behind <= mark.heartbeat_interval * STALE_AFTER_INTERVALS
