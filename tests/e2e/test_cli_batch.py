"""``twinline batch`` against real services: a batch recorded and verified step by step from
the terminal (a wrong unit and an out-of-range number refused field by field, an out-of-limit
value shown with the exception it raised), shown whole, approved by QA once every condition
is met — before, each unmet condition listed — and both sites' batches listed from the site
view, filtered."""

from __future__ import annotations

import os

from twinline.batchrecords.v1 import batch_pb2 as pb
from twinline.batchrecords.v1 import batch_service_pb2 as api

from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW
from tests.support import batches
from tests.support.batches import effective_master, q, stub
from tests.support.mbr import request_id, sign
from tests.support.stack import Stack, stack_fixture
from tests.support.twinline_cli import printed_json, twinline
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name])

# The temperature without its unit: the recipe's (Cel) is sent.
S1_VALUES = ("--value", "temperature=25", "--value", "TCEP=3.4 mol/mol",
             "--material", "TCEP-0.5M@L-TCEP-0113=1.2L", "--equipment", "R-201")


async def test_a_batch_recorded_verified_shown_and_approved_from_the_terminal(
    stack: Stack,
) -> None:
    master = await effective_master(stack)
    batch = await batches.create_batch(await stack.login("syracuse", "mes"), master)

    wrong_unit = await twinline(stack, "operator", "batch", "record-step", batch.batch_id,
                                "S1", "--value", "temperature=298K", "--value", "TCEP=2.5mol/mol",
                                signs=1)
    assert wrong_unit.exit_code == 1, wrong_unit.output
    assert "INVALID_ARGUMENT" in wrong_unit.output
    assert ("step.parameter_values[0].value.unit: temperature is recorded in 'Cel', not 'K'"
            in wrong_unit.output)
    out_of_range = await twinline(stack, "operator", "batch", "record-step", batch.batch_id,
                                  "S1", "--value", "temperature=25Cel", "--value",
                                  "TCEP=1e999mol/mol", signs=1)
    assert out_of_range.exit_code == 1, out_of_range.output
    assert "step.parameter_values[1].value.value: is outside" in out_of_range.output

    recorded = await twinline(stack, "operator", "batch", "record-step", batch.batch_id, "S1",
                              *S1_VALUES, "--comment", "hold started 08:10", signs=1)
    assert recorded.exit_code == 0, recorded.output
    assert f"✓ {batch.batch_id} step S1 recorded: EXECUTED by Jin-woo Park" in recorded.output
    assert "• temperature = 25 Cel" in recorded.output
    assert "• TCEP = 3.4 mol/mol" in recorded.output
    assert "⚠ raised EX-1 OUT_OF_LIMITS MINOR · step S1 · TCEP 3.4 mol/mol outside" in (
        recorded.output)

    own = await twinline(stack, "operator", "batch", "verify", batch.batch_id, "S1", signs=1)
    assert own.exit_code == 1, own.output  # four eyes: never the executor
    assert "VERIFIER_IS_EXECUTOR" in own.output
    verified = await twinline(stack, "verifier", "batch", "verify", batch.batch_id, "S1",
                              "--reason", "TCEP volume checked", "--output", "json", signs=1)
    assert verified.exit_code == 0, verified.output
    step = printed_json(verified)["step"]
    assert step["status"] == "STEP_STATUS_COMPLETE"
    assert step["verified"]["signer"] == "syracuse.verifier"

    # Automation: the signing password from a file descriptor, the answer as JSON.
    reading, writing = os.pipe()
    os.write(writing, f"{demo_password('operator')}\n".encode())
    os.close(writing)
    try:
        added = await twinline(stack, "operator", "batch", "record-step", batch.batch_id, "S2",
                               "--material", "DL-MC-vc-PAB-MMAE@L-DL-0042=310g",
                               "--password-fd", str(reading), "--output", "json")
    finally:
        os.close(reading)
    assert added.exit_code == 0, added.output
    assert "Re-enter your password" not in added.output
    answer = printed_json(added)
    assert answer["step"]["materials"][0]["lot_id"] == "L-DL-0042"
    assert answer["step"]["executed"]["meaning"] == "SIGNATURE_MEANING_EXECUTED"
    assert answer["raised"] == []

    operator = await stack.login("syracuse", "operator")
    await stub(operator).CorrectParameterValue(api.CorrectParameterValueRequest(
        request_id=request_id(), batch=batch.name, step_id="S1", parameter="TCEP",
        corrected_value=q("2.9", "mol/mol"), signature=sign("operator", "transcription error")),
        metadata=operator.metadata)
    reviewer = await stack.login("syracuse", "reviewer")
    await stub(reviewer).RaiseDeviation(api.RaiseDeviationRequest(
        request_id=request_id(), batch=batch.name, classification=pb.SEVERITY_MINOR,
        title="TCEP over-charge", description="3.4 eq charged", exception_ids=["EX-1"]),
        metadata=reviewer.metadata)

    early = await twinline(stack, "qa", "batch", "approve", batch.batch_id, signs=1)
    assert early.exit_code == 1, early.output
    for unmet in ("BATCH_NOT_READY_FOR_APPROVAL",
                  f"• {batch.name}: is in_progress (BATCH_NOT_IN_REVIEW)",
                  "• EX-1: minor: TCEP 3.4 mol/mol outside 2.0..3.0 mol/mol "
                  "(EXCEPTION_NOT_DISPOSITIONED)",
                  "• DEV-1: minor: TCEP over-charge (DEVIATION_OPEN)"):
        assert unmet in early.output, unmet

    shown = await twinline(stack, "qa", "batch", "show", batch.batch_id)
    assert shown.exit_code == 0, shown.output
    for expected in (
        f"{batch.batch_id} TWX-101 conjugation — IN_PROGRESS",
        "UP1/OP1/S1 Add TCEP: COMPLETE (needs a verifier)",
        "• temperature = 25 Cel (target 25 Cel, limits 20..30 Cel)",
        "• TCEP = 2.9 mol/mol (target 2.5 mol/mol, limits 2.0..3.0 mol/mol)",
        "corrected 3.4 mol/mol → 2.9 mol/mol: AUTHORED by Jin-woo Park",
        "UTC: transcription error",
        "• added TCEP-0.5M lot L-TCEP-0113: 1.2 L", "• equipment R-201 (CLEAN)",
        "comment: hold started 08:10",
        "EXECUTED by Jin-woo Park (Syracuse operator) (syracuse.operator, operator) at ",
        "VERIFIED by Elena Novak", "UTC: TCEP volume checked",
        "UP1/OP2/S2 Add drug-linker: COMPLETE", "• added DL-MC-vc-PAB-MMAE lot L-DL-0042: 310 g",
        "Exceptions (1)", "EX-1 OUT_OF_LIMITS MINOR", "      open",
        "DEV-1 OPEN · MINOR · TCEP over-charge · from EX-1 · raised by "
        "syracuse.reviewer",
    ):
        assert expected in shown.output, expected

    await batches.complete_and_submit(reviewer, batch)
    qa = await stack.login("syracuse", "qa")
    await stub(qa).DispositionException(api.DispositionExceptionRequest(
        request_id=request_id(), batch=batch.name, exception_id="EX-1",
        signature=sign("qa", "corrected; within limits")), metadata=qa.metadata)
    await stub(reviewer).UpdateDeviation(api.UpdateDeviationRequest(
        request_id=request_id(), batch=batch.name, deviation_id="DEV-1",
        investigation="misread graduation", capa_reference="CAPA-2026-017"),
        metadata=reviewer.metadata)
    await stub(qa).CloseDeviation(api.CloseDeviationRequest(
        request_id=request_id(), batch=batch.name, deviation_id="DEV-1",
        signature=sign("qa", "investigated")), metadata=qa.metadata)

    approved = await twinline(stack, "qa", "batch", "approve", batch.batch_id, "--reason",
                              "released to QC", signs=1)
    assert approved.exit_code == 0, approved.output
    assert "BATCH_STATE_APPROVED: signed by Priya Raman" in approved.output

    shown = await twinline(stack, "qa", "batch", "show", batch.name)
    for expected in ("— APPROVED", "dispositioned: REVIEWED by Priya Raman",
                     "closed: APPROVED by Priya Raman", "CAPA: CAPA-2026-017",
                     "APPROVED by Priya Raman (Syracuse qa) (syracuse.qa, qa) at "):
        assert expected in shown.output, expected


