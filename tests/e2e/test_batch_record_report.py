"""The printable records end to end: the executed batch record as PDF over RPC and through
``twinline report batch``, the certificate of analysis through ``twinline report coa``, each
parsed back with pypdf; refusals said plainly, an existing file never overwritten unasked."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from pypdf import PdfReader
from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api
from twinline.common.v1 import signature_pb2
from twinline.releasetesting.v1 import release_testing_service_pb2 as release_api
from twinline.releasetesting.v1.release_testing_service_pb2_grpc import DispositionServiceStub
from typer.testing import CliRunner, Result

from services.cli.app import app
from services.common.grpc.translate import MEANING_FROM_PROTO
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, RELEASE_TESTING
from tests.support import batches, samples
from tests.support import specifications as specs
from tests.support.batches import effective_master, q, reduction, s2, stub
from tests.support.mbr import request_id, sign
from tests.support.nats_harness import NatsSites, free_port
from tests.support.stack import Stack, write_default_registry

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]
SITE = "syracuse"
QA_PASSWORD = demo_password("qa")
EN_DASH = " \u2013 "  # between the ends of a range, as printed


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One stack for the module (batch records and release testing at each site)."""
    base = tmp_path_factory.mktemp("reports")
    registry = write_default_registry(base / "sites.toml")
    running = Stack(base, registry, NatsSites(base / "nats", registry),
                    (BATCH_RECORDS.name, RELEASE_TESTING.name))
    try:
        await running.start()
        yield running
    finally:
        await running.close()


