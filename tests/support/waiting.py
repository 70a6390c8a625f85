"""Polls a condition until it holds or a deadline passes: the tests' only way to wait."""

# `timeout` is the condition's deadline, named in the failure message; not a cancel scope.

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def wait_until(
    predicate: Callable[[], Awaitable[T]],
    timeout: float,
    interval: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float = 0.02,
    message: str = "condition not met",
    ignore: tuple[type[BaseException], ...] = (),
) -> Any:
    """Returns the predicate's first truthy result; raises AssertionError after `timeout` s.

    The predicate may be sync or async. Exceptions of the types in `ignore` count as "not yet"
    (a request to a server that is restarting).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except ignore as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"{message} within {timeout} s{detail}")
        await asyncio.sleep(interval)
