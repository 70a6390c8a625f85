"""What the board shows of each site, read from the local site view over gRPC with the user's
token: plain rows, ready to render, a few of each kind per site.

The site view lists by id, so a list shows the newest only of a site with few resources. The
board's live stream knows better: WatchChanges names every resource as it changes, so batches,
runs, samples and dispositions are read by name, the most recently changed first ("recent").
A page's first render, without a stream, reads the lists (the first LISTED of each)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from twinline.batchrecords.v1 import batch_pb2
from twinline.conjugation.v1 import run_pb2
from twinline.releasetesting.v1 import disposition_pb2, investigation_pb2, sample_pb2
from twinline.siteview.v1 import site_view_service_pb2 as api
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub
from twinline.techtransfer.v1 import transfer_pb2

from services.common.sites import Site, SiteRegistry

Metadata = tuple[tuple[str, str], ...]

# Rows of each kind shown per site, the newest first.
SHOWN = 8
# Resources of each kind read per site to find the newest (the site view lists by id).
LISTED = 500
PAGE_SIZE = 500
# Each call to the site view gives up after this long.
CALL_TIMEOUT_S = 10.0
# A run's readings are shown for the newest runs only (one GetRun each).
RUNS_WITH_READINGS = 4
READINGS_SHOWN = 4

EXECUTED_STEPS = frozenset({batch_pb2.STEP_STATUS_EXECUTED, batch_pb2.STEP_STATUS_COMPLETE})
CLOSED_INVESTIGATIONS = frozenset({
    investigation_pb2.INVESTIGATION_STATE_CLOSED_INVALIDATED,
    investigation_pb2.INVESTIGATION_STATE_CLOSED_CONFIRMED,
})


@dataclass(frozen=True)
class BatchRow:
    batch_id: str
    product: str
    state: str
    steps_recorded: int
    steps_total: int
    last_step: str  # the step recorded last, e.g. "S1", or ""
    last_step_time: str
    etag: str


@dataclass(frozen=True)
class ReadingRow:
    tag: str
    value: str
    unit: str
    time: str


@dataclass(frozen=True)
class RunRow:
    run_id: str
    batch_id: str
    phase: str
    readings: tuple[ReadingRow, ...]
    etag: str


@dataclass(frozen=True)
class SampleRow:
    sample_id: str
    batch_id: str
    awaiting: int  # results entered and not yet reviewed
    etag: str


@dataclass(frozen=True)
class InvestigationRow:
    investigation_id: str
    sample_id: str
    batch_id: str
    state: str
    etag: str


@dataclass(frozen=True)
class DispositionRow:
    batch_id: str
    decision: str
    signer: str
    time: str
    key: str


@dataclass(frozen=True)
class TransferRow:
    package_id: str
    sending_site: str
    receiving_site: str
    state: str
    etag: str


@dataclass(frozen=True)
class SitePicture:
    """One site's column: its own batches, runs, samples, investigations and dispositions, and
    the transfer packages it sends or receives."""

    site: Site
    batches: tuple[BatchRow, ...]
    runs: tuple[RunRow, ...]
    samples: tuple[SampleRow, ...]
    investigations: tuple[InvestigationRow, ...]
    dispositions: tuple[DispositionRow, ...]
    transfers: tuple[TransferRow, ...]


@dataclass(frozen=True)
class LinkRow:
    """How current this site's view is with one origin site."""

    site: Site
    current: bool
    lag: str  # e.g. "0.4 s", or "—" before a first event or heartbeat
    lag_seconds: float | None
    events_applied: int


def enum_text(value: int, enum: Any, prefix: str) -> str:
    """``BATCH_STATE_IN_PROGRESS`` → ``in progress``."""
    return str(enum.Name(value)).removeprefix(prefix).replace("_", " ").lower()


def clock_text(stamp: Timestamp) -> str:
    """A time as the board prints it: UTC, to the second; "" when unset."""
    if not stamp.seconds and not stamp.nanos:
        return ""
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def resource_id(name: str) -> str:
    """``batches/SYR-B-2026-00042`` → ``SYR-B-2026-00042``."""
    return name.partition("/")[2] or name


