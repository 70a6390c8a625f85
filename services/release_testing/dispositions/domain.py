"""QA's disposition of a batch at its home site, and what a release requires. Pure.

RELEASED requires the batch record approved, every test of every effective release
specification of the product passed and reviewed (results from any site's lab), nothing open
on the batch, and no open or confirmed OOS investigation. A refusal lists every unmet
condition. RELEASED and REJECTED are final; ON_HOLD may be followed by either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.common.domain import bounds
from services.common.domain.errors import (
    FailedPrecondition,
    Precondition,
    PreconditionFailed,
    Violations,
)
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord
from services.release_testing.dispositions.names import disposition_name
from services.release_testing.investigations.domain import Investigation, InvestigationState
from services.release_testing.projection.domain import KnownBatch
from services.release_testing.samples.domain import ResultState, Sample
from services.release_testing.samples.names import result_name
from services.release_testing.specifications.criteria import Verdict
from services.release_testing.specifications.domain import Purpose, Specification

DISPOSER_ROLES = (Role.QA,)


class Decision(StrEnum):
    RELEASED = "released"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"


FINAL = (Decision.RELEASED, Decision.REJECTED)


@dataclass(frozen=True)
class Disposition:
    batch_id: str
    number: int
    decision: Decision
    reason: str
    signature: SignatureRecord
    results: tuple[str, ...]  # the results a release rested on
    decided_at: datetime
    home_site: str

    @property
    def name(self) -> str:
        return disposition_name(self.batch_id, self.number)


def release_evidence(
    batch: KnownBatch, samples: Sequence[Sample], investigations: Sequence[Investigation],
    specifications: Sequence[Specification],
) -> tuple[list[Precondition], tuple[str, ...]]:
    """Every unmet condition of a release, and the results that meet the tests."""
    unmet: list[Precondition] = []
    batch_name = f"batches/{batch.batch_id}"
    if batch.state != "approved":
        unmet.append(Precondition("BATCH_RECORD_NOT_APPROVED", batch_name,
                                  f"the batch record is {batch.state.replace('_', ' ')}, not "
                                  "approved"))
    for issue in batch.open_issues:
        kind = "DEVIATION_OPEN" if issue.startswith("DEV") else "EXCEPTION_OPEN"
        unmet.append(Precondition(kind, f"{batch_name} {issue}",
                                  f"{issue} is open on the batch record"))
    for investigation in investigations:
        if investigation.is_open:
            unmet.append(Precondition("INVESTIGATION_OPEN", investigation.name,
                                      f"the OOS investigation of {investigation.result_name} "
                                      "is open"))
        elif investigation.state is InvestigationState.CLOSED_CONFIRMED:
            unmet.append(Precondition("OOS_CONFIRMED", investigation.name,
                                      f"the OOS of {investigation.result_name} is confirmed"))
    release = [spec for spec in specifications if spec.purpose is Purpose.RELEASE]
    if not release:
        unmet.append(Precondition("NO_RELEASE_SPECIFICATION", batch_name,
                                  f"no release specification of {batch.product} is effective"))
    evidence: list[str] = []
    for spec in release:
        for test in spec.tests:
            found, problem = _passed(samples, spec.name, test.test_id)
            if found:
                evidence.append(found)
            else:
                unmet.append(Precondition(problem[0], f"{spec.name} {test.test_id}", problem[1]))
    return unmet, tuple(evidence)


def _passed(samples: Sequence[Sample], specification: str,
            test_id: str) -> tuple[str, tuple[str, str]]:
    """The result that passes a release test, or ('', (type, why not))."""
    problem = ("RESULT_MISSING", "no result of a sample of the batch (from any site's lab) "
               "is known here")
    for sample in samples:
        for assignment in sample.assignments:
            if not any(a.specification == specification and a.test_id == test_id
                       for a in assignment.applied):
                continue
            current = sample.current(assignment.assignment_id)
            if current is None:
                continue
            verdict = next(v for v in current.verdicts
                           if v.specification == specification and v.test_id == test_id)
            name = result_name(sample.sample_id, current.number)
            if verdict.judgement.verdict is Verdict.FAIL:
                problem = ("RESULT_FAILED", f"{name} is out of specification")
            elif current.state is not ResultState.REVIEWED:
                problem = ("RESULT_NOT_REVIEWED", f"{name} is not reviewed")
            else:
                return name, ("", "")
    return "", problem


def decide(
    *, batch: KnownBatch | None, batch_id: str, site: str, decision: Decision, reason: str,
    signature: SignatureRecord, previous: Sequence[Disposition], samples: Sequence[Sample],
    investigations: Sequence[Investigation], specifications: Sequence[Specification],
    now: datetime,
) -> Disposition:
    if batch is None:
        raise FailedPrecondition("BATCH_UNKNOWN", f"batch {batch_id} is not known here (yet)",
                                 batchId=batch_id)
    if batch.home_site != site:
        raise FailedPrecondition(
            "NOT_HOME_SITE", f"batch {batch_id} belongs to {batch.home_site}: its own QA "
            "dispositions it", batchId=batch_id, homeSite=batch.home_site)
    if previous and previous[-1].decision in FINAL:
        raise FailedPrecondition(
            "DISPOSITION_FINAL", f"batch {batch_id} is {previous[-1].decision.value}: that is "
            "final", batchId=batch_id)
    violations = Violations()
    bounds.text("signature.reason", reason, bounds.COMMENT_LEN, violations,
                required=decision is not Decision.RELEASED)
    violations.raise_if_any()
    evidence: tuple[str, ...] = ()
    if decision is Decision.RELEASED:
        unmet, evidence = release_evidence(batch, samples, investigations, specifications)
        if unmet:
            raise PreconditionFailed("RELEASE_CONDITIONS_UNMET",
                                     f"batch {batch_id} cannot be released", unmet)
    return Disposition(batch_id=batch_id, number=len(previous) + 1, decision=decision,
                       reason=reason, signature=signature, results=evidence, decided_at=now,
                       home_site=site)
