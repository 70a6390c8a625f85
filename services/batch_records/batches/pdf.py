"""The executed batch record as a PDF to read and file (the kernel's documents): every step with
its values, units, limits and signatures, the exceptions and their dispositions, every
correction with the original value, the deviations, the record's own signatures and the audit
trail's status; the batch id and "page n of m" on every page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer

from services.batch_records.batches.domain import (
    Batch,
    BatchException,
    Deviation,
    ExceptionKind,
    ParameterValue,
    Quantity,
    StepExecution,
    classify_value,
    recipe_steps,
)
from services.batch_records.master.domain import ProcessParameter, Step
from services.common.documents.pdf import (
    HEAD,
    HEADING,
    SUBHEADING,
    TITLE,
    Printer,
    Rendered,
    manifestation,
    render,
    utc_text,
    with_unit,
)
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.persistence.audit import TrailStatus

TITLE_TEXT = "Executed Batch Record"
NONE = "—"
EN_DASH = " \u2013 "  # between the ends of a range, as a specification writes it

_PARAMETER_COLUMNS = ("Parameter", "Value", "Target", "Limits", "Alert range", "CPP")
_PARAMETER_WIDTHS = tuple(w * mm for w in (34, 38, 22, 36, 30, 14))
_MATERIAL_COLUMNS = ("Material", "Lot", "Quantity")
_MATERIAL_WIDTHS = tuple(w * mm for w in (70, 54, 50))
_EQUIPMENT_COLUMNS = ("Equipment", "Status at use", "Override reason")
_EQUIPMENT_WIDTHS = tuple(w * mm for w in (44, 36, 94))
_CORRECTION_COLUMNS = ("Step", "Parameter", "Original value", "Corrected value", "Reason")
_CORRECTION_WIDTHS = tuple(w * mm for w in (24, 32, 30, 30, 58))
_PRINT = Printer("the batch record")
_GAP = 1.5 * mm  # below a table, before the line that follows it
_RECORD_SIGNATURES = {
    SignatureMeaning.EXECUTED: "Completed", SignatureMeaning.APPROVED: "Approved",
    SignatureMeaning.REJECTED: "Rejected",
}


@dataclass(frozen=True)
class AuditStatus:
    """The service's audit trail as verified when the report was made."""

    trail: TrailStatus
    batch_entries: int  # how many of its entries record changes of this batch


def render_batch_record(
    batch: Batch, *, site_name: str, audit: AuditStatus, made: datetime
) -> Rendered:
    """The batch record as a PDF; ``site_name`` is its home site as printed, ``made`` when."""
    return render(
        _story(batch, site_name, audit, made),
        header=f"{site_name} · {TITLE_TEXT} {batch.batch_id} · {batch.recipe.content.product}",
        footer=f"{TITLE_TEXT} · {batch.batch_id}",
        title=f"{TITLE_TEXT} {batch.batch_id}", author=site_name, subject=batch.name,
        document=_PRINT.document,
    )


def file_name(batch_id: str) -> str:
    """The report's file name, e.g. "SYR-B-2026-00042-batch-record.pdf"."""
    return f"{batch_id}-batch-record.pdf"


def _story(batch: Batch, site_name: str, audit: AuditStatus, made: datetime) -> list[Flowable]:
    story: list[Flowable] = [_PRINT.paragraph(TITLE_TEXT, TITLE), _summary(batch, site_name, made)]
    story += [_PRINT.paragraph("Steps", HEADING)]
    definitions = {step.id: step for step in recipe_steps(batch.recipe)}
    for execution in batch.steps:
        story += _step(definitions[execution.step_id], execution)
    story += _corrections(batch)
    story += _exceptions(batch.exceptions)
    story += _deviations(batch.deviations)
    story += _record_signatures(batch)
    story += _audit(audit, batch.batch_id)
    return story


def _summary(batch: Batch, site_name: str, made: datetime) -> Flowable:
    recipe = batch.recipe
    planned = _quantity(batch.planned_quantity) if batch.planned_quantity else NONE
    return _PRINT.fields([
        ("Batch", batch.batch_id),
        ("Master record", f"{recipe.record_id} v{recipe.version} · {recipe.content.title}"),
        ("Product", recipe.content.product),
        ("Process", recipe.content.process),
        ("Site", site_name),
        ("State", _word(batch.state.value)),
        ("Planned quantity", planned),
        ("Created", f"{utc_text(batch.create_time)} by {batch.created_by}"),
        ("Last changed", f"{utc_text(batch.update_time)} (revision {batch.revision})"),
        ("Report made", utc_text(made)),
    ])