def batch_row(batch: batch_pb2.Batch) -> BatchRow:
    recipe_steps = sum(
        len(operation.steps)
        for unit_procedure in batch.control_recipe.unit_procedures
        for operation in unit_procedure.operations
    )
    recorded = [step for step in batch.steps if step.status in EXECUTED_STEPS]
    last = max(recorded, key=lambda step: step.record_time.ToMicroseconds(), default=None)
    return BatchRow(
        batch_id=batch.batch_id, product=batch.control_recipe.product,
        state=enum_text(batch.state, batch_pb2.BatchState, "BATCH_STATE_"),
        steps_recorded=len(recorded), steps_total=recipe_steps,
        last_step=last.step_id if last else "",
        last_step_time=clock_text(last.record_time) if last else "", etag=batch.etag,
    )


def run_row(run: run_pb2.Run, readings: Sequence[api.LatestReading] = ()) -> RunRow:
    newest = sorted(readings, key=lambda point: point.time.ToMicroseconds(), reverse=True)
    return RunRow(
        run_id=run.run_id, batch_id=resource_id(run.batch),
        phase=enum_text(run.phase, run_pb2.Phase, "PHASE_"),
        readings=tuple(
            ReadingRow(point.tag, f"{point.value:.6g}", point.unit, clock_text(point.time))
            for point in newest[:READINGS_SHOWN]
        ),
        etag=run.etag,
    )


def sample_row(sample: sample_pb2.Sample) -> SampleRow:
    awaiting = sum(
        1 for assignment in sample.assignments for result in assignment.results
        if result.state == sample_pb2.RESULT_STATE_ENTERED
    )
    return SampleRow(resource_id(sample.name), resource_id(sample.batch), awaiting, sample.etag)


def investigation_row(found: investigation_pb2.Investigation) -> InvestigationRow:
    return InvestigationRow(
        investigation_id=resource_id(found.name), sample_id=resource_id(found.sample),
        batch_id=resource_id(found.batch),
        state=enum_text(found.state, investigation_pb2.InvestigationState,
                        "INVESTIGATION_STATE_"),
        etag=found.etag,
    )


def disposition_row(decided: disposition_pb2.Disposition) -> DispositionRow:
    return DispositionRow(
        batch_id=resource_id(decided.batch),
        decision=enum_text(decided.decision, disposition_pb2.DispositionDecision,
                           "DISPOSITION_DECISION_"),
        signer=decided.signature.printed_name or decided.signature.signer,
        time=clock_text(decided.decide_time), key=decided.name,
    )


def transfer_row(package: transfer_pb2.TransferPackage) -> TransferRow:
    return TransferRow(
        package_id=package.package_id, sending_site=package.sending_site,
        receiving_site=package.receiving_site,
        state=enum_text(package.state, transfer_pb2.TransferState, "TRANSFER_STATE_"),
        etag=f"{package.etag}/{package.receipt.etag}",
    )


def link_row(site: Site, watermark: api.Watermark | None) -> LinkRow:
    if watermark is None or not watermark.HasField("lag"):
        return LinkRow(site, False, "—", None, watermark.events_applied if watermark else 0)
    seconds = watermark.lag.ToTimedelta().total_seconds()
    return LinkRow(site, watermark.current, _duration_text(seconds), seconds,
                   watermark.events_applied)


def _duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


async def _listed(
    call: Callable[..., Awaitable[Any]], request: Any, field: str, metadata: Metadata
) -> list[Any]:
    """Up to LISTED resources of a list RPC, page by page, in its order."""
    found: list[Any] = []
    while True:
        request.page_size = PAGE_SIZE
        answer = await call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
        found.extend(getattr(answer, field))
        if not answer.next_page_token or len(found) >= LISTED:
            return found[:LISTED]
        request.page_token = answer.next_page_token


# The kinds of change (WatchChanges' Change.kind) the board shows, each a section of a column.
SECTIONS = ("batch", "run", "sample", "investigation", "disposition", "transfer_package")
# A (home site, kind) pair whose section must be read again.
Stale = set[tuple[str, str]]
# The sections read by the names of their most recently changed resources, and how many names
# each keeps (samples: more, as only those awaiting review are shown).
RECENT_KEPT = {"batch": SHOWN, "run": SHOWN, "sample": 5 * SHOWN, "disposition": SHOWN}
# (home site, kind) → resource names, the most recently changed first.
Recent = dict[tuple[str, str], list[str]]


