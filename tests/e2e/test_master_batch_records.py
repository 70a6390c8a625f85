"""Master batch records end to end: real nats-servers, real service processes, SQLite."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2
from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.batchrecords.v1 import master_batch_record_service_pb2 as api
from twinline.batchrecords.v1.master_batch_record_service_pb2_grpc import (
    MasterBatchRecordServiceStub,
)
from twinline.common.v1 import audit_pb2
from twinline.common.v1.audit_pb2_grpc import AuditTrailServiceStub

from services.client.session import Session
from services.common.domain import errors
from services.common.domain.roles import Role
from services.common.grpc.status import details_of
from services.common.identity.directory import MAX_FAILED_ATTEMPTS, STANDING_SECONDS
from services.devstack.topology import BATCH_RECORDS
from tests.support.mbr import conjugation_recipe, create, request_id, sign, take_to_effective
from tests.support.stack import Stack, stack_fixture
from tests.support.waiting import wait_until

# Only batch_records runs at each site: nothing here reads a site view.
batch_records_only = stack_fixture(services=[BATCH_RECORDS.name])


async def test_lifecycle_signatures_and_audit_chain(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    reviewer = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    record = await take_to_effective(author, reviewer, qa)
    assert record.state == pb.MASTER_BATCH_RECORD_STATE_EFFECTIVE
    assert record.record_id.startswith("SYR-MBR-")
    meanings = [(s.signer, s.meaning) for s in record.signatures]
    assert meanings == [
        ("syracuse.reviewer", 2), ("syracuse.qa", 3), ("syracuse.qa", 8),
    ]
    assert all(s.printed_name and s.sign_time.seconds > 0 for s in record.signatures)
    verified = await qa.stub(AuditTrailServiceStub).VerifyAuditTrail(
        audit_pb2.VerifyAuditTrailRequest(), metadata=qa.metadata
    )
    assert verified.intact and verified.entries_checked == 5

    stub = author.stub(MasterBatchRecordServiceStub)
    second = (
        await stub.CreateMasterBatchRecordVersion(
            api.CreateMasterBatchRecordVersionRequest(
                request_id=request_id(), record_id=record.record_id
            ),
            metadata=author.metadata,
        )
    ).master_batch_record
    assert (second.version, second.supersedes) == (2, record.name)
    from tests.support.mbr import take_draft_to_effective

    second = await take_draft_to_effective(second, author, reviewer, qa)
    first = (
        await stub.GetMasterBatchRecord(
            api.GetMasterBatchRecordRequest(name=record.name), metadata=author.metadata
        )
    ).master_batch_record
    assert first.state == pb.MASTER_BATCH_RECORD_STATE_SUPERSEDED
    assert first.superseded_by == second.name


async def test_approved_version_never_changes_and_stale_etag_is_aborted(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    stub = author.stub(MasterBatchRecordServiceStub)
    record = await create(author)
    changed = conjugation_recipe()
    changed.name, changed.etag, changed.title = record.name, record.etag, "Renamed"
    mask = field_mask_pb2.FieldMask(paths=["title"])
    updated = (
        await stub.UpdateMasterBatchRecord(
            api.UpdateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=changed, update_mask=mask
            ),
            metadata=author.metadata,
        )
    ).master_batch_record
    assert updated.title == "Renamed" and updated.etag != record.etag
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await stub.UpdateMasterBatchRecord(
            api.UpdateMasterBatchRecordRequest(
                request_id=request_id(), master_batch_record=changed, update_mask=mask
            ),
            metadata=author.metadata,
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert details_of(stale.value)["reason"] == "ETAG_MISMATCH"


async def test_retry_with_same_request_id_has_one_effect(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    stub = author.stub(MasterBatchRecordServiceStub)
    request = api.CreateMasterBatchRecordRequest(
        request_id=request_id(), master_batch_record=conjugation_recipe()
    )
    first = await stub.CreateMasterBatchRecord(request, metadata=author.metadata)
    again = await stub.CreateMasterBatchRecord(request, metadata=author.metadata)
    assert again == first
    listed = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(), metadata=author.metadata
    )
    assert [r.name for r in listed.master_batch_records] == [first.master_batch_record.name]
    reused = api.CreateMasterBatchRecordRequest(
        request_id=request.request_id, master_batch_record=conjugation_recipe("OTHER")
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateMasterBatchRecord(reused, metadata=author.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(refused.value)["fields"] == ["request_id"]


async def test_bad_input_names_every_field_and_writes_nothing(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    stub = author.stub(MasterBatchRecordServiceStub)
    recipe = conjugation_recipe()
    recipe.product = ""
    step = recipe.unit_procedures[0].operations[0].steps[0]
    step.parameters[0].unit = ""
    step.parameters[1].low_limit = "two"
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateMasterBatchRecord(
            api.CreateMasterBatchRecordRequest(request_id=request_id(), master_batch_record=recipe),
            metadata=author.metadata,
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = details_of(bad.value)["fields"]
    at = "master_batch_record.unit_procedures[0].operations[0].steps[0].parameters"
    assert f"{at}[1].low_limit" in fields  # type: ignore[operator]
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        recipe.unit_procedures[0].operations[0].steps[0].parameters[1].low_limit = "2.0"
        await stub.CreateMasterBatchRecord(
            api.CreateMasterBatchRecordRequest(request_id=request_id(), master_batch_record=recipe),
            metadata=author.metadata,
        )
    assert sorted(details_of(bad.value)["fields"]) == sorted(  # type: ignore[type-var]
        ["master_batch_record.product", f"{at}[0].unit"]
    )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.CreateMasterBatchRecord(
            api.CreateMasterBatchRecordRequest(master_batch_record=conjugation_recipe()),
            metadata=author.metadata,
        )
    assert details_of(missing.value)["fields"] == ["request_id"]
    listed = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(), metadata=author.metadata
    )
    assert list(listed.master_batch_records) == []
    audit = await author.stub(AuditTrailServiceStub).ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(), metadata=author.metadata
    )
    assert list(audit.entries) == []
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await author.stub(AuditTrailServiceStub).ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_token="not-a-token"), metadata=author.metadata
        )
    assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(bad_token.value)["fields"] == ["page_token"]


async def test_authentication_and_authorisation(stack: Stack) -> None:
    channel_session = await stack.login("syracuse", "operator")
    stub = channel_session.stub(MasterBatchRecordServiceStub)
    create_request = api.CreateMasterBatchRecordRequest(
        request_id=request_id(), master_batch_record=conjugation_recipe()
    )
    with pytest.raises(grpc.aio.AioRpcError) as no_token:
        await stub.CreateMasterBatchRecord(create_request)
    assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as wrong_role:
        await stub.CreateMasterBatchRecord(create_request, metadata=channel_session.metadata)
    assert wrong_role.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(wrong_role.value)["reason"] == "ROLE_REQUIRED"
    songdo_author = await stack.login("songdo", "author")
    with pytest.raises(grpc.aio.AioRpcError) as other_site:
        await stub.CreateMasterBatchRecord(create_request, metadata=songdo_author.metadata)
    assert other_site.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details_of(other_site.value)["reason"] == "WRONG_SITE"
    author = await stack.login("syracuse", "author")
    record = await create(author)
    author_stub = author.stub(MasterBatchRecordServiceStub)
    submitted = (
        await author_stub.SubmitMasterBatchRecordForReview(
            api.SubmitMasterBatchRecordForReviewRequest(
                request_id=request_id(), name=record.name, etag=record.etag
            ),
            metadata=author.metadata,
        )
    ).master_batch_record
    with pytest.raises(grpc.aio.AioRpcError) as bad_password:
        await stack_stub(stack, "reviewer").ReviewMasterBatchRecord(
            api.ReviewMasterBatchRecordRequest(
                request_id=request_id(), name=submitted.name, etag=submitted.etag,
                signature=sign("qa"),
            ),
            metadata=(await stack.login("syracuse", "reviewer")).metadata,
        )
    assert bad_password.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(bad_password.value)["reason"] == "SIGNATURE_PASSWORD_INVALID"


async def test_a_deactivated_or_locked_user_cannot_write_with_a_live_token(stack: Stack) -> None:
    """A token lives 8 h; a deactivation or a lock made meanwhile (by `twinline users`, another
    process) stops the user's writes within STANDING_SECONDS, not at the token's expiry."""
    stack.add_user("syracuse", "coauthor", (Role.PROCESS_ENGINEER,))
    author = await stack.login("syracuse", "author")
    coauthor = await stack.login("syracuse", "coauthor")
    await create(author)
    await create(coauthor)
    directory = stack.directory("syracuse")
    directory.set_active("syracuse.author", False)
    for attempt in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(errors.Unauthenticated):
            directory.authenticate("syracuse.coauthor", f"wrong {attempt}")

    async def refusal(session: Session) -> str | None:
        try:
            await create(session)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                return str(details_of(exc)["reason"])
            raise
        return None

    for session, reason in ((author, "ACCOUNT_INACTIVE"), (coauthor, "ACCOUNT_LOCKED")):
        assert await wait_until(
            lambda session=session: refusal(session), STANDING_SECONDS + 10, interval=0.25,
            message=f"{reason}: the write refused",
        ) == reason
    directory.engine.dispose()


def stack_stub(stack: Stack, job: str) -> MasterBatchRecordServiceStub:
    channel = grpc.aio.insecure_channel(stack.address("syracuse", BATCH_RECORDS.name))
    return MasterBatchRecordServiceStub(channel)


async def test_a_row_edited_in_the_database_is_reported_at_its_entry(stack: Stack) -> None:
    import sqlite3

    author = await stack.login("syracuse", "author")
    reviewer = await stack.login("syracuse", "reviewer")
    qa = await stack.login("syracuse", "qa")
    await take_to_effective(author, reviewer, qa)
    audit = qa.stub(AuditTrailServiceStub)
    assert (await audit.VerifyAuditTrail(audit_pb2.VerifyAuditTrailRequest(),
                                         metadata=qa.metadata)).intact
    database = stack.base_dir / "data" / "syracuse" / "batch_records.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_entry SET reason = 'nothing to see' WHERE sequence = 3")
    verify = audit_pb2.VerifyAuditTrailRequest()
    broken = await audit.VerifyAuditTrail(verify, metadata=qa.metadata)
    assert (broken.intact, broken.first_broken_sequence) == (False, 3)
    assert "content" in broken.problem
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM audit_entry WHERE sequence = 3")
    deleted = await audit.VerifyAuditTrail(verify, metadata=qa.metadata)
    assert (deleted.intact, deleted.first_broken_sequence) == (False, 3)
    assert "missing" in deleted.problem


async def test_list_pages_and_filters(stack: Stack) -> None:
    author = await stack.login("syracuse", "author")
    stub = author.stub(MasterBatchRecordServiceStub)
    made = [await create(author, product) for product in ("A", "B", "A")]
    submitted = await stub.SubmitMasterBatchRecordForReview(
        api.SubmitMasterBatchRecordForReviewRequest(
            request_id=request_id(), name=made[0].name, etag=made[0].etag
        ),
        metadata=author.metadata,
    )
    first = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(page_size=2), metadata=author.metadata
    )
    assert [r.name for r in first.master_batch_records] == [r.name for r in made[:2]]
    rest = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(page_size=2, page_token=first.next_page_token),
        metadata=author.metadata,
    )
    assert [r.name for r in rest.master_batch_records] == [made[2].name]
    assert rest.next_page_token == ""
    by_product = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(product="A"), metadata=author.metadata
    )
    assert [r.name for r in by_product.master_batch_records] == [made[0].name, made[2].name]
    in_review = await stub.ListMasterBatchRecords(
        api.ListMasterBatchRecordsRequest(state=pb.MASTER_BATCH_RECORD_STATE_IN_REVIEW),
        metadata=author.metadata,
    )
    assert list(in_review.master_batch_records) == [submitted.master_batch_record]
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await stub.ListMasterBatchRecords(
            api.ListMasterBatchRecordsRequest(page_token="not-a-token"), metadata=author.metadata
        )
    assert details_of(bad_token.value)["fields"] == ["page_token"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetMasterBatchRecord(
            api.GetMasterBatchRecordRequest(name="masterBatchRecords/SYR-MBR-999999/versions/1"),
            metadata=author.metadata,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