def _step(step: Step, execution: StepExecution) -> list[Flowable]:
    verification = ", verification required" if step.requires_verification else ""
    parts: list[Flowable] = [
        _PRINT.paragraph(f"{step.id} · {step.name}", SUBHEADING),
        _PRINT.paragraph(f"Status: {_word(execution.status.value)}{verification}. "
                         f"Instruction: {step.instruction or NONE}"),
    ]
    if step.parameters:
        recorded = {value.name: value for value in execution.parameter_values}
        rows = [_parameter_row(p, recorded.get(p.name)) for p in step.parameters]
        parts += [_PRINT.grid(_PARAMETER_COLUMNS, rows, _PARAMETER_WIDTHS), Spacer(0, _GAP)]
    if execution.materials:
        parts += [_PRINT.grid(_MATERIAL_COLUMNS, [
            (m.material, m.lot_id, _quantity(m.quantity)) for m in execution.materials
        ], _MATERIAL_WIDTHS), Spacer(0, _GAP)]
    if execution.equipment:
        parts += [_PRINT.grid(_EQUIPMENT_COLUMNS, [
            (e.equipment_id, e.status_at_use, e.override_reason or NONE)
            for e in execution.equipment
        ], _EQUIPMENT_WIDTHS), Spacer(0, _GAP)]
    if execution.comment:
        parts.append(_PRINT.paragraph(f"Comment: {execution.comment}"))
    if execution.perform_time is not None and execution.record_time is not None:
        parts.append(_PRINT.paragraph(
            f"Performed by {execution.performed_by or NONE} at "
            f"{utc_text(execution.perform_time)}; recorded {utc_text(execution.record_time)}."
        ))
    for label, signature in (("Executed", execution.executed), ("Verified", execution.verified)):
        if signature is not None:
            parts.append(_signed(label, signature))
    if execution.executed is None:
        parts.append(_PRINT.paragraph("Not executed."))
    # A step's title stays with the start of its content.
    return [CondPageBreak(40 * mm), *parts]


def _parameter_row(
    parameter: ProcessParameter, recorded: ParameterValue | None
) -> list[str | Paragraph]:
    value: str | Paragraph = NONE
    if recorded is not None:
        text = _quantity(recorded.value)
        # The domain's own rule says whether the value in force is outside its limits.
        excursion = classify_value(parameter, recorded.value.value)
        if excursion is not None:
            text += (" · out of limits" if excursion[0] == ExceptionKind.OUT_OF_LIMITS
                     else " · outside alert range")
        if recorded.corrections:
            text += " (corrected, see Corrections)"
        value = _PRINT.cell(text, HEAD) if excursion is not None else text
    return [
        parameter.name, value, _bound(parameter.target, parameter.unit),
        _range(parameter.low_limit, parameter.high_limit, parameter.unit),
        _range(parameter.alert_low, parameter.alert_high, parameter.unit),
        "yes" if parameter.critical else "no",
    ]


def _corrections(batch: Batch) -> list[Flowable]:
    found = [
        (execution.step_id, value.name, correction)
        for execution in batch.steps
        for value in execution.parameter_values
        for correction in value.corrections
    ]
    parts: list[Flowable] = [_PRINT.paragraph("Corrections", HEADING)]
    if not found:
        return [*parts, _PRINT.paragraph("No recorded value was corrected.")]
    rows = [
        (step_id, name, _quantity(c.previous), _quantity(c.corrected), c.signature.reason)
        for step_id, name, c in found
    ]
    parts += [_PRINT.grid(_CORRECTION_COLUMNS, rows, _CORRECTION_WIDTHS), Spacer(0, _GAP)]
    for step_id, name, correction in found:
        parts.append(_signed(f"Correction of {step_id} {name}", correction.signature))
    return parts