class SiteViewReader:
    """Reads the board's picture from one site view, on one channel, as the caller's token:
    whole, or only the sections that changed."""

    def __init__(self, stub: SiteViewServiceStub, registry: SiteRegistry) -> None:
        self.stub = stub
        self.registry = registry

    def everything(self) -> Stale:
        return {(site.id, kind) for site in self.registry.sites for kind in SECTIONS}

    async def pictures(
        self, metadata: Metadata, previous: Sequence[SitePicture] = (), stale: Stale | None = None,
        recent: Recent | None = None,
    ) -> list[SitePicture]:
        """Every site of the registry, in its order: ``previous`` with its ``stale`` sections
        read again (everything without a previous picture); the sections of RECENT_KEPT by the
        names in ``recent`` when given, else from the lists. A transfer package shows at both
        of its sites, so a change of one reads the transfers of every site again."""
        held = {picture.site.id: picture for picture in previous}
        if stale is None or len(held) != len(self.registry.sites):
            stale = self.everything()
        transfers: list[transfer_pb2.TransferPackage] | None = None
        if any(kind == "transfer_package" for _, kind in stale):
            transfers = await _listed(
                self.stub.ListTransferPackages, api.ListTransferPackagesRequest(),
                "transfer_packages", metadata,
            )
        return list(await asyncio.gather(*(
            self._picture(site, held.get(site.id), {kind for at, kind in stale if at == site.id},
                          transfers, metadata, recent)
            for site in self.registry.sites
        )))

    async def links(self, metadata: Metadata) -> list[LinkRow]:
        answer = await self.stub.ListWatermarks(
            api.ListWatermarksRequest(), metadata=metadata, timeout=CALL_TIMEOUT_S
        )
        held = {watermark.site: watermark for watermark in answer.watermarks}
        return [link_row(site, held.get(site.id)) for site in self.registry.sites]

    async def _picture(
        self, site: Site, previous: SitePicture | None, kinds: set[str],
        transfers: Sequence[transfer_pb2.TransferPackage] | None, metadata: Metadata,
        recent: Recent | None,
    ) -> SitePicture:
        readers: dict[str, Callable[[], Awaitable[tuple[Any, ...]]]] = {
            "batch": lambda: self._batches(site, metadata),
            "run": lambda: self._runs(site, metadata),
            "sample": lambda: self._samples(site, metadata),
            "investigation": lambda: self._investigations(site, metadata),
            "disposition": lambda: self._dispositions(site, metadata),
        }
        if recent is not None:
            def names(kind: str) -> list[str]:
                return recent.get((site.id, kind), [])

            readers.update({
                "batch": lambda: self._batches_named(names("batch"), metadata),
                "run": lambda: self._runs_named(names("run")[:SHOWN], metadata),
                "sample": lambda: self._samples_named(names("sample"), metadata),
                "disposition": lambda: self._dispositions_named(names("disposition"), metadata),
            })
        wanted = [kind for kind in readers if previous is None or kind in kinds]
        read = dict(zip(wanted, await asyncio.gather(*(readers[kind]() for kind in wanted)),
                        strict=True))
        if transfers is not None:
            read["transfer_package"] = tuple(
                transfer_row(package) for package in reversed(transfers)
                if site.id in (package.sending_site, package.receiving_site)
            )[:SHOWN]

        def section(kind: str, field: str) -> tuple[Any, ...]:
            if kind in read:
                return read[kind]
            return getattr(previous, field) if previous is not None else ()

        return SitePicture(
            site=site, batches=section("batch", "batches"), runs=section("run", "runs"),
            samples=section("sample", "samples"),
            investigations=section("investigation", "investigations"),
            dispositions=section("disposition", "dispositions"),
            transfers=section("transfer_package", "transfers"),
        )

    async def _batches(self, site: Site, metadata: Metadata) -> tuple[BatchRow, ...]:
        found = await _listed(self.stub.ListBatches, api.ListBatchesRequest(site=site.id),
                              "batches", metadata)
        return tuple(batch_row(batch) for batch in list(reversed(found))[:SHOWN])

    async def _runs(self, site: Site, metadata: Metadata) -> tuple[RunRow, ...]:
        found = await _listed(self.stub.ListRuns, api.ListRunsRequest(site=site.id), "runs",
                              metadata)
        newest = list(reversed(found))[:SHOWN]
        readings = await asyncio.gather(*(
            self._readings(run.name, metadata) for run in newest[:RUNS_WITH_READINGS]
        ))
        return tuple(run_row(run, readings[index] if index < len(readings) else ())
                     for index, run in enumerate(newest))

    async def _samples(self, site: Site, metadata: Metadata) -> tuple[SampleRow, ...]:
        found = await _listed(self.stub.ListSamples, api.ListSamplesRequest(site=site.id),
                              "samples", metadata)
        rows = (sample_row(sample) for sample in reversed(found))
        return tuple(row for row in rows if row.awaiting)[:SHOWN]

    async def _investigations(
        self, site: Site, metadata: Metadata
    ) -> tuple[InvestigationRow, ...]:
        found = await _listed(
            self.stub.ListInvestigations, api.ListInvestigationsRequest(site=site.id),
            "investigations", metadata,
        )
        return tuple(investigation_row(open_one) for open_one in reversed(found)
                     if open_one.state not in CLOSED_INVESTIGATIONS)[:SHOWN]

    async def _dispositions(self, site: Site, metadata: Metadata) -> tuple[DispositionRow, ...]:
        found = await _listed(
            self.stub.ListDispositions, api.ListDispositionsRequest(site=site.id),
            "dispositions", metadata,
        )
        newest = sorted(found, key=lambda decided: decided.decide_time.ToMicroseconds(),
                        reverse=True)
        return tuple(disposition_row(decided) for decided in newest[:SHOWN])

    async def _named(self, call: Callable[..., Awaitable[Any]], request_type: Any,
                     names: Sequence[str], metadata: Metadata) -> list[Any]:
        """The answers of a Get RPC for each name, in order; a name the view does not hold
        (NOT_FOUND) is left out."""
        async def one(name: str) -> Any:
            try:
                return await call(request_type(name=name), metadata=metadata,
                                  timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as failure:
                if failure.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise

        return [answer for answer in await asyncio.gather(*map(one, names))
                if answer is not None]

    async def _batches_named(self, names: Sequence[str], metadata: Metadata
                             ) -> tuple[BatchRow, ...]:
        found = await self._named(self.stub.GetBatch, api.GetBatchRequest, names, metadata)
        return tuple(batch_row(answer.batch) for answer in found)

    async def _runs_named(self, names: Sequence[str], metadata: Metadata) -> tuple[RunRow, ...]:
        found = await self._named(self.stub.GetRun, api.GetRunRequest, names, metadata)
        return tuple(
            run_row(answer.run, answer.latest_readings if index < RUNS_WITH_READINGS else ())
            for index, answer in enumerate(found)
        )

    async def _samples_named(self, names: Sequence[str], metadata: Metadata
                             ) -> tuple[SampleRow, ...]:
        found = await self._named(self.stub.GetSample, api.GetSampleRequest, names, metadata)
        rows = (sample_row(answer.sample) for answer in found)
        return tuple(row for row in rows if row.awaiting)[:SHOWN]

    async def _dispositions_named(self, names: Sequence[str], metadata: Metadata
                                  ) -> tuple[DispositionRow, ...]:
        """Each by its batch's dispositions ("batches/{id}/dispositions/{n}")."""
        batches = list(dict.fromkeys(name.rpartition("/dispositions/")[0] for name in names))
        listed = await asyncio.gather(*(
            _listed(self.stub.ListDispositions, api.ListDispositionsRequest(batch=batch),
                    "dispositions", metadata)
            for batch in batches
        ))
        held = {decided.name: decided for decisions in listed for decided in decisions}
        return tuple(disposition_row(held[name]) for name in names if name in held)

    async def _readings(self, run_name: str, metadata: Metadata) -> list[api.LatestReading]:
        answer = await self.stub.GetRun(
            api.GetRunRequest(name=run_name), metadata=metadata, timeout=CALL_TIMEOUT_S
        )
        return list(answer.latest_readings)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
