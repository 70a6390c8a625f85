"""A small Python client: log in once, then call any Twinline service with the token.

    async with Session.login("127.0.0.1:50051", "syracuse.author", "twinline-demo-author") as s:
        mbrs = s.stub(MasterBatchRecordServiceStub)
        await mbrs.ListMasterBatchRecords(ListMasterBatchRecordsRequest(), metadata=s.metadata)
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from twinline.common.v1 import auth_pb2, auth_pb2_grpc

S = TypeVar("S")


class Session:
    def __init__(self, channel: grpc.aio.Channel, token: str, user: auth_pb2.User) -> None:
        self.channel = channel
        self.token = token
        self.user = user

    @classmethod
    async def login(
        cls, address: str, username: str, password: str,
        options: Sequence[tuple[str, Any]] = (),
    ) -> Self:
        """``options`` are the channel's (e.g. ``grpc.max_reconnect_backoff_ms``)."""
        channel = grpc.aio.insecure_channel(address, options=options)
        try:
            answer = await auth_pb2_grpc.AuthenticationServiceStub(channel).Login(
                auth_pb2.LoginRequest(username=username, password=password), timeout=10
            )
        except BaseException:
            await channel.close()
            raise
        return cls(channel, answer.access_token, answer.user)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def stub(self, stub_type: type[S]) -> S:
        return stub_type(self.channel)  # type: ignore[call-arg]

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def with_token(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


__all__: list[Any] = ["Session", "with_token"]