def _exceptions(exceptions: Sequence[BatchException]) -> list[Flowable]:
    parts: list[Flowable] = [_PRINT.paragraph("Exceptions", HEADING)]
    if not exceptions:
        return [*parts, _PRINT.paragraph("No exception was raised.")]
    for exception in exceptions:
        rows = [
            ("Kind", _word(exception.kind.value)),
            ("Severity", _word(exception.severity.value)),
            ("Step", exception.step_id or NONE),
            ("Raised", utc_text(exception.raise_time)),
            ("Description", exception.description),
        ]
        if exception.source:
            rows.append(("Source", exception.source))
        if exception.disposition is None:
            rows.append(("Disposition", "open: not yet dispositioned"))
        block: list[Flowable] = [
            _PRINT.paragraph(f"{exception.id}", SUBHEADING), _PRINT.fields(rows)
        ]
        if exception.proposed_disposition is not None:
            block.append(_signed("Proposed disposition", exception.proposed_disposition))
        if exception.disposition is not None:
            block.append(_signed("Disposition", exception.disposition))
        parts.append(KeepTogether(block))
    return parts


def _deviations(deviations: Sequence[Deviation]) -> list[Flowable]:
    parts: list[Flowable] = [_PRINT.paragraph("Deviations", HEADING)]
    if not deviations:
        return [*parts, _PRINT.paragraph("No deviation was raised.")]
    for deviation in deviations:
        rows = [
            ("Title", deviation.title),
            ("Classification", _word(deviation.classification.value)),
            ("State", _word(deviation.state.value)),
            ("Raised", f"{utc_text(deviation.raise_time)} by {deviation.raised_by}"),
            ("Description", deviation.description or NONE),
            ("From exceptions", ", ".join(deviation.exception_ids) or NONE),
            ("Investigation", deviation.investigation or NONE),
            ("CAPA", deviation.capa_reference or NONE),
        ]
        block: list[Flowable] = [
            _PRINT.paragraph(deviation.id, SUBHEADING), _PRINT.fields(rows)
        ]
        if deviation.closure is not None:
            block.append(_signed("Closure", deviation.closure))
        parts.append(KeepTogether(block))
    return parts


def _record_signatures(batch: Batch) -> list[Flowable]:
    parts: list[Flowable] = [_PRINT.paragraph("Signatures of the batch record", HEADING)]
    if not batch.signatures and not batch.dispositions:
        return [*parts, _PRINT.paragraph("The batch record is not signed yet.")]
    parts += [
        _signed(_RECORD_SIGNATURES.get(signature.meaning, "Signed"), signature)
        for signature in batch.signatures
    ]
    for disposition in batch.dispositions:
        label = f"QA disposition of the batch: {_word(disposition.decision.value)}"
        parts.append(_signed(label, disposition.signature))
    return parts


def _audit(audit: AuditStatus, batch_id: str) -> list[Flowable]:
    found, witnessed = audit.trail.verification, audit.trail.witnessed
    if found.intact:
        status = f"intact: every one of its {found.entries_checked} entries verifies"
    else:
        status = (f"BROKEN at entry {found.first_broken_sequence}: {found.problem} "
                  f"({found.entries_checked} entries read)")
    if witnessed.head is not None:
        anchor = (f"seq {witnessed.head.sequence} with hash {witnessed.head.entry_hash}, "
                  "as the site's stream witnessed it")
    else:
        anchor = f"not anchored: {witnessed.note}"
    return [KeepTogether([
        _PRINT.paragraph("Audit trail", HEADING),
        _PRINT.fields([
            ("Status", status),
            ("Head", anchor),
            ("This batch", f"{audit.batch_entries} entries record changes of {batch_id}"),
        ]),
    ])]


def _signed(label: str, signature: SignatureRecord) -> Flowable:
    """One signature as shown on the record: its manifestation, then its role and reason."""
    extra = [f"role: {signature.role}"] if signature.role else []
    if signature.reason:
        extra.append(f"reason: {signature.reason}")
    tail = f" ({'; '.join(extra)})" if extra else ""
    return _PRINT.fields([(label, f"{manifestation(signature)}{tail}")])


def _quantity(quantity: Quantity) -> str:
    return with_unit(str(quantity.value), quantity.unit)


def _bound(value: Decimal | None, unit: str) -> str:
    return NONE if value is None else with_unit(str(value), unit)


def _range(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    if low is not None and high is not None:
        return with_unit(f"{low}{EN_DASH}{high}", unit)
    if low is not None:
        return f"≥ {with_unit(str(low), unit)}"
    if high is not None:
        return f"≤ {with_unit(str(high), unit)}"
    return NONE


def _word(value: str) -> str:
    """An enum value as printed: "in_review" → "in review"."""
    return value.replace("_", " ")

