"""The readings service as the bridge sees it: log in, stream a batch of points, classify
the answer. Every error of the service is an Outcome, never an exception."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from twinline.conjugation.v1 import readings_pb2 as api
from twinline.conjugation.v1.readings_pb2_grpc import ProcessReadingsServiceStub

from services.client.session import Session
from services.common.grpc.status import details_of
from services.conjugation.opcua_bridge.config import BridgeConfig
from services.conjugation.opcua_bridge.delivery import Outcome, Verdict
from services.conjugation.opcua_bridge.points import Point

log = logging.getLogger("twinline.opcua_bridge")

# The service's limit per message.
POINTS_PER_MESSAGE = 10_000
CALL_TIMEOUT_S = 60.0
# Codes by which the service says these points will never be taken as they are.
REFUSING = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE,
})


class ReadingsService:
    def __init__(self, config: BridgeConfig) -> None:
        self._config = config
        self._session: Session | None = None

    async def send(self, points: Sequence[Point]) -> Outcome:
        try:
            session = await self._logged_in()
            answer = await session.stub(ProcessReadingsServiceStub).StreamReadings(
                iter(self._messages(points)), metadata=session.metadata, timeout=CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            return await self._outcome_of(exc)
        if answer.received != len(points):
            # The call succeeded, so the service holds what it counted; resend the rest.
            log.warning("the service counted %d of %d points; resending", answer.received,
                        len(points))
            return Outcome(Verdict.UNREACHABLE, "not every point was counted")
        return Outcome(Verdict.STORED)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _logged_in(self) -> Session:
        if self._session is None:
            config = self._config
            # The channel tries to reconnect at least as often as the bridge retries.
            backoff_ms = int(config.max_retry_seconds * 1000)
            self._session = await Session.login(
                config.service.address, config.service.username, config.password(),
                options=[("grpc.max_reconnect_backoff_ms", backoff_ms),
                         ("grpc.initial_reconnect_backoff_ms", min(backoff_ms, 1000))],
            )
            log.info("logged in to %s as %s", config.service.address, config.service.username)
        return self._session

    def _messages(self, points: Sequence[Point]) -> list[api.StreamReadingsRequest]:
        return [
            api.StreamReadingsRequest(run=self._config.run, points=[
                api.ReadingPoint(tag=p.tag, time_us=p.time_us, value=p.value, unit=p.unit,
                                 quality=api.Quality.ValueType(int(p.quality)))
                for p in points[start:start + POINTS_PER_MESSAGE]
            ])
            for start in range(0, len(points), POINTS_PER_MESSAGE)
        ]

    async def _outcome_of(self, exc: grpc.aio.AioRpcError) -> Outcome:
        code, reason = exc.code(), f"{exc.code().name}: {exc.details()}"
        if code in REFUSING:
            return Outcome(Verdict.REFUSED, reason, of_tag=_of_tag(exc))
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            # An expired token logs in again; a wrong password or role waits for a person.
            log.error("the service refused the bridge's credentials: %s", reason)
            await self.close()
        return Outcome(Verdict.UNREACHABLE, reason)


def _of_tag(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the service refused the tag rather than some points: an undeclared tag or a
    finished run (a precondition), or only ``points[i].tag`` and ``points[i].unit`` fields."""
    if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
        return True
    fields = details_of(exc)["fields"]
    assert isinstance(fields, list)
    return bool(fields) and all(str(f).endswith((".tag", ".unit")) for f in fields)
