"""Certificates of analysis and dispositions end to end at one site: the CoA only for a
complete sample, its PDF parsed back; a release refused with every unmet condition, then
decided once the batch record, the results and the investigations allow it."""

from __future__ import annotations

import io

import grpc
import pytest
from pypdf import PdfReader
from twinline.releasetesting.v1 import disposition_pb2 as dpb
from twinline.releasetesting.v1 import release_testing_service_pb2 as api
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub

from services.client.session import Session
from services.common.grpc.status import details_of
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING
from tests.support import batches, samples
from tests.support import specifications as specs
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, RELEASE_TESTING.name])
SITE = "syracuse"


def in_pdf(expected: str, text: str) -> bool:
    """Whether ``expected`` is in the PDF's text as printed: a table cell may wrap a word at
    its hyphen or a phrase at a space, so the line breaks are read both ways."""
    spaced, joined = " ".join(text.split()), "".join(text.split())
    return expected in spaced or "".join(expected.split()) in joined


def dispositions(session: Session) -> DispositionServiceStub:
    return session.stub(DispositionServiceStub)


async def refusal(call: object, code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
                  ) -> dict[str, object]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    assert refused.value.code() == code, refused.value.details()
    return details_of(refused.value)


def issue(qa: Session, sample_name: str) -> object:
    return dispositions(qa).IssueCertificate(api.IssueCertificateRequest(
        request_id=request_id(), sample=sample_name, signature=sign("qa")), metadata=qa.metadata)


def dispose(qa: Session, batch_name: str, decision: int, reason: str = "") -> object:
    return dispositions(qa).DisposeBatch(api.DisposeBatchRequest(
        request_id=request_id(), batch=batch_name, decision=decision,  # type: ignore[arg-type]
        signature=sign("qa", reason)), metadata=qa.metadata)


async def test_a_certificate_of_a_complete_sample_lists_every_test_result_and_signature(
    stack: Stack,
) -> None:
    await specs.effective(stack, SITE, specs.release_specification())
    sample = await samples.create_sample(stack, SITE, await samples.batch_at(stack, SITE))
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    refused = await refusal(issue(qa, sample.name))
    assert refused["reason"] == "CERTIFICATE_CONDITIONS_UNMET"
    assert [kind for kind, _ in refused["preconditions"]] == ["RESULT_MISSING"] * 4  # type: ignore[attr-defined]

    sample = await samples.all_passed_and_reviewed(stack, SITE, sample)
    certificate = (await issue(qa, sample.name)).certificate  # type: ignore[attr-defined]
    assert [(line.test_id, line.result, line.verdict) for line in certificate.lines] == [
        ("DAR", "4.0", "PASS"), ("SEC-MONOMER", "98.7", "PASS"), ("FREE-DL", "< LOQ", "PASS"),
        ("APPEARANCE", "conforms", "PASS")]
    got = await dispositions(qa).GetCertificate(
        api.GetCertificateRequest(name=certificate.name), metadata=qa.metadata)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(got.pdf)).pages)
    for expected in ("DAR", "SEC-MONOMER", "FREE-DL", "APPEARANCE", "4.0", "98.7 %", "< LOQ",
                     "conforms", "Tomás Herrera", "Aisha Rahman", "executed", "reviewed",
                     "Signed electronically by Priya Raman", "(syracuse.qa), meaning: approved",
                     sample.name.removeprefix("samples/"), specs.PRODUCT):
        assert in_pdf(expected, text), (expected, text)
    assert len(got.certificate.pdf_sha256) == 64
    assert (await refusal(issue(qa, sample.name)))["reason"] == "CERTIFICATE_EXISTS"


async def test_a_release_is_refused_listing_each_unmet_condition_then_decided(
    stack: Stack,
) -> None:
    release = await specs.effective(stack, SITE, specs.release_specification())
    batch = await samples.batch_at(stack, SITE)
    sample = await samples.create_sample(stack, SITE, batch)
    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    refused = await refusal(dispose(qa, batch.name, dpb.DISPOSITION_DECISION_RELEASED))
    assert refused["reason"] == "RELEASE_CONDITIONS_UNMET"
    assert refused["preconditions"] == [
        ("BATCH_RECORD_NOT_APPROVED", batch.name),
        *[("RESULT_MISSING", f"{release.name} {test.test_id}") for test in release.tests],
    ]
    # A hold or a rejection says why.
    hold = await refusal(dispose(qa, batch.name, dpb.DISPOSITION_DECISION_ON_HOLD),
                         grpc.StatusCode.INVALID_ARGUMENT)
    assert hold["fields"] == ["signature.reason"]

    await batches.approved(stack, SITE, batch)
    await samples.all_passed_and_reviewed(stack, SITE, sample)

    async def released() -> dpb.Disposition | None:
        try:
            answer = await dispose(qa, batch.name, dpb.DISPOSITION_DECISION_RELEASED)
        except grpc.aio.AioRpcError as error:
            # The approval reaches release testing by its event: wait for that alone.
            if ("BATCH_RECORD_NOT_APPROVED", batch.name) in details_of(error)["preconditions"]:  # type: ignore[operator]
                return None
            raise
        return answer.disposition  # type: ignore[attr-defined, no-any-return]

    decided = await wait_until(released, samples.PROJECTION_DEADLINE_S, interval=0.2)
    assert (decided.decision, decided.signature.signer, len(decided.results)) == (
        dpb.DISPOSITION_DECISION_RELEASED, "syracuse.qa", 4)
    final = await refusal(dispose(qa, batch.name, dpb.DISPOSITION_DECISION_REJECTED, "late"))
    assert final["reason"] == "DISPOSITION_FINAL"
