"""The batch record's PDF from a batch in memory (make demo's recipe through the domain's own
rules), read back with pypdf: every part of the record, the audit status either way, and text
the font cannot print refused; the README's picture of page 1 drawn from it."""

from __future__ import annotations

import io
import math
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from services.batch_records.batches.domain import Batch
from services.batch_records.batches.pdf import AuditStatus, render_batch_record
from services.common.documents.pdf import UnprintableText, manifestation
from services.common.persistence.audit import ChainHead, TrailStatus, Verification, WitnessedHead
from services.devstack.report_page import DPI, demo_batch, rasterise

SITE = "Syracuse, NY (USA)"
INTACT = AuditStatus(
    TrailStatus(Verification(True, 15), WitnessedHead(ChainHead(15, "ab" * 32))), 15
)


def text_of(batch: Batch, audit: AuditStatus = INTACT) -> tuple[list[str], str]:
    rendered = render_batch_record(batch, site_name=SITE, audit=audit, made=batch.update_time)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(rendered.pdf)).pages]
    assert rendered.pages == len(pages)
    return pages, " ".join(" ".join(pages).split())


def test_every_part_of_the_record_is_printed_with_page_numbers() -> None:
    batch, _ = demo_batch()
    pages, text = text_of(batch)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Executed Batch Record · {batch.batch_id} · page {number} of {len(pages)}" in page
        assert f"{SITE} · Executed Batch Record {batch.batch_id}" in page
    for step_id, name in (("S1", "Charge antibody"), ("S2", "Reduce with TCEP"),
                          ("S3", "Add drug-linker"), ("S4", "Quench")):
        assert f"{step_id} · {name}" in text
    assert "31.2 Cel · out of limits" in text and "20 \u2013 30 Cel" in text
    assert "L-MAB-2026-0007" in text and "12.40 kg" in text
    signatures = [s.executed for s in batch.steps] + [s.verified for s in batch.steps]
    signatures += [e.disposition for e in batch.exceptions]
    signatures += [d.closure for d in batch.deviations]
    signatures += [c.signature for s in batch.steps for v in s.parameter_values
                   for c in v.corrections]
    signatures += list(batch.signatures)
    for signature in filter(None, signatures):
        assert manifestation(signature) in text, manifestation(signature)
    assert "S2 hold time 95 min 92 min read from the wrong timer" in text
    assert "DEV-1" in text and "CAPA-2026-017" in text and "EX-1" in text
    assert "intact: every one of its 15 entries verifies" in text
    assert f"seq 15 with hash {'ab' * 32}" in text


def test_a_broken_trail_is_printed_as_broken() -> None:
    batch, _ = demo_batch()
    broken = AuditStatus(TrailStatus(
        Verification(False, 9, 7, "entry_hash does not match the entry's content"),
        WitnessedHead(None, "the stream could not be read (TimeoutError)"),
    ), 15)
    _, text = text_of(batch, broken)
    assert "BROKEN at entry 7: entry_hash does not match the entry's content" in text
    assert "not anchored: the stream could not be read (TimeoutError)" in text


def test_text_the_font_cannot_print_is_refused_not_boxed() -> None:
    batch, _ = demo_batch()
    step = replace(batch.steps[0], comment="Δ mass within 5 ppm")
    with pytest.raises(UnprintableText, match="U\\+0394"):
        text_of(replace(batch, steps=(step, *batch.steps[1:])))


def test_the_readme_picture_is_page_one_drawn_at_its_resolution(tmp_path: Path) -> None:
    batch, _ = demo_batch()
    pdf = render_batch_record(batch, site_name=SITE, audit=INTACT, made=batch.update_time).pdf
    rasterise(pdf, 1, tmp_path / "page.png")
    with Image.open(tmp_path / "page.png") as picture:
        # A4 (595.28 by 841.89 pt) at DPI, PDFium rounding each side up.
        assert picture.size == (math.ceil(595.28 * DPI / 72), math.ceil(841.89 * DPI / 72))
        assert picture.getextrema()[0] < 64  # there is dark text on the white page
