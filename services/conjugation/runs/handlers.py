"""Conjugation run use cases: load, decide in the domain, save with audit entry and events."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session
from twinline.batchrecords.v1 import master_batch_record_pb2 as recipe_pb
from twinline.conjugation.v1 import run_pb2 as pb
from twinline.events.v1 import conjugation_events_pb2 as event_pb

from services.common.domain.errors import FailedPrecondition
from services.common.domain.roles import Principal
from services.common.persistence.event_spec import EventSpec, publish_event, record_change
from services.common.persistence.unit_of_work import UnitOfWork
from services.conjugation.projection import repository as projection
from services.conjugation.runs import domain, events, repository
from services.conjugation.runs.domain import Decided, Issue, Run
from services.conjugation.runs.names import run_id
from services.conjugation.runs.stoichiometry import Amount, Inputs
from services.conjugation.runs.translate import (
    CHARGE_TO_PROTO,
    PHASE_TO_PROTO,
    acceptance_from_proto,
    charge_to_proto,
    parameter_to_proto,
    result_to_proto,
    run_to_proto,
    step_limits_of,
)

ISSUE_EVENTS = {
    "charge": events.CHARGE_OUT_OF_TOLERANCE,
    "parameter": events.PARAMETER_OUT_OF_LIMITS,
    "result": events.RESULT_OUT_OF_RANGE,
}


def _save(
    uow: UnitOfWork, spec: EventSpec, *, actor: str, before: Run | None, decided: Decided,
    number: int = 0, **payload_fields: object,
) -> Run:
    """Stores the run with its audit entry and event, and one event per issue it raised."""
    after = decided.run
    stored = run_to_proto(after)
    if before is None:
        repository.add(uow.session, after, stored, number)
    else:
        repository.replace(uow.session, after, stored)
    record_change(
        uow, spec, actor=actor, aggregate_id=after.run_id, resource_name=after.name,
        old_state=None if before is None else run_to_proto(before), new_state=stored,
        reason="", run=stored, **payload_fields,
    )
    for issue in decided.issues:
        _publish_issue(uow, after, stored, issue)
    if before is not None and before.phase is not after.phase and \
            after.phase is domain.Phase.COMPLETE:
        publish_event(uow, events.COMPLETED, resource_name=after.name, run=stored)
    return after


def _publish_issue(uow: UnitOfWork, run: Run, stored: pb.Run, issue: Issue) -> None:
    exception = event_pb.ProcessException(
        batch=f"batches/{run.batch_id}", source=run.name, description=issue.description,
        major=True,
    )
    extra: dict[str, object] = {}
    if issue.charge is not None:
        extra["charge"] = charge_to_proto(issue.charge)
    if issue.parameter is not None:
        extra["parameter"] = parameter_to_proto(issue.parameter)
        extra["phase"] = stored.phase if issue.phase is None else _phase_proto(issue.phase)
    if issue.result is not None:
        extra["result"] = result_to_proto(issue.result)
    publish_event(
        uow, ISSUE_EVENTS[issue.kind], resource_name=run.name, run=stored,
        exception=exception, **extra,
    )


def _phase_proto(phase: domain.Phase) -> int:
    return int(PHASE_TO_PROTO[phase])


def create(
    uow: UnitOfWork, *, principal: Principal, site_code: str, batch_id: str, inputs: Inputs,
    lots: domain.Lots, phase_steps: list[pb.PhaseStep], acceptance: list[pb.AcceptanceRange],
    tolerances: tuple[Decimal, Decimal, Decimal],
) -> Run:
    """A run for a batch in progress at this site, as this site's batch events tell it."""
    batch = projection.known_batch(uow.session, batch_id)
    if batch is None or not batch.recipe:
        raise FailedPrecondition(
            "BATCH_UNKNOWN",
            f"batch {batch_id} is not known here (yet): a run needs a batch of this site; "
            "one created a moment ago is known once its event arrives, so retry",
            batchId=batch_id,
        )
    if batch.state != "in_progress":
        raise FailedPrecondition(
            "BATCH_NOT_IN_PROGRESS",
            f"batch {batch_id} is {batch.state.replace('_', ' ')}, not in progress",
            batchId=batch_id, state=batch.state,
        )
    limits, violations = step_limits_of(
        recipe_pb.MasterBatchRecord.FromString(batch.recipe), phase_steps
    )
    ranges = acceptance_from_proto(acceptance, violations)
    violations.raise_if_any()
    number = repository.next_number(uow.session, uow.group_memo)
    run = domain.create_run(
        run_id=run_id(site_code, number), site=uow.site, batch_id=batch_id,
        product=batch.product, inputs=inputs, lots=lots, phase_steps=limits, acceptance=ranges,
        tolerances=tolerances, created_by=principal.username, now=uow.now,
    )
    return _save(uow, events.CREATED, actor=principal.username, before=None,
                 decided=Decided(run), number=number)


def _load(uow: UnitOfWork, run_id_: str, etag: str) -> Run:
    run = repository.get(uow.session, run_id_)
    domain.check_etag(run, etag)
    return run


def record_charge(
    uow: UnitOfWork, *, principal: Principal, run_id: str, etag: str,
    kind: domain.ChargeKind, actual: Amount, lot_id: str,
) -> Run:
    before = _load(uow, run_id, etag)
    decided = domain.record_charge(
        before, kind=kind, actual=actual, lot_id=lot_id, recorded_by=principal.username,
        now=uow.now,
    )
    return _save(uow, events.CHARGE_RECORDED, actor=principal.username, before=before,
                 decided=decided, kind=CHARGE_TO_PROTO[kind])


def start_phase(
    uow: UnitOfWork, *, principal: Principal, run_id: str, etag: str, phase: domain.Phase,
) -> Run:
    before = _load(uow, run_id, etag)
    decided = domain.start_phase(before, phase=phase, started_by=principal.username,
                                 now=uow.now)
    return _save(uow, events.PHASE_STARTED, actor=principal.username, before=before,
                 decided=decided, phase=_phase_proto(phase))


def end_phase(
    uow: UnitOfWork, *, principal: Principal, run_id: str, etag: str, phase: domain.Phase,
    parameters: dict[str, Amount],
) -> Run:
    before = _load(uow, run_id, etag)
    decided = domain.end_phase(before, phase=phase, parameters=parameters,
                               ended_by=principal.username, now=uow.now)
    return _save(uow, events.PHASE_ENDED, actor=principal.username, before=before,
                 decided=decided, phase=_phase_proto(phase))


def record_results(
    uow: UnitOfWork, *, principal: Principal, run_id: str, etag: str,
    dar_distribution: list[str], values: dict[domain.Attribute, Amount], protein_out: Amount,
) -> Run:
    before = _load(uow, run_id, etag)
    decided = domain.record_results(
        before, dar_distribution=dar_distribution, values=values, protein_out=protein_out,
        recorded_by=principal.username, now=uow.now,
    )
    return _save(uow, events.RESULTS_RECORDED, actor=principal.username, before=before,
                 decided=decided)


def get(session: Session, run_id_: str) -> pb.Run:
    return repository.stored(session, run_id_)
