"""The README's picture of a report page, made by the code: ``make demo``'s recipe taken through
a batch's life by the batch domain's own rules, rendered by the service's renderer, and page 1
rasterised with PDFium.

    python -m services.devstack.report_page                 # → docs/images/report-page.png
    python -m services.devstack.report_page --pdf record.pdf --page 2 --out page2.png

The times are fixed, so the same code draws the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from services.batch_records.batches import domain
from services.batch_records.batches.domain import (
    Batch,
    MaterialAddition,
    Quantity,
    Severity,
    StepRecord,
)
from services.batch_records.batches.pdf import AuditStatus, render_batch_record
from services.batch_records.master.domain import MasterBatchRecord, MbrState
from services.batch_records.master.translate import content_from_proto
from services.common.domain.signatures import SignatureMeaning, SignatureRecord
from services.common.persistence.audit import TrailStatus, Verification, WitnessedHead
from services.devstack.demo_users import DEMO_JOBS
from services.devstack.recipes import demo_recipe

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PICTURE = PROJECT_ROOT / "docs" / "images" / "report-page.png"
SITE, SITE_NAME = "syracuse", "Syracuse, NY (USA)"
START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
DPI = 110  # an A4 page 910 pixels wide: readable in the README, small in the repository
_PEOPLE = {job: (name, roles[0].value) for job, name, roles in DEMO_JOBS}


@dataclass
class _Clock:
    now: datetime = START

    def tick(self, minutes: int = 20) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


def _signed(
    clock: _Clock, job: str, meaning: SignatureMeaning, reason: str = ""
) -> SignatureRecord:
    name, role = _PEOPLE[job]
    return SignatureRecord(
        signer=f"{SITE}.{job}", printed_name=name, meaning=meaning, sign_time=clock.now,
        reason=reason, role=role,
    )


def demo_batch() -> tuple[Batch, int]:
    """The demo recipe's batch, executed, corrected, dispositioned and approved; and how many
    changes (audit entries) that took."""
    clock = _Clock()
    recipe = MasterBatchRecord(
        record_id="SYR-MBR-000001", version=1, home_site=SITE,
        content=content_from_proto(demo_recipe()), state=MbrState.EFFECTIVE,
        author=f"{SITE}.author", create_time=START - timedelta(days=9),
        update_time=START - timedelta(days=2), effective_time=START - timedelta(days=2),
    )
    batch = domain.create_batch(
        batch_id="SYR-B-2026-00042", recipe=recipe, site=SITE, created_by=f"{SITE}.reviewer",
        now=clock.now, planned_quantity=Quantity(Decimal("200"), "L"),
    )
    ready = {"R-201": "CLEAN"}
    executed, verified = SignatureMeaning.EXECUTED, SignatureMeaning.VERIFIED

    def record(step: StepRecord) -> Batch:
        clock.tick()
        recorded, _ = domain.record_steps(
            batch, [step], signature=_signed(clock, "operator", executed),
            equipment_status=ready, now=clock.now,
        )
        return recorded

    def verify(step_id: str) -> Batch:
        clock.tick(5)
        return domain.verify_step(
            batch, step_id, signature=_signed(clock, "verifier", verified), now=clock.now
        )

    def q(value: str, unit: str) -> Quantity:
        return Quantity(Decimal(value), unit)

    batch = record(StepRecord(
        "S1", materials=(MaterialAddition("MAB-TWX-101", "L-MAB-2026-0007", q("12.40", "kg")),),
        equipment=(("R-201", ""),), comment="antibody intermediate charged via transfer line 3",
    ))
    batch = verify("S1")
    batch = record(StepRecord("S2", parameter_values=(
        ("TCEP", q("2.6", "mol/mol")), ("temperature", q("31.2", "Cel")),
        ("hold time", q("95", "min")),
    ), equipment=(("R-201", ""),)))
    clock.tick(40)
    batch = domain.disposition_exception(batch, "EX-1", signature=_signed(
        clock, "qa", SignatureMeaning.REVIEWED,
        "jacket probe drift of +6 Cel confirmed against the calibrated probe; product "
        "temperature stayed within 20-30 Cel",
    ), now=clock.now)
    batch = verify("S2")
    clock.tick(10)
    batch, _ = domain.correct_value(batch, "S2", "hold time", q("92", "min"), signature=_signed(
        clock, "operator", SignatureMeaning.AUTHORED, "read from the wrong timer; 92 min per "
        "the batch log",
    ), now=clock.now)
    clock.tick(5)
    batch, deviation = domain.raise_deviation(
        batch, classification=Severity.MINOR, title="Jacket temperature probe drift in R-201",
        description="TT-201B read 31.2 Cel while the reference probe read 25.1 Cel",
        exception_ids=["EX-1"], raised_by=f"{SITE}.reviewer", now=clock.now,
    )
    clock.tick(60)
    batch = domain.update_deviation(
        batch, deviation.id, investigation="probe TT-201B recalibrated; 30-day trend reviewed",
        capa_reference="CAPA-2026-017", now=clock.now,
    )
    batch = record(StepRecord("S3", parameter_values=(("co-solvent", q("8.1", "%")),)))
    batch = record(StepRecord(
        "S4", materials=(MaterialAddition("NAC-0.1M", "L-NAC-0212", q("4.0", "L")),),
    ))
    clock.tick(30)
    batch = domain.close_deviation(batch, deviation.id, signature=_signed(
        clock, "qa", SignatureMeaning.APPROVED, "investigation complete; CAPA raised"),
        now=clock.now)
    clock.tick(10)
    batch, _ = domain.complete(batch, signature=_signed(clock, "reviewer", executed),
                               now=clock.now)
    batch = domain.submit_for_review(batch, now=clock.tick(2))
    clock.tick(90)
    batch = domain.approve(batch, signature=_signed(
        clock, "qa", SignatureMeaning.APPROVED, "reviewed by exception"), now=clock.now)
    return batch, batch.revision


def demo_report() -> bytes:
    """The demo batch's record as the service renders it (the audit status as of that run)."""
    batch, changes = demo_batch()
    audit = AuditStatus(
        TrailStatus(Verification(True, changes),
                    WitnessedHead(None, "drawn by services.devstack.report_page, off the bus")),
        batch_entries=changes,
    )
    return render_batch_record(batch, site_name=SITE_NAME, audit=audit,
                               made=batch.update_time + timedelta(minutes=5)).pdf


def rasterise(pdf: bytes, page: int, out: Path, dpi: int = DPI) -> None:
    """Page ``page`` (from 1) of ``pdf`` as a PNG at ``dpi``."""
    import pypdfium2  # a development tool: only this picture needs it

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page - 1].render(scale=dpi / 72).to_pil()
        out.parent.mkdir(parents=True, exist_ok=True)
        image.convert("L").save(out, format="PNG", optimize=True)  # black on white: grey will do
    finally:
        document.close()


def main(
    out: Annotated[Path, typer.Option(help="The PNG to write.")] = PICTURE,
    pdf: Annotated[Path | None, typer.Option(
        help="Rasterise this PDF (e.g. from twinline report) instead of the demo batch's.",
    )] = None,
    page: Annotated[int, typer.Option(min=1, help="Which page, from 1.")] = 1,
) -> None:
    """Draws a page of a batch record report as a PNG."""
    document = pdf.read_bytes() if pdf is not None else demo_report()
    rasterise(document, page, out)
    typer.echo(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
