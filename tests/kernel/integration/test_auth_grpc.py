"""Login and the bearer-token interceptor on a real grpc.aio server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from twinline.common.v1 import auth_pb2, auth_pb2_grpc

from services.common.domain import errors
from services.common.domain.roles import Principal, Role
from services.common.grpc.auth import AuthenticationServicer, AuthInterceptor, current_principal
from services.common.grpc.status import details_of
from services.common.identity import directory as identity
from services.common.identity.directory import MAX_FAILED_ATTEMPTS, UserDirectory
from services.common.identity.tokens import TokenIssuer

pytestmark = pytest.mark.timeout(30)

PASSWORD = "correct horse battery"
WHO_AM_I = "/twinline.test.v1.Probe/WhoAmI"
WHO_AM_I_TWICE = "/twinline.test.v1.Probe/WhoAmITwice"


async def who_am_i(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return current_principal().username.encode()


async def who_am_i_twice(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for _ in range(2):
        yield current_principal().username.encode()


@pytest.fixture
def alice_at_home(directory: UserDirectory) -> UserDirectory:
    """Syracuse's user directory (from the suite's fixture) with Alice: the server below is a
    Syracuse service."""
    directory.add_user("syracuse.alice", "Alice Moreau", PASSWORD, [Role.QA], "syracuse")
    return directory


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer("integration-test-secret-" + "x" * 32, ttl_seconds=600)


@pytest.fixture
async def channel(
    alice_at_home: UserDirectory, issuer: TokenIssuer
) -> AsyncIterator[grpc.aio.Channel]:
    directory = alice_at_home
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(issuer, directory=directory, site_id="syracuse")]
    )
    auth_pb2_grpc.add_AuthenticationServiceServicer_to_server(
        AuthenticationServicer(directory, issuer), server
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    probe: dict[str, Any] = {
        "WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i),
        "WhoAmITwice": grpc.unary_stream_rpc_method_handler(who_am_i_twice),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("twinline.test.v1.Probe", probe),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield client
    finally:
        await client.close()
        await server.stop(None)


async def login(channel: grpc.aio.Channel, username: str, password: str) -> auth_pb2.LoginResponse:
    stub = auth_pb2_grpc.AuthenticationServiceStub(channel)
    return await stub.Login(auth_pb2.LoginRequest(username=username, password=password))


async def test_login_token_authenticates_calls(channel: grpc.aio.Channel) -> None:
    response = await login(channel, "syracuse.alice", PASSWORD)

    assert response.user.username == "syracuse.alice"
    assert list(response.user.roles) == [auth_pb2.ROLE_QA]
    assert response.expire_time.seconds > 0
    metadata = (("authorization", f"Bearer {response.access_token}"),)
    assert await channel.unary_unary(WHO_AM_I)(b"", metadata=metadata) == b"syracuse.alice"
    streamed = [
        reply async for reply in channel.unary_stream(WHO_AM_I_TWICE)(b"", metadata=metadata)
    ]
    assert streamed == [b"syracuse.alice"] * 2


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "TOKEN_MISSING"),
        ((("authorization", "Bearer not.a.token"),), "TOKEN_UNPARSABLE"),
        ((("authorization", "Bearer null"),), "TOKEN_UNPARSABLE"),
        ((("authorization", "Basic c3lyYWN1c2U6cGFzcw=="),), "TOKEN_INVALID"),
    ],
)
async def test_call_without_a_valid_token_is_unauthenticated(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    await refused_unauthenticated(channel, metadata, reason)


async def refused_unauthenticated(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    """Both a unary and a streaming call are refused UNAUTHENTICATED, for ``reason``."""
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await channel.unary_unary(WHO_AM_I)(b"", metadata=metadata)
    assert unary.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(unary.value)["reason"] == reason

    with pytest.raises(grpc.aio.AioRpcError) as streamed:
        async for _ in channel.unary_stream(WHO_AM_I_TWICE)(b"", metadata=metadata):
            pass
    assert streamed.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(streamed.value)["reason"] == reason


async def test_bad_credentials_are_unauthenticated(channel: grpc.aio.Channel) -> None:
    for username, password in (("syracuse.alice", "wrong password"), ("nobody", PASSWORD)):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await login(channel, username, password)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert details_of(raised.value)["reason"] == "INVALID_CREDENTIALS"


async def test_a_locked_account_cannot_log_in_and_is_told_so(channel: grpc.aio.Channel) -> None:
    for attempt in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(grpc.aio.AioRpcError) as wrong:
            await login(channel, "syracuse.alice", f"wrong password {attempt}")
        assert details_of(wrong.value)["reason"] == "INVALID_CREDENTIALS"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await login(channel, "syracuse.alice", PASSWORD)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(raised.value)["reason"] == "ACCOUNT_LOCKED"


async def test_login_with_empty_fields_names_both(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await login(channel, "", "")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details_of(raised.value)["fields"] == ["username", "password"]


async def test_health_needs_no_token(channel: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await channel.unary_unary("/twinline.test.v1.Probe/Missing")(b"")
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_live_token_stops_working_when_its_account_is_deactivated_or_locked(
    channel: grpc.aio.Channel, directory: UserDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads too, not only writes: an 8-hour token must not outlive its account."""
    directory.add_user("syracuse.bob", "Bob Lee", PASSWORD, [Role.OPERATOR], "syracuse")
    tokens = {
        username: (await login(channel, username, PASSWORD)).access_token
        for username in ("syracuse.alice", "syracuse.bob")
    }
    for username, token in tokens.items():
        metadata = (("authorization", f"Bearer {token}"),)
        assert await channel.unary_unary(WHO_AM_I)(b"", metadata=metadata) == username.encode()
    # The interceptor reads an account's standing at most every STANDING_SECONDS; from here on,
    # at every call, so the change made below is seen at once.
    monkeypatch.setattr(identity, "STANDING_SECONDS", 0.0)
    directory.set_active("syracuse.alice", False)
    for attempt in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(errors.Unauthenticated):
            directory.authenticate("syracuse.bob", f"wrong password {attempt}")

    refusals = (("syracuse.alice", "ACCOUNT_INACTIVE"), ("syracuse.bob", "ACCOUNT_LOCKED"))
    for username, reason in refusals:
        metadata = (("authorization", f"Bearer {tokens[username]}"),)
        await refused_unauthenticated(channel, metadata, reason)


