"""The certificate of analysis as PDF, read back with pypdf: what it must show, its footers on
every page, its wrapping, and the same bytes every time it is rendered."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import timestamp_pb2
from pypdf import PageObject, PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import disposition_pb2

from services.common.documents.pdf import FONT_BOLD
from services.release_testing.certificates.pdf import certificate_sha256, render_certificate

SITE = "Syracuse (SYR)"
ISSUED = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
M = signature_pb2.SignatureMeaning
EN_DASH = "\u2013"  # as a specification writes a range


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(moment)
    return result


def signature(
    signer: str, printed_name: str, meaning: int, moment: datetime, role: str = "analyst",
) -> signature_pb2.Signature:
    return signature_pb2.Signature(
        signer=signer, printed_name=printed_name, meaning=meaning,  # type: ignore[arg-type]
        sign_time=stamp(moment), role=role,
    )


def line(
    test_id: str, attribute: str, criterion: str, result: str, unit: str, verdict: str,
    *, method: str = "SYR-TM-0101", hour: int = 1,
) -> disposition_pb2.CertificateLine:
    entered = ISSUED - timedelta(days=2, hours=hour)
    return disposition_pb2.CertificateLine(
        test_id=test_id, attribute=attribute, method_id=method,
        specification="specifications/SYR-SP-0001/versions/2", criterion_text=criterion,
        result=result, unit=unit, verdict=verdict,
        signatures=[
            signature("akim", "Ana Kim", M.SIGNATURE_MEANING_EXECUTED, entered),
            signature("bokafor", "Bola Okafor", M.SIGNATURE_MEANING_REVIEWED,
                      entered + timedelta(hours=5), role="reviewer"),
        ],
    )


def certificate(lines: list[disposition_pb2.CertificateLine]) -> disposition_pb2.Certificate:
    return disposition_pb2.Certificate(
        name="samples/SYR-S-2026-00012/certificate", sample="samples/SYR-S-2026-00012",
        batch="batches/SDO-B-2026-00007", product="TWL-ADC-101 drug substance",
        specifications=[
            "specifications/SYR-SP-0001/versions/2", "specifications/SYR-SP-0004/versions/1",
        ],
        lines=lines,
        signature=signature("qgarcia", "Quinn García", M.SIGNATURE_MEANING_APPROVED, ISSUED,
                            role="qa"),
        issue_time=stamp(ISSUED), home_site="SYR",
    )


LINES = [
    line("T-PH", "pH", f"6.8 {EN_DASH} 7.4", "7.1", "1", "PASS", hour=1),
    line("T-AGG", "High molecular weight species (aggregates) by size-exclusion "
         "chromatography, reported as percent of total peak area",
         "≤ 0.5 %", "0.8", "%", "FAIL", method="SYR-TM-0207", hour=2),
    line("T-APP", "Appearance", "Clear to slightly opalescent, colourless to slightly yellow "
         "solution, essentially free of visible particles; conforms to Ph. Eur. 2.9.20 when "
         f"inspected against black and white backgrounds under 2000{EN_DASH}3750 lx",
         "conforms", "", "PASS", method="SYR-TM-0003", hour=3),
    line("T-DAR", "Drug-to-antibody ratio", f"3.5 {EN_DASH} 4.5", "4.1", "1", "PASS", hour=4),
    line("T-ENDO", "Bacterial endotoxins", "< 0.5 EU/mg", "< 0.1", "[EU]/mg", "PASS", hour=5),
]


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Text with its line breaks as spaces: a wrapped cell reads as one run of words."""
    return " ".join(text.split())


