"""What every PDF record is made of (reportlab's platypus, A4): the embedded font and the text
it can print, the styles, a header and a "page n of m" footer on every page, and a signature
as 21 CFR 11.50 asks it shown. A document built here renders to the same bytes every time."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from services.common.domain.signatures import SignatureRecord

# Bitstream Vera ships inside reportlab itself: a fresh clone needs no system font, and every
# machine embeds the very same font file (so the same bytes). It covers Latin-1, a few more
# Latin letters and the signs a specification uses (≤ ≥ ± µ ° and the en dash), but not Greek,
# Cyrillic or letters such as "ř" and "ń": text it cannot show is refused (see printable)
# rather than printed as empty boxes on a GMP record.
_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
FONT, FONT_BOLD = "Twinline-Vera", "Twinline-Vera-Bold"
_FACES = (
    TTFont(FONT, str(_FONT_DIR / "Vera.ttf")), TTFont(FONT_BOLD, str(_FONT_DIR / "VeraBd.ttf")),
)
for _font in _FACES:
    pdfmetrics.registerFont(_font)
pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
_GLYPHS = frozenset.intersection(*(frozenset(face.face.charToGlyph) for face in _FACES))

PAGE = A4
MARGIN = 18 * mm
BOTTOM_MARGIN = 22 * mm
WIDTH = A4[0] - 2 * MARGIN  # of the text between the margins
FOOTER_Y = 12 * mm
HEADER_Y = A4[1] - 11 * mm

BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=11.5)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8.5, leading=10.5)
HEAD = ParagraphStyle("head", parent=CELL, fontName=FONT_BOLD)
HEADING = ParagraphStyle(
    "heading", parent=BODY, fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=10,
    spaceAfter=4,
)
SUBHEADING = ParagraphStyle(
    "subheading", parent=BODY, fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceBefore=6,
    spaceAfter=2,
)
TITLE = ParagraphStyle(
    "title", parent=BODY, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=8
)
GRID = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 4),
    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
])
_FIELDS = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]
_LABEL_WIDTH = 32 * mm


class UnprintableText(ValueError):
    """Text with characters the documents' font has no glyph for (it says which)."""


def printable(text: str, document: str = "the document") -> str:
    """``text`` as Paragraph markup, refused if the font cannot show one of its characters;
    ``document`` names what was being printed, for the refusal."""
    missing = sorted({c for c in text if ord(c) not in _GLYPHS and not c.isspace()})
    if missing:
        shown = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing)
        raise UnprintableText(f"{document}'s font cannot print {shown} (in {text!r})")
    return escape(text)


class Printer:
    """Paragraphs and tables of one document, each text checked as ``printable``."""

    def __init__(self, document: str) -> None:
        self.document = document

    def text(self, text: str) -> str:
        return printable(text, self.document)

    def paragraph(self, text: str, style: ParagraphStyle = BODY) -> Paragraph:
        return Paragraph(self.text(text), style)

    def cell(self, text: str, style: ParagraphStyle = CELL) -> Paragraph:
        return Paragraph(self.text(text), style)

    def fields(self, rows: Sequence[tuple[str, str]], label_width: float = _LABEL_WIDTH) -> Table:
        """Label and value pairs, one a line, the labels bold."""
        return Table(
            [[self.cell(label, HEAD), self.cell(value)] for label, value in rows],
            colWidths=(label_width, WIDTH - label_width), hAlign="LEFT", style=_FIELDS,
        )

    def grid(
        self, columns: Sequence[str], rows: Sequence[Sequence[str | Paragraph]],
        widths: Sequence[float],
    ) -> Table:
        """A ruled table with a bold header row repeated on every page it continues onto."""
        body = [[self.cell(title, HEAD) for title in columns]]
        body += [[v if isinstance(v, Paragraph) else self.cell(v) for v in row] for row in rows]
        return Table(body, colWidths=tuple(widths), repeatRows=1, style=GRID, hAlign="LEFT")


@dataclass(frozen=True)
class Rendered:
    """A document as PDF bytes, and how many pages it has."""

    pdf: bytes
    pages: int


def render(
    story: list[Flowable], *, footer: str, header: str = "", title: str, author: str,
    subject: str, document: str = "the document",
) -> Rendered:
    """``story`` as a PDF, ``footer`` (and ``header``, if any) on every page, the footer
    ending "page n of m"."""
    # Drawn straight on the canvas, not through a Paragraph: checked here.
    printable(footer, document)
    printable(header, document)
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=BOTTOM_MARGIN, invariant=1, title=title, author=author, creator="Twinline",
        subject=subject,
    )
    pages: list[int] = []
    template.build(
        story, canvasmaker=partial(_NumberedCanvas, footer=footer, header=header, counted=pages)
    )
    return Rendered(buffer.getvalue(), pages[-1])


def with_unit(value: str, unit: str) -> str:
    """A value and its UCUM unit as printed: "7.5 mg/mL"; a dimensionless one alone."""
    # UCUM's "1" is the unit of a dimensionless number: printed, it would read as a digit.
    return value if unit in ("", "1") else f"{value} {unit}"


def utc_text(moment: datetime) -> str:
    """A moment as printed on a record: "2026-12-03 06:30:00 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def meaning_text(signature: SignatureRecord) -> str:
    """A signature's meaning as printed, e.g. "made effective"."""
    return signature.meaning.value.replace("_", " ")


def signer_text(signature: SignatureRecord) -> str:
    """Who signed as printed: "Ana Kim (akim)"."""
    return f"{signature.printed_name} ({signature.signer})"


def manifestation(signature: SignatureRecord) -> str:
    """The signature as 21 CFR 11.50 asks it shown: printed name, meaning, date and time."""
    return (
        f"Signed electronically by {signer_text(signature)}, "
        f"meaning: {meaning_text(signature)}, {utc_text(signature.sign_time)}"
    )


class _NumberedCanvas(Canvas):
    """Reportlab's NumberedCanvas recipe: pages are kept until the end, so that every footer can
    say how many there are."""

    def __init__(
        self, *args: Any, footer: str, header: str, counted: list[int], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._header = header
        self._counted = counted
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # the recipe's call; not in the stubs

    def save(self) -> None:
        count = len(self._pages)
        self._counted.append(count)
        for number, page in enumerate(list(self._pages), start=1):
            self.__dict__.update(page)
            self.setFont(FONT, 8)
            if self._header:
                self.drawString(MARGIN, HEADER_Y, self._header)
            self.drawCentredString(
                PAGE[0] / 2, FOOTER_Y, f"{self._footer} · page {number} of {count}"
            )
            super().showPage()
        super().save()
