"""Certificates: domain → protobuf."""

from __future__ import annotations

from twinline.releasetesting.v1 import disposition_pb2 as pb

from services.common.grpc.translate import signature_to_proto, timestamp
from services.release_testing.certificates.domain import Certificate


def certificate_to_proto(certificate: Certificate, pdf_sha256: str = "") -> pb.Certificate:
    return pb.Certificate(
        name=certificate.name, sample=f"samples/{certificate.sample_id}",
        batch=f"batches/{certificate.batch_id}", product=certificate.product,
        specifications=list(certificate.specifications),
        lines=[pb.CertificateLine(
            test_id=line.test_id, attribute=line.attribute, method_id=line.method_id,
            specification=line.specification, criterion_text=line.criterion_text,
            result=line.result, unit=line.unit, verdict=line.verdict,
            signatures=[signature_to_proto(s) for s in line.signatures],
        ) for line in certificate.lines],
        signature=signature_to_proto(certificate.signature),
        issue_time=timestamp(certificate.issued_at), pdf_sha256=pdf_sha256,
        home_site=certificate.home_site,
    )
