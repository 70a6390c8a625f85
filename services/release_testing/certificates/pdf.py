"""A certificate of analysis rendered to PDF (A4, reportlab's platypus). The same certificate
always renders to the same bytes, so the SHA-256 stored with it can be checked."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from google.protobuf import timestamp_pb2
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import disposition_pb2

from services.common.grpc.translate import MEANING_FROM_PROTO

TITLE = "Certificate of Analysis"

# Bitstream Vera ships inside reportlab itself: a fresh clone needs no system font, and every
# machine embeds the very same font file (so the same bytes). It covers Latin-1, a few more
# Latin letters and the signs a specification uses (≤ ≥ ± µ ° and the en dash), but not Greek,
# Cyrillic or letters such as "ř" and "ń": text it cannot show is refused (see _text) rather
# than printed as empty boxes on a GMP record.
_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
FONT, FONT_BOLD = "Twinline-Vera", "Twinline-Vera-Bold"
_FACES = (
    TTFont(FONT, str(_FONT_DIR / "Vera.ttf")), TTFont(FONT_BOLD, str(_FONT_DIR / "VeraBd.ttf")),
)
for _font in _FACES:
    pdfmetrics.registerFont(_font)
pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
_GLYPHS = frozenset.intersection(*(frozenset(face.face.charToGlyph) for face in _FACES))

_MARGIN = 18 * mm
_WIDTH = A4[0] - 2 * _MARGIN
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=11.5)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=8.5, leading=10.5)
_HEAD = ParagraphStyle("head", parent=_CELL, fontName=FONT_BOLD)
_HEADING = ParagraphStyle(
    "heading", parent=_BODY, fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=10,
    spaceAfter=4,
)
_TITLE = ParagraphStyle(
    "title", parent=_BODY, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=8
)

_RESULT_COLUMNS = ("Test", "Attribute", "Method", "Acceptance criterion", "Result", "Verdict")
_RESULT_WIDTHS = tuple(w * mm for w in (20, 38, 24, 44, 30, 18))
_SIGNATURE_COLUMNS = ("Test", "Signed by", "Meaning", "Time (UTC)", "Role")
_SIGNATURE_WIDTHS = tuple(w * mm for w in (20, 54, 22, 44, 34))
_GRID = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 4),
    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
])


class UnprintableText(ValueError):
    """Text with characters the certificate's font has no glyph for (it says which)."""


def render_certificate(certificate: disposition_pb2.Certificate, *, site_name: str) -> bytes:
    """The certificate as PDF bytes; ``site_name`` is the issuing site as printed."""
    if not certificate.HasField("signature"):
        raise ValueError(f"{certificate.name or 'a certificate'} is not signed: nothing to render")
    batch, sample = _batch_id(certificate.batch), _sample_id(certificate.sample)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=_MARGIN,
        bottomMargin=22 * mm, invariant=1, title=f"{TITLE} {batch} {sample}",
        author=site_name, creator="Twinline", subject=certificate.name,
    )
    footer = f"{TITLE} · {batch} · {sample}"
    _text(footer)  # drawn straight on the canvas, it is checked here
    canvasmaker = partial(_NumberedCanvas, footer=footer)
    document.build(_story(certificate, site_name), canvasmaker=canvasmaker)
    return buffer.getvalue()


def certificate_sha256(pdf: bytes) -> str:
    """The hex SHA-256 of a certificate's PDF, as stored with the certificate."""
    return hashlib.sha256(pdf).hexdigest()


def manifestation(signature: signature_pb2.Signature) -> str:
    """The signature as 21 CFR 11.50 asks it shown: printed name, meaning, date and time."""
    return (
        f"Signed electronically by {signature.printed_name} ({signature.signer}), "
        f"meaning: {_meaning(signature)}, {_utc(signature.sign_time)}"
    )


def _batch_id(name: str) -> str:
    """"batches/SDO-B-2026-00007" → "SDO-B-2026-00007"; anything else as given."""
    return name.removeprefix("batches/")


def _sample_id(name: str) -> str:
    return name.removeprefix("samples/")


def _specification_version(name: str) -> str:
    """"specifications/SYR-SP-0001/versions/2" → "SYR-SP-0001 v2"; anything else as given."""
    parts = name.split("/")
    if len(parts) == 4 and parts[0] == "specifications" and parts[2] == "versions":
        return f"{parts[1]} v{parts[3]}"
    return name


def _result_with_unit(result: str, unit: str) -> str:
    # UCUM's "1" is the unit of a dimensionless number: printed, it would read as a digit.
    return result if unit in ("", "1") else f"{result} {unit}"


