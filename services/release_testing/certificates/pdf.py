"""A certificate of analysis rendered to PDF (the kernel's documents: A4, Vera, numbered
pages). The same certificate always renders to the same bytes, so the SHA-256 stored with it
can be checked."""

from __future__ import annotations

import hashlib

from google.protobuf import timestamp_pb2
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import disposition_pb2

from services.common.documents.pdf import (
    HEAD,
    HEADING,
    TITLE,
    Printer,
    manifestation,
    meaning_text,
    render,
    signer_text,
    utc_text,
    with_unit,
)
from services.common.domain.signatures import SignatureRecord
from services.common.grpc.translate import MEANING_FROM_PROTO, signature_from_proto

TITLE_TEXT = "Certificate of Analysis"

_RESULT_COLUMNS = ("Test", "Attribute", "Method", "Acceptance criterion", "Result", "Verdict")
_RESULT_WIDTHS = tuple(w * mm for w in (20, 38, 24, 44, 30, 18))
_SIGNATURE_COLUMNS = ("Test", "Signed by", "Meaning", "Time (UTC)", "Role")
_SIGNATURE_WIDTHS = tuple(w * mm for w in (20, 54, 22, 44, 34))
_PRINT = Printer("the certificate")


def render_certificate(certificate: disposition_pb2.Certificate, *, site_name: str) -> bytes:
    """The certificate as PDF bytes; ``site_name`` is the issuing site as printed."""
    if not certificate.HasField("signature"):
        raise ValueError(f"{certificate.name or 'a certificate'} is not signed: nothing to render")
    batch, sample = _batch_id(certificate.batch), _sample_id(certificate.sample)
    return render(
        _story(certificate, site_name), footer=f"{TITLE_TEXT} · {batch} · {sample}",
        title=f"{TITLE_TEXT} {batch} {sample}", author=site_name, subject=certificate.name,
        document=_PRINT.document,
    ).pdf


def certificate_sha256(pdf: bytes) -> str:
    """The hex SHA-256 of a certificate's PDF, as stored with the certificate."""
    return hashlib.sha256(pdf).hexdigest()


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


def _utc(stamp: timestamp_pb2.Timestamp) -> str:
    return utc_text(stamp.ToDatetime())


def _signature(signature: signature_pb2.Signature) -> SignatureRecord:
    if signature.meaning not in MEANING_FROM_PROTO:
        raise ValueError(f"a signature by {signature.signer!r} has no meaning")
    return signature_from_proto(signature)


def _story(certificate: disposition_pb2.Certificate, site_name: str) -> list[Flowable]:
    story: list[Flowable] = [_PRINT.paragraph(TITLE_TEXT, TITLE), _header(certificate, site_name)]
    story += [_PRINT.paragraph("Results", HEADING), _results(certificate)]
    story += [_PRINT.paragraph("Signatures of the results", HEADING),
              _result_signatures(certificate)]
    story += [_PRINT.paragraph("Approval of the certificate", HEADING),
              *_approval(_signature(certificate.signature))]
    return story


def _header(certificate: disposition_pb2.Certificate, site_name: str) -> Flowable:
    specifications = ", ".join(_specification_version(s) for s in certificate.specifications)
    return _PRINT.fields([
        ("Product", certificate.product),
        ("Batch", _batch_id(certificate.batch)),
        ("Sample", _sample_id(certificate.sample)),
        ("Issuing site", site_name),
        ("Specifications", specifications),
        ("Issued", _utc(certificate.issue_time)),
    ])


def _results(certificate: disposition_pb2.Certificate) -> Flowable:
    rows = [
        [
            line.test_id, line.attribute, line.method_id, line.criterion_text,
            with_unit(line.result, line.unit),
            _PRINT.cell(line.verdict, HEAD) if line.verdict != "PASS" else line.verdict,
        ]
        for line in certificate.lines
    ]
    return _PRINT.grid(_RESULT_COLUMNS, rows, _RESULT_WIDTHS)


def _result_signatures(certificate: disposition_pb2.Certificate) -> Flowable:
    rows = []
    for line in certificate.lines:
        for signature in map(_signature, line.signatures):
            rows.append([
                line.test_id, signer_text(signature), meaning_text(signature),
                utc_text(signature.sign_time), signature.role,
            ])
    if not rows:
        return _PRINT.paragraph("No result carries a signature.")
    return _PRINT.grid(_SIGNATURE_COLUMNS, rows, _SIGNATURE_WIDTHS)


def _approval(signature: SignatureRecord) -> list[Flowable]:
    rows = [
        ("Signed by", signer_text(signature)),
        ("Meaning", meaning_text(signature)),
        ("Time", utc_text(signature.sign_time)),
    ]
    if signature.role:
        rows.append(("Role", signature.role))
    if signature.reason:
        rows.append(("Reason", signature.reason))
    return [_PRINT.fields(rows), Spacer(0, 4 * mm), _PRINT.paragraph(manifestation(signature))]
