"""A certificate of analysis of a sample: what it reports, and when it may be issued. Pure.

Issued once, by QA, when every test of the sample has a current result that a second analyst
reviewed and no investigation of the sample is open. Each line is one specification's test:
its criterion, the reportable result with its unit, the verdict, and the result's signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.common.domain.errors import FailedPrecondition, Precondition, PreconditionFailed
from services.common.domain.roles import Role
from services.common.domain.signatures import SignatureRecord
from services.release_testing.investigations.domain import Investigation
from services.release_testing.samples.domain import Result, ResultState, Sample
from services.release_testing.samples.names import result_name

ISSUER_ROLES = (Role.QA,)


@dataclass(frozen=True)
class Line:
    test_id: str
    attribute: str
    method_id: str
    specification: str
    criterion_text: str
    result: str  # "4.1", "< LOQ", "conforms"
    unit: str
    verdict: str  # "PASS", "FAIL"
    signatures: tuple[SignatureRecord, ...]


@dataclass(frozen=True)
class Certificate:
    sample_id: str
    batch_id: str
    product: str
    home_site: str
    specifications: tuple[str, ...]
    lines: tuple[Line, ...]
    signature: SignatureRecord
    issued_at: datetime

    @property
    def name(self) -> str:
        return f"samples/{self.sample_id}/certificate"


def _result_text(result: Result, reportable: str) -> str:
    if result.outcome:
        return result.outcome
    if result.below_loq:
        return "< LOQ"
    return reportable


def issue(sample: Sample, investigations: Sequence[Investigation], *,
          signature: SignatureRecord, now: datetime) -> Certificate:
    """The certificate of a complete sample; every unmet condition listed otherwise."""
    unmet = []
    for assignment in sample.assignments:
        current = sample.current(assignment.assignment_id)
        if current is None:
            unmet.append(Precondition("RESULT_MISSING", f"{sample.name} {assignment.attribute}",
                                      "no valid result entered"))
        elif current.state is not ResultState.REVIEWED:
            unmet.append(Precondition(
                "RESULT_NOT_REVIEWED", result_name(sample.sample_id, current.number),
                f"{assignment.attribute}: not reviewed by a second analyst"))
    for investigation in investigations:
        if investigation.is_open and investigation.sample_id == sample.sample_id:
            unmet.append(Precondition("INVESTIGATION_OPEN", investigation.name,
                                      f"an OOS investigation of {investigation.result_name} "
                                      "is open"))
    if unmet:
        raise PreconditionFailed("CERTIFICATE_CONDITIONS_UNMET",
                                 f"{sample.name} cannot be certified yet", unmet)
    lines = []
    for assignment in sample.assignments:
        current = sample.current(assignment.assignment_id)
        assert current is not None
        for applied, verdicts in zip(assignment.applied, current.verdicts, strict=True):
            lines.append(Line(
                test_id=applied.test_id, attribute=assignment.attribute,
                method_id=assignment.method_id, specification=applied.specification,
                criterion_text=applied.criterion_text,
                result=_result_text(current, verdicts.judgement.reportable_text),
                unit=assignment.unit, verdict=verdicts.judgement.verdict.value.upper(),
                signatures=current.signatures,
            ))
    specifications = tuple(dict.fromkeys(line.specification for line in lines))
    return Certificate(
        sample_id=sample.sample_id, batch_id=sample.batch_id, product=sample.product,
        home_site=sample.home_site, specifications=specifications, lines=tuple(lines),
        signature=signature, issued_at=now,
    )


def refuse_second(sample_name: str) -> None:
    raise FailedPrecondition("CERTIFICATE_EXISTS", f"{sample_name} has its certificate: a "
                             "certificate is issued once", sample=sample_name)