def _utc(stamp: timestamp_pb2.Timestamp) -> str:
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _meaning(signature: signature_pb2.Signature) -> str:
    if signature.meaning not in MEANING_FROM_PROTO:
        raise ValueError(f"a signature by {signature.signer!r} has no meaning")
    return MEANING_FROM_PROTO[signature.meaning].value.replace("_", " ")


def _story(certificate: disposition_pb2.Certificate, site_name: str) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(_text(TITLE), _TITLE), _header(certificate, site_name)]
    story += [Paragraph("Results", _HEADING), _results(certificate)]
    story += [Paragraph("Signatures of the results", _HEADING), _result_signatures(certificate)]
    story += [Paragraph("Approval of the certificate", _HEADING), *_approval(certificate.signature)]
    return story


def _header(certificate: disposition_pb2.Certificate, site_name: str) -> Table:
    specifications = ", ".join(_specification_version(s) for s in certificate.specifications)
    rows = [
        ("Product", certificate.product),
        ("Batch", _batch_id(certificate.batch)),
        ("Sample", _sample_id(certificate.sample)),
        ("Issuing site", site_name),
        ("Specifications", specifications),
        ("Issued", _utc(certificate.issue_time)),
    ]
    return Table(
        [[_cell(label, _HEAD), _cell(value)] for label, value in rows],
        colWidths=(32 * mm, _WIDTH - 32 * mm), hAlign="LEFT",
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
    )


def _results(certificate: disposition_pb2.Certificate) -> Table:
    rows = [[_cell(title, _HEAD) for title in _RESULT_COLUMNS]]
    for line in certificate.lines:
        rows.append([
            _cell(line.test_id), _cell(line.attribute), _cell(line.method_id),
            _cell(line.criterion_text), _cell(_result_with_unit(line.result, line.unit)),
            _cell(line.verdict, _HEAD if line.verdict != "PASS" else _CELL),
        ])
    return Table(rows, colWidths=_RESULT_WIDTHS, repeatRows=1, style=_GRID, hAlign="LEFT")


def _result_signatures(certificate: disposition_pb2.Certificate) -> Flowable:
    rows = [[_cell(title, _HEAD) for title in _SIGNATURE_COLUMNS]]
    for line in certificate.lines:
        for signature in line.signatures:
            rows.append([
                _cell(line.test_id), _cell(f"{signature.printed_name} ({signature.signer})"),
                _cell(_meaning(signature)), _cell(_utc(signature.sign_time)),
                _cell(signature.role),
            ])
    if len(rows) == 1:
        return Paragraph(_text("No result carries a signature."), _BODY)
    return Table(rows, colWidths=_SIGNATURE_WIDTHS, repeatRows=1, style=_GRID, hAlign="LEFT")


def _approval(signature: signature_pb2.Signature) -> list[Flowable]:
    rows = [
        ("Signed by", f"{signature.printed_name} ({signature.signer})"),
        ("Meaning", _meaning(signature)),
        ("Time", _utc(signature.sign_time)),
    ]
    if signature.role:
        rows.append(("Role", signature.role))
    if signature.reason:
        rows.append(("Reason", signature.reason))
    table = Table(
        [[_cell(label, _HEAD), _cell(value)] for label, value in rows],
        colWidths=(32 * mm, _WIDTH - 32 * mm), hAlign="LEFT",
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
    )
    return [table, Spacer(0, 4 * mm), Paragraph(_text(manifestation(signature)), _BODY)]


def _cell(text: str, style: ParagraphStyle = _CELL) -> Paragraph:
    return Paragraph(_text(text), style)


def _text(text: str) -> str:
    """``text`` as Paragraph markup, refused if the font cannot show one of its characters."""
    missing = sorted({c for c in text if ord(c) not in _GLYPHS and not c.isspace()})
    if missing:
        shown = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing)
        raise UnprintableText(f"the certificate's font cannot print {shown} (in {text!r})")
    return escape(text)


class _NumberedCanvas(Canvas):
    """Reportlab's NumberedCanvas recipe: pages are kept until the end, so that every footer can
    say how many there are."""

    def __init__(self, *args: Any, footer: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # the recipe's call; not in the stubs

    def save(self) -> None:
        count = len(self._pages)
        for number, page in enumerate(list(self._pages), start=1):
            self.__dict__.update(page)
            self.setFont(FONT, 8)
            self.drawCentredString(A4[0] / 2, 12 * mm, f"{self._footer} · page {number} of {count}")
            super().showPage()
        super().save()