async def test_an_unreadable_directory_fails_calls_and_login_as_internal_without_internals(
    channel: grpc.aio.Channel, directory: UserDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = (await login(channel, "syracuse.alice", PASSWORD)).access_token
    monkeypatch.setattr(identity, "STANDING_SECONDS", 0.0)
    with directory.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE app_user RENAME TO app_user_gone")
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await channel.unary_unary(WHO_AM_I)(
            b"", metadata=(("authorization", f"Bearer {token}"),)
        )
    with pytest.raises(grpc.aio.AioRpcError) as login_failed:
        await login(channel, "syracuse.alice", PASSWORD)
    for refused in (failed.value, login_failed.value):
        assert refused.code() == grpc.StatusCode.INTERNAL
        assert details_of(refused)["reason"] == "INTERNAL"
        assert "app_user" not in (refused.details() or "")


async def test_a_principal_of_another_site_is_judged_by_its_token_alone(
    channel: grpc.aio.Channel, issuer: TokenIssuer
) -> None:
    """Songdo's users live in Songdo's directory, not in Syracuse's: a Songdo token reads here."""
    visitor = Principal(
        username="songdo.jiwoo", printed_name="Ji-woo Park", roles=frozenset({Role.QA}),
        home_site="songdo",
    )
    token, _ = issuer.issue(visitor)
    metadata = (("authorization", f"Bearer {token}"),)
    assert await channel.unary_unary(WHO_AM_I)(b"", metadata=metadata) == b"songdo.jiwoo"
