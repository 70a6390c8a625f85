"""Periodic background rounds (services/common/messaging/periodic.py): they stop when told,
even when a round loses the cancellation, as asyncio.wait_for can in Python 3.11."""

from __future__ import annotations

import asyncio

from services.common.messaging.periodic import Periodic
from tests.support.waiting import wait_until


async def test_rounds_repeat_and_a_tolerated_error_does_not_end_them() -> None:
    rounds: list[int] = []
    errors: list[Exception] = []

    async def round_() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise TimeoutError("the server is restarting")

    periodic = Periodic(round_, 0.01, name="test", tolerated=(TimeoutError,),
                        on_error=errors.append)
    periodic.start()
    await wait_until(lambda: len(rounds) >= 4, 5.0, message="four rounds")
    await periodic.stop()
    assert [type(error) for error in errors] == [TimeoutError]


async def test_stop_ends_a_round_that_swallows_its_cancellation() -> None:
    inside = asyncio.Event()
    swallowed = 0

    async def deaf_round() -> None:
        nonlocal swallowed
        inside.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed += 1  # what wait_for does when its inner call completes at that moment

    periodic = Periodic(deaf_round, 3600, name="deaf")
    periodic.start()
    await asyncio.wait_for(inside.wait(), 5.0)
    task = periodic._task
    assert task is not None

    await asyncio.wait_for(periodic.stop(timeout_s=30.0), 5.0)

    assert swallowed == 1 and task.done()
