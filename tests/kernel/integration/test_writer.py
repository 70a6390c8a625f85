"""The group-commit writer on a real SQLite database."""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest
from sqlalchemy import text
from twinline.common.v1 import auth_pb2

from services.common.domain.errors import FailedPrecondition, InvalidArgument
from services.common.persistence.audit import AuditChange, verify_chain
from services.common.persistence.database import (
    read_session,
)
from services.common.persistence.unit_of_work import UnitOfWork
from services.common.persistence.writer import Writer
from tests.support.waiting import wait_until


def audited(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
    def command(uow: UnitOfWork) -> bytes:
        if fail:
            raise FailedPrecondition("NOPE", f"{name} refused")
        uow.audit(AuditChange("alice", "x.done", "x", name, "", name))
        return name.encode()

    return command


def entries(kernel_engine) -> list[str]:  # type: ignore[no-untyped-def]
    with read_session(kernel_engine) as session:
        rows = session.execute(text("SELECT aggregate_id FROM audit_entry ORDER BY sequence"))
        return [row[0] for row in rows]


async def test_a_group_commits_together_and_a_failing_command_fails_alone(kernel_engine) -> None:  # type: ignore[no-untyped-def]
    writer = Writer(kernel_engine, "syracuse")
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.run(audited(f"X{i}", fail=(i == 3))) for i in range(8)),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(results[3], FailedPrecondition)
    assert [r for i, r in enumerate(results) if i != 3] == [
        f"X{i}".encode() for i in range(8) if i != 3
    ]
    assert entries(kernel_engine) == [f"X{i}" for i in range(8) if i != 3]
    with read_session(kernel_engine) as session:
        assert verify_chain(session).intact


async def test_the_same_request_id_in_one_group_has_one_effect(kernel_engine) -> None:  # type: ignore[no-untyped-def]
    writer = Writer(kernel_engine, "syracuse")
    writer.start()
    request = auth_pb2.LoginRequest(username="same")
    other = auth_pb2.LoginRequest(username="different")
    try:
        answers = await asyncio.gather(
            *(
                writer.run_idempotent(
                    request_id="r-1", method="m", principal="alice", request=request,
                    command=audited(f"call-{i}"),
                )
                for i in range(5)
            ),
            writer.run_idempotent(
                request_id="r-1", method="m", principal="alice", request=other,
                command=audited("reused"),
            ),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert answers[:5] == [b"call-0"] * 5
    assert isinstance(answers[5], InvalidArgument)
    assert entries(kernel_engine) == ["call-0"]


async def test_a_failing_command_leaves_nothing_of_its_group_behind(kernel_engine) -> None:  # type: ignore[no-untyped-def]
    def half_written(uow: UnitOfWork) -> bytes:
        uow.session.execute(
            text("INSERT INTO inbox VALUES ('half', 's', 1, '2026-11-25T00:00:00.000000Z')")
        )
        raise FailedPrecondition("NOPE", "refused after writing")

    writer = Writer(kernel_engine, "syracuse")
    writer.start()
    try:
        results = await asyncio.gather(
            writer.run(audited("before")), writer.run(half_written), writer.run(audited("after")),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(results[1], FailedPrecondition)
    assert entries(kernel_engine) == ["before", "after"]
    with read_session(kernel_engine) as session:
        assert session.execute(text("SELECT count(*) FROM inbox")).scalar() == 0


async def test_a_call_that_timed_out_in_the_queue_never_runs(kernel_engine) -> None:  # type: ignore[no-untyped-def]
    """Over real gRPC: a write whose deadline passes while it waits for the writer is dropped
    from the queue, so the timed-out call has had no effect (its retry would run afresh)."""
    writer = Writer(kernel_engine, "syracuse")
    writer.start()
    started, release = threading.Event(), threading.Event()
    handler_cancelled = asyncio.Event()

    def blocking(uow: UnitOfWork) -> bytes:
        started.set()
        release.wait(10)  # holds the writer, as a long group commit would
        return audited("first")(uow)

    async def write(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            return await writer.run(audited(request.decode()))
        except asyncio.CancelledError:
            handler_cancelled.set()  # gRPC gave up on the call at its deadline
            raise

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "twinline.test.v1.Queue", {"Write": grpc.unary_unary_rpc_method_handler(write)}
    ),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        first = asyncio.create_task(writer.run(blocking))
        await wait_until(started.is_set, 10, message="the writer busy")
        with pytest.raises(grpc.aio.AioRpcError) as late:
            # Long enough to reach the queue on a loaded machine; the writer stays busy past it.
            await channel.unary_unary("/twinline.test.v1.Queue/Write")(b"late", timeout=1.0)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await asyncio.wait_for(handler_cancelled.wait(), 10)
        release.set()
        assert await first == b"first"
        assert await writer.run(audited("after")) == b"after"
    finally:
        release.set()
        await channel.close()
        await server.stop(None)
        await writer.stop()
    assert entries(kernel_engine) == ["first", "after"]