async def test_both_sites_batches_are_listed_and_filtered(stack: Stack) -> None:
    syracuse = await batches.create_batch(await stack.login("syracuse", "mes"),
                                          await effective_master(stack))
    songdo = await batches.create_batch(await stack.login("songdo", "mes"),
                                        await effective_master(stack, "songdo"))
    await batches.approved(stack, "songdo", songdo)

    async def both() -> dict[str, object] | None:
        listed = await twinline(stack, "qa", "batch", "list", "--output", "json",
                                service=SITE_VIEW.name)
        assert listed.exit_code == 0, listed.output
        found = printed_json(listed)
        states = {row["batch_id"]: row["state"] for row in found["batches"]}
        return found if states.get(songdo.batch_id) == "BATCH_STATE_APPROVED" and (
            syracuse.batch_id in states) else None

    found = await wait_until(both, 60, interval=0.3, message="both sites' batches in the view")
    assert {row["home_site"] for row in found["batches"]} == {  # type: ignore[index]
        "syracuse", "songdo"}

    approved = await twinline(stack, "qa", "batch", "list", "--state", "approved", "--output",
                              "json", service=SITE_VIEW.name)
    assert [row["batch_id"] for row in printed_json(approved)["batches"]] == [songdo.batch_id]
    of_syracuse = await twinline(stack, "qa", "batch", "list", "--site-of-origin", "syracuse",
                                 service=SITE_VIEW.name)
    assert of_syracuse.exit_code == 0, of_syracuse.output
    assert syracuse.batch_id in of_syracuse.output
    assert songdo.batch_id not in of_syracuse.output
    # CliRunner's terminal is 80 columns: every cell whole, ids and the record's version.
    assert "…" not in of_syracuse.output
    assert max(map(len, of_syracuse.output.splitlines())) <= 80
    assert f"{syracuse.master_batch_record.split('/')[1]}@1" in of_syracuse.output
    assert "0/2" in of_syracuse.output

    other_site = await twinline(stack, "qa", "batch", "show", songdo.batch_id, "--view",
                                service=SITE_VIEW.name)
    assert other_site.exit_code == 0, other_site.output
    assert "— APPROVED" in other_site.output


async def test_bad_arguments_and_unknown_batches(stack: Stack) -> None:
    unknown = await twinline(stack, "qa", "batch", "show", "SYR-B-2026-99999")
    assert unknown.exit_code == 1, unknown.output
    assert "NOT_FOUND" in unknown.output
    elsewhere = await twinline(stack, "qa", "batch", "show", "SDO-B-2026-00001")
    assert elsewhere.exit_code == 2, elsewhere.output
    assert "is songdo's" in elsewhere.output and "--view" in elsewhere.output

    for bad in (
        ("batch", "record-step", "SYR-B-2026-00001", "S1", "--value", "temperature"),
        ("batch", "record-step", "SYR-B-2026-00001", "S1", "--value", "temperature=warm"),
        ("batch", "record-step", "SYR-B-2026-00001", "S1", "--material", "TCEP"),
        ("batch", "record-step", "SYR-B-2026-00001"),
        ("batch", "verify", "SYR-B-2026-00001"),
        ("batch", "list", "--state", "finished"),
        ("batch", "show", "SYR-B-2026-00001", "--output", "yaml"),
    ):
        result = await twinline(stack, "operator", *bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "Password" not in result.output  # nothing asked, nothing sent
