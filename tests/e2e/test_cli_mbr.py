"""``twinline mbr`` against real services: a version reviewed, approved and made effective
from the terminal by the right people (the wrong ones refused, each reason shown), shown with
its parameters and signatures, both sites' records listed from the site view with their
effectivity, and two versions compared by tech transfer's GetRecipeDiff."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)

from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, TECH_TRANSFER
from tests.support import mbr
from tests.support.stack import Stack, stack_fixture
from tests.support.twinline_cli import printed_json, twinline
from tests.support.waiting import wait_until

stack = stack_fixture(services=[BATCH_RECORDS.name, SITE_VIEW.name, TECH_TRANSFER.name])


async def submitted(stack: Stack) -> str:
    """A new record of Syracuse, submitted for review by its author: its id."""
    author = await stack.login("syracuse", "author")
    record = await mbr.create(author)
    await author.stub(MasterBatchRecordServiceStub).SubmitMasterBatchRecordForReview(
        api.SubmitMasterBatchRecordForReviewRequest(
            request_id=mbr.request_id(), name=record.name, etag=record.etag),
        metadata=author.metadata)
    return record.record_id


async def test_a_version_is_signed_by_the_right_people_and_shown_with_its_signatures(
    stack: Stack,
) -> None:
    record_id = await submitted(stack)
    version = f"{record_id}@1"

    early = await twinline(stack, "qa", "mbr", "approve", version, "--meaning", "approved",
                           signs=1)
    assert early.exit_code == 1, early.output
    assert "REVIEW_REQUIRED" in early.output
    assert "must be reviewed before approval" in early.output

    by_author = await twinline(stack, "author", "mbr", "approve", version, "--meaning",
                               "reviewed", signs=1)
    assert by_author.exit_code == 1, by_author.output

    reviewed = await twinline(stack, "reviewer", "mbr", "approve", version, "--meaning",
                              "reviewed", "--reason", "structure and limits checked", signs=1)
    assert reviewed.exit_code == 0, reviewed.output
    assert "REVIEWED by Marcus Okafor" in reviewed.output

    by_reviewer = await twinline(stack, "reviewer", "mbr", "approve", version, "--meaning",
                                 "approved", signs=1)
    assert by_reviewer.exit_code == 1, by_reviewer.output
    assert "PERMISSION_DENIED" in by_reviewer.output

    approved = await twinline(stack, "engineer-qa", "mbr", "approve", version, "--meaning",
                              "approved", "--reason", "approved for GMP use", signs=1)
    assert approved.exit_code == 0, approved.output
    assert ("is APPROVED: APPROVED by Hana Seo (Syracuse engineer-qa) (syracuse.engineer-qa, "
            "qa)") in approved.output

    effective = await twinline(stack, "qa", "mbr", "approve", record_id, "--meaning",
                               "made-effective", "--output", "json", signs=1)
    assert effective.exit_code == 0, effective.output
    signed = printed_json(effective)
    assert signed["state"] == "MASTER_BATCH_RECORD_STATE_EFFECTIVE"
    assert [s["meaning"] for s in signed["signatures"]] == [
        "SIGNATURE_MEANING_REVIEWED", "SIGNATURE_MEANING_APPROVED",
        "SIGNATURE_MEANING_MADE_EFFECTIVE"]

    shown = await twinline(stack, "operator", "mbr", "show", record_id)
    assert shown.exit_code == 0, shown.output
    for expected in (
        f"{record_id}@1 TWX-101 conjugation — EFFECTIVE",
        "S1 Add TCEP (PROCESS_PARAMETER, verified by a second person)",
        "• temperature (Cel): target 25 Cel · limits 20..30 Cel · alert — · critical",
        "• TCEP (mol/mol): target 2.5 mol/mol · limits 2.0..3.0 mol/mol",
        "REVIEWED by Marcus Okafor",
        "(syracuse.reviewer, supervisor) at ",
        "UTC: structure and limits checked",
        "APPROVED by Hana Seo", "MADE_EFFECTIVE by Priya Raman",
    ):
        assert expected in shown.output, expected


async def test_both_sites_records_are_listed_with_where_each_is_effective(stack: Stack) -> None:
    for site in ("syracuse", "songdo"):
        await mbr.take_to_effective(*[await stack.login(site, job)
                                      for job in ("author", "reviewer", "qa")])
    draft = await mbr.create(await stack.login("syracuse", "author"), product="TWX-202")

    async def both_listed() -> dict[str, object] | None:
        listed = await twinline(stack, "qa", "mbr", "list", "--output", "json",
                                service=SITE_VIEW.name)
        assert listed.exit_code == 0, listed.output
        found = printed_json(listed)
        return found if len(found["master_batch_records"]) == 3 else None

    found = await wait_until(both_listed, 60, interval=0.3, message="three records in the view")
    rows = {row["name"]: row for row in found["master_batch_records"]}  # type: ignore[index]
    effective = [row for row in rows.values() if row["state"].endswith("EFFECTIVE")]
    assert sorted(row["home_site"] for row in effective) == ["songdo", "syracuse"]
    for row in effective:
        assert [at["site"] for at in row["effective_at"]] == [row["home_site"]]
    assert rows[draft.name]["effective_at"] == []

    table = await twinline(stack, "qa", "mbr", "list", service=SITE_VIEW.name)
    assert table.exit_code == 0, table.output
    assert "SDO-MBR-000001@1" in table.output and "SYR-MBR-000002@1" in table.output
    only_songdo = await twinline(stack, "qa", "mbr", "list", "--site-of-origin", "songdo",
                                 "--output", "json", service=SITE_VIEW.name)
    assert [row["home_site"] for row in printed_json(only_songdo)["master_batch_records"]] == [
        "songdo"]

    from_view = await twinline(stack, "qa", "mbr", "show", "SDO-MBR-000001@1", "--view",
                               service=SITE_VIEW.name)
    assert from_view.exit_code == 0, from_view.output
    assert "effective at songdo since" in from_view.output


async def test_two_versions_are_compared_readably_and_as_json(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    first = await mbr.take_to_effective(
        author, await stack.login("syracuse", "reviewer"), await stack.login("syracuse", "qa"))
    stub = author.stub(MasterBatchRecordServiceStub)
    draft = (await stub.CreateMasterBatchRecordVersion(
        api.CreateMasterBatchRecordVersionRequest(request_id=mbr.request_id(),
                                                  record_id=first.record_id),
        metadata=author.metadata)).master_batch_record
    step = draft.unit_procedures[0].operations[0].steps[0]
    step.parameters[0].high_limit = "28"  # temperature: 20..30 → 20..28 Cel
    step.parameters[1].unit = "mmol/mol"
    step.parameters.add(name="pH", unit="[pH]", target="7.0", low_limit="6.5",
                        high_limit="7.5")
    await stub.UpdateMasterBatchRecord(
        api.UpdateMasterBatchRecordRequest(
            request_id=mbr.request_id(), master_batch_record=draft,
            update_mask=field_mask_pb2.FieldMask(paths=["unit_procedures"])),
        metadata=author.metadata)
    before, after = f"{first.record_id}@1", f"{first.record_id}@2"

    async def compared() -> str | None:
        result = await twinline(stack, "qa", "mbr", "diff", before, after,
                                service=TECH_TRANSFER.name)
        # Tech transfer learns version 2 from its events: created (as a copy of 1), then
        # updated. Until the update has arrived the two read the same.
        changed = result.exit_code == 0 and "no difference" not in result.output
        return result.output if changed else None

    shown = await wait_until(compared, 60, interval=0.3,
                             message="tech transfer knows both versions as they are")
    assert f"--- {first.name}" in shown
    assert "+ UP1/OP1/S1/pH: parameter added" in shown
    assert "~ UP1/OP1/S1/temperature: parameter limit changed" in shown
    assert "30 → 28" in shown
    assert "~ UP1/OP1/S1/TCEP: parameter unit changed mol/mol → mmol/mol" in shown

    as_json = await twinline(stack, "qa", "mbr", "diff", before, after, "--output", "json",
                             service=TECH_TRANSFER.name)
    kinds = {change["kind"] for change in printed_json(as_json)["changes"]}
    assert {"RECIPE_CHANGE_KIND_PARAMETER_ADDED", "RECIPE_CHANGE_KIND_PARAMETER_LIMIT_CHANGED",
            "RECIPE_CHANGE_KIND_PARAMETER_UNIT_CHANGED"} <= kinds

    unknown = await twinline(stack, "qa", "mbr", "diff", before, f"{first.record_id}@9",
                             service=TECH_TRANSFER.name)
    assert unknown.exit_code == 1, unknown.output
    assert "MASTER_RECORD_NOT_KNOWN" in unknown.output


async def test_bad_arguments_and_unknown_records(stack: Stack) -> None:
    no_meaning = await twinline(stack, "qa", "mbr", "approve", "SYR-MBR-000001")
    assert no_meaning.exit_code == 2
    wrong_meaning = await twinline(stack, "qa", "mbr", "approve", "SYR-MBR-000001",
                                   "--meaning", "liked")
    assert wrong_meaning.exit_code == 2
    latest = await twinline(stack, "qa", "mbr", "diff", "SYR-MBR-000001", "SYR-MBR-000001@2",
                            service=TECH_TRANSFER.name)
    assert latest.exit_code == 2
    assert "name each" in latest.output
    empty_version = await twinline(stack, "qa", "mbr", "show", "SYR-MBR-000001@")
    assert empty_version.exit_code == 2
    elsewhere = await twinline(stack, "qa", "mbr", "show", "SDO-MBR-000001@1")
    assert elsewhere.exit_code == 2
    assert "add --view" in elsewhere.output

    unknown = await twinline(stack, "qa", "mbr", "show", "SYR-MBR-999999")
    assert unknown.exit_code == 1, unknown.output
    assert "NOT_FOUND" in unknown.output
    malformed = await twinline(stack, "qa", "mbr", "show", "not-a-record@1")
    assert malformed.exit_code == 1, malformed.output
    assert "name:" in malformed.output  # the field the service names, and why