@dataclass
class Recorded:
    batch: pb.Batch
    deviation_id: str


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def recorded(stack: Stack) -> Recorded:
    """A batch with every part a record can have: a CPP excursion (an exception, proposed
    by the supervisor and dispositioned by QA), a verified step, a correction, a deviation
    investigated and closed, the record completed, submitted and approved."""
    master = await effective_master(stack, SITE)
    operator = await stack.login(SITE, "operator")
    supervisor = await stack.login(SITE, "reviewer")
    qa = await stack.login(SITE, "qa")
    batch = await batches.create_batch(await stack.login(SITE, "mes"), master)
    [raised] = (await batches.record(operator, batch, reduction("36", "2.5"))).raised
    for session, job, reason in (
        (supervisor, "reviewer", "probe drift confirmed; product unaffected"),
        (qa, "qa", "agreed: probe drift; product unaffected"),
    ):
        await stub(session).DispositionException(api.DispositionExceptionRequest(
            request_id=request_id(), batch=batch.name, exception_id=raised.id,
            signature=sign(job, reason)), metadata=session.metadata)
    await batches.verify(await stack.login(SITE, "verifier"), batch, "S1")
    await stub(operator).CorrectParameterValue(api.CorrectParameterValueRequest(
        request_id=request_id(), batch=batch.name, step_id="S1", parameter="TCEP",
        corrected_value=q("2.4", "mol/mol"), signature=sign("operator", "transcription error"),
    ), metadata=operator.metadata)
    deviation = (await stub(supervisor).RaiseDeviation(api.RaiseDeviationRequest(
        request_id=request_id(), batch=batch.name, classification=pb.SEVERITY_MINOR,
        title="Temperature probe drift in R-201", description="36 Cel read against 25 Cel",
        exception_ids=[raised.id]), metadata=supervisor.metadata)).deviation
    await stub(supervisor).UpdateDeviation(api.UpdateDeviationRequest(
        request_id=request_id(), batch=batch.name, deviation_id=deviation.id,
        investigation="probe recalibrated; trend reviewed", capa_reference="CAPA-2026-017",
    ), metadata=supervisor.metadata)
    await stub(qa).CloseDeviation(api.CloseDeviationRequest(
        request_id=request_id(), batch=batch.name, deviation_id=deviation.id,
        signature=sign("qa", "investigation complete")), metadata=qa.metadata)
    await batches.record(operator, batch, s2())
    await batches.complete_and_submit(supervisor, batch)
    return Recorded(await batches.approve(qa, batch), deviation.id)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def json_of(result: Result) -> dict[str, object]:
    """The JSON document a command printed: the whole of its stdout (prompts go to stderr)."""
    found: dict[str, object] = json.loads(result.stdout)
    return found


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Text with its line breaks as spaces: a wrapped paragraph reads as one run of words."""
    return " ".join(text.split())


def utc(stamp: Timestamp) -> str:
    return stamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")


def manifestation(signature: signature_pb2.Signature) -> str:
    meaning = MEANING_FROM_PROTO[signature.meaning].value.replace("_", " ")
    return (f"Signed electronically by {signature.printed_name} ({signature.signer}), "
            f"meaning: {meaning}, {utc(signature.sign_time)}")


def every_signature(batch: pb.Batch) -> list[signature_pb2.Signature]:
    found: list[signature_pb2.Signature] = []
    for step in batch.steps:
        found += [s for s in (step.executed, step.verified) if s.signer]
        found += [c.signature for value in step.parameter_values for c in value.corrections]
    for exception in batch.exceptions:
        found += [s for s in (exception.proposed_disposition, exception.disposition) if s.signer]
    found += [d.closure for d in batch.deviations if d.closure.signer]
    return [*found, *batch.signatures]


def assert_pages_numbered(pages: list[str], *marks: str) -> None:
    for number, text in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in text, text
        for mark in marks:
            assert mark in text, (number, mark)


async def twinline(stack: Stack, *args: str, service: str = BATCH_RECORDS.name,
                   typed: tuple[str, ...] = (QA_PASSWORD,), address: str = "") -> Result:
    """``twinline <args>`` as syracuse.qa against the stack, ``typed`` answering prompts."""
    command = [*args, "--site", SITE, "--user", f"{SITE}.qa",
               "--address", address or stack.address(SITE, service)]
    env = {"TWINLINE_SITES_FILE": str(stack.registry_file)}
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input="".join(f"{line}\n" for line in typed), env=env
    )


async def test_the_report_over_rpc_holds_every_step_signature_correction_and_status(
    stack: Stack, recorded: Recorded,
) -> None:
    batch = recorded.batch
    qa = await stack.login(SITE, "qa")
    answer = await stub(qa).GetBatchRecordReport(
        api.GetBatchRecordReportRequest(batch=batch.name), metadata=qa.metadata)
    assert answer.media_type == "application/pdf" and answer.pdf.startswith(b"%PDF-")
    assert answer.file_name == f"{batch.batch_id}-batch-record.pdf"
    pages = pages_of(answer.pdf)
    assert answer.page_count == len(pages) >= 2
    assert_pages_numbered(pages, batch.batch_id)
    text = flat(" ".join(pages))

    assert "Executed Batch Record" in text and "approved" in text
    assert batch.control_recipe.record_id in text and batch.control_recipe.product in text
    for step in batch.control_recipe.unit_procedures[0].operations:
        for definition in step.steps:
            assert f"{definition.id} · {definition.name}" in text
    # Each value with its unit and its limits, the critical one marked.
    assert "36 Cel" in text and f"20{EN_DASH}30 Cel" in text and "2.4 mol/mol" in text
    assert f"2.0{EN_DASH}3.0 mol/mol" in text and "L-TCEP-0113" in text and "R-201" in text

    signatures = every_signature(batch)
    assert len(signatures) >= 9
    for signature in signatures:
        assert manifestation(signature) in text, manifestation(signature)
    # The correction: the original value, the new one and why.
    [correction] = batch.steps[0].parameter_values[1].corrections
    assert correction.previous_value.value == "2.5"
    assert "S1 TCEP 2.5 mol/mol 2.4 mol/mol transcription error" in text

    [exception] = batch.exceptions
    assert exception.id in text and exception.description in text
    assert "reason: agreed: probe drift; product unaffected" in text
    assert recorded.deviation_id in text and "Temperature probe drift in R-201" in text
    assert "CAPA-2026-017" in text and "probe recalibrated; trend reviewed" in text
    assert "Audit trail" in text and "intact: every one of its" in text
    assert f"entries record changes of {batch.batch_id}" in text


async def test_twinline_report_batch_writes_the_pdf_and_never_overwrites_unasked(
    stack: Stack, recorded: Recorded, in_tmp: Path,
) -> None:
    batch = recorded.batch
    written = await twinline(stack, "report", "batch", batch.batch_id)
    assert written.exit_code == 0, written.output
    path = in_tmp / f"{batch.batch_id}-batch-record.pdf"
    assert f"wrote {path.name}" in written.output
    pages = pages_of(path.read_bytes())
    assert_pages_numbered(pages, batch.batch_id)
    text = flat(" ".join(pages))
    for signature in every_signature(batch):
        assert manifestation(signature) in text

    again = await twinline(stack, "report", "batch", batch.batch_id, "--output", "json")
    assert again.exit_code == 2, again.output
    assert "exists" in again.output and "--force" in again.output
    forced = await twinline(stack, "report", "batch", batch.name, "--out", "record.pdf",
                            "--output", "json")
    assert forced.exit_code == 0, forced.output
    document = json_of(forced)
    assert document == {"file": "record.pdf", "bytes": (in_tmp / "record.pdf").stat().st_size,
                        "pages": len(pages)}
    replaced = await twinline(stack, "report", "batch", batch.batch_id, "--out", "record.pdf",
                              "--force")
    assert replaced.exit_code == 0, replaced.output
    # No half-written file is left behind.
    assert await asyncio.to_thread(lambda: list(in_tmp.glob(".*.part"))) == []


async def test_an_unknown_batch_or_an_unprintable_record_is_refused_readably(
    stack: Stack, in_tmp: Path,
) -> None:
    unknown = await twinline(stack, "report", "batch", "SYR-B-2026-99999")
    assert unknown.exit_code == 1, unknown.output
    assert "NOT_FOUND" in unknown.output and "SYR-B-2026-99999" in unknown.output
    bad = await twinline(stack, "report", "batch", "not-a-batch")
    assert bad.exit_code == 1 and "must look like batches/" in bad.output
    nobody = await twinline(stack, "report", "batch", "SYR-B-2026-00001",
                            address=f"127.0.0.1:{free_port()}")
    assert nobody.exit_code == 4 and "does not answer" in nobody.output
    assert await asyncio.to_thread(lambda: list(in_tmp.iterdir())) == []

    master = await effective_master(stack, SITE)
    batch = await batches.create_batch(await stack.login(SITE, "mes"), master)
    greek = reduction("25", "2.5")
    greek.comment = "Δ mass within 5 ppm"  # the report's font has no Greek
    await batches.record(await stack.login(SITE, "operator"), batch, greek)
    unprintable = await twinline(stack, "report", "batch", batch.batch_id)
    assert unprintable.exit_code == 1, unprintable.output
    assert "BATCH_RECORD_UNPRINTABLE" in unprintable.output and "U+0394" in unprintable.output


async def test_twinline_report_coa_writes_the_certificate_as_issued(
    stack: Stack, in_tmp: Path,
) -> None:
    await specs.effective(stack, SITE, specs.release_specification())
    sample = await samples.create_sample(stack, SITE, await samples.batch_at(stack, SITE))
    sample = await samples.all_passed_and_reviewed(stack, SITE, sample)
    sample_id = sample.name.removeprefix("samples/")

    missing = await twinline(stack, "report", "coa", sample_id, service=RELEASE_TESTING.name)
    assert missing.exit_code == 1, missing.output
    assert "NOT_FOUND" in missing.output

    qa = await stack.login(SITE, "qa", RELEASE_TESTING.name)
    issued = await qa.stub(DispositionServiceStub).IssueCertificate(
        release_api.IssueCertificateRequest(
            request_id=request_id(), sample=sample.name, signature=sign("qa")),
        metadata=qa.metadata)
    certificate = issued.certificate

    written = await twinline(stack, "report", "coa", sample_id, "--output", "json",
                             service=RELEASE_TESTING.name)
    assert written.exit_code == 0, written.output
    document = json_of(written)
    path = in_tmp / f"{sample_id}-certificate-of-analysis.pdf"
    assert document["file"] == path.name and document["bytes"] == path.stat().st_size
    pages = pages_of(path.read_bytes())
    assert document["pages"] == len(pages)
    assert_pages_numbered(pages, sample_id)
    text = flat(" ".join(pages))
    assert specs.PRODUCT in text
    for line in certificate.lines:
        # A narrow cell may break an id at its hyphen: read it with the spaces taken out too.
        assert line.test_id in "".join(text.split()) and line.result in text
        for signature in line.signatures:
            assert f"{signature.printed_name} ({signature.signer})" in text
            assert utc(signature.sign_time) in text
    assert manifestation(certificate.signature) in text