def test_the_certificate_shows_header_results_verdicts_and_every_signature() -> None:
    pdf = render_certificate(certificate(LINES), site_name=SITE)
    assert pdf.startswith(b"%PDF-")
    text = flat(" ".join(pages_text(pdf)))

    for expected in (
        "Certificate of Analysis", "TWL-ADC-101 drug substance", "SDO-B-2026-00007",
        "SYR-S-2026-00012", SITE, "SYR-SP-0001 v2", "SYR-SP-0004 v1", "2026-12-03 06:30:00 UTC",
    ):
        assert expected in text
    assert "batches/" not in text and "specifications/" not in text

    for test_id in ("T-PH", "T-AGG", "T-APP", "T-DAR", "T-ENDO"):
        assert test_id in text
    assert "SYR-TM-0207" in text
    # A dimensionless result (UCUM "1") shows no unit; others keep theirs.
    assert "7.1" in text and "7.1 1" not in text and "4.1 1" not in text
    assert "0.8 %" in text and "< 0.1 [EU]/mg" in text and "conforms" in text
    assert text.count("PASS") == 4 and text.count("FAIL") == 1

    for printed_name, username in (("Ana Kim", "akim"), ("Bola Okafor", "bokafor")):
        assert text.count(f"{printed_name} ({username})") == len(LINES)
    assert text.count("executed") == len(LINES) and text.count("reviewed") == len(LINES)
    for hour in range(1, 6):
        entered = ISSUED - timedelta(days=2, hours=hour)
        assert entered.strftime("%Y-%m-%d %H:%M:%S UTC") in text
        assert (entered + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S UTC") in text

    assert "Quinn García (qgarcia)" in text and "approved" in text
    assert ("Signed electronically by Quinn García (qgarcia), meaning: approved, "
            "2026-12-03 06:30:00 UTC") in text


def test_signs_of_a_criterion_survive_into_the_text() -> None:
    # Vera's glyphs carry a ToUnicode map, so pypdf reads back the characters, not just shapes.
    text = flat(" ".join(pages_text(render_certificate(certificate(LINES), site_name=SITE))))
    assert "≤ 0.5 %" in text
    assert f"6.8 {EN_DASH} 7.4" in text and f"2000{EN_DASH}3750 lx" in text


def run_ends(page: PageObject) -> list[float]:
    """Where each run of text on the page ends, measured as if it were bold (the widest)."""
    ends: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            width = stringWidth(text.rstrip("\n"), FONT_BOLD, size * tm[0] * cm[0])
            ends.append(tm[4] * cm[0] + cm[4] + width)

    page.extract_text(visitor_text=visit)
    return ends


def test_long_texts_wrap_within_the_page() -> None:
    pdf = render_certificate(certificate(LINES), site_name=SITE)
    for page in PdfReader(io.BytesIO(pdf)).pages:
        ends = run_ends(page)
        assert ends and max(ends) <= float(page.mediabox.right) - 18 * mm
    # The long attribute is broken over several lines of its cell, not printed as one run.
    rows = pages_text(pdf)[0].splitlines()
    assert not any("High molecular weight species (aggregates)" in row for row in rows)


def test_a_long_certificate_spans_pages_each_with_its_footer() -> None:
    many = [
        line(f"T-{n:03d}", f"Attribute {n}", "≤ 0.5 %", f"0.{n % 10}", "%", "PASS", hour=n % 24)
        for n in range(60)
    ]
    pages = pages_text(render_certificate(certificate(many), site_name=SITE))
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert (f"Certificate of Analysis · SDO-B-2026-00007 · SYR-S-2026-00012 · "
                f"page {number} of {len(pages)}") in text
    # The results table's header row repeats on the pages it continues onto.
    assert "Acceptance criterion" in pages[1]
    everything = flat(" ".join(pages))
    assert all(f"T-{n:03d}" in everything for n in range(60))


def test_the_same_certificate_renders_to_the_same_bytes() -> None:
    first = render_certificate(certificate(LINES), site_name=SITE)
    second = render_certificate(certificate(LINES), site_name=SITE)
    assert first == second
    assert certificate_sha256(first) == certificate_sha256(second)
    assert len(certificate_sha256(first)) == 64
    assert render_certificate(certificate(LINES[:-1]), site_name=SITE) != first


def test_another_process_renders_the_same_bytes() -> None:
    # The stored SHA-256 must be checkable later, by another process with another hash seed.
    script = (
        "import sys; from tests.release_testing.integration.test_certificate_pdf import *; "
        "sys.stdout.write(certificate_sha256(render_certificate(certificate(LINES), "
        "site_name=SITE)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    here = certificate_sha256(render_certificate(certificate(LINES), site_name=SITE))
    assert done.stdout == here


def test_text_the_font_cannot_print_is_refused_not_boxed() -> None:
    greek = [line("T-ID", "Identity", "Δ mass ≤ 5 ppm", "2", "[ppm]", "PASS")]
    with pytest.raises(ValueError, match="U\\+0394"):
        render_certificate(certificate(greek), site_name=SITE)


def test_an_unsigned_certificate_is_not_rendered() -> None:
    unsigned = certificate(LINES)
    unsigned.ClearField("signature")
    with pytest.raises(ValueError, match="not signed"):
        render_certificate(unsigned, site_name=SITE)


def test_markup_characters_are_printed_as_text() -> None:
    odd = [line("T-X", "A & B <b>", "< 10 & > 2", "5", "1", "PASS")]
    text = flat(" ".join(pages_text(render_certificate(certificate(odd), site_name=SITE))))
    assert "A & B <b>" in text and "< 10 & > 2" in text
