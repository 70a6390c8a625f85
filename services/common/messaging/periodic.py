"""A background task that does one round every interval until it is stopped.

``stop`` returns promptly even when a cancellation is lost: Python 3.11's
``asyncio.wait_for`` can swallow a cancellation that lands just as its inner call completes
(CPython gh-86296), and nats-py awaits its replies through ``wait_for``. A lost cancellation
once left a site view running for the whole 20 s stop deadline; here the stop flag ends the
loop at its next turn instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


class Periodic:
    """Runs ``round`` now and then every ``interval_s`` seconds. An exception of ``tolerated``
    is handed to ``on_error`` and the next round comes as usual; any other ends the task."""

    def __init__(
        self, round: Callable[[], Awaitable[object]], interval_s: float, *, name: str,
        tolerated: tuple[type[Exception], ...] = (Exception,),
        on_error: Callable[[Exception], None] = lambda _error: None,
    ) -> None:
        self._round = round
        self.interval_s = interval_s
        self.name = name
        self._tolerated = tolerated
        self._on_error = on_error
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.warning("%s did not stop within %.1f s", self.name, timeout_s)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except self._tolerated as error:
                self._on_error(error)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._stopping.wait()
