"""Delivering the buffer's oldest points: what to do with each answer of the service.

Pure apart from the ``send`` it is given. A call the service refuses (a point of an undeclared
tag, a wrong unit) is split into one call per tag — what a refusal is nearly always about.
A tag refused for what it is (undeclared, its unit) is set aside whole; one refused for some of
its points (a time far ahead) is split in halves until the refused points are alone. So a bad
point never holds back the good ones, and a bad tag costs a call per flush, not one per point.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from services.conjugation.opcua_bridge.points import Point


class Verdict(Enum):
    STORED = "stored"  # the call returned OK: every point is the service's now
    REFUSED = "refused"  # the service will never take these points as they are
    UNREACHABLE = "unreachable"  # try again later: down, overloaded, token expired


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str = ""
    # A refusal of the tag itself (not declared, not its unit), so of every point of it.
    of_tag: bool = False


Send = Callable[[Sequence[Point]], Awaitable[Outcome]]
Held = Sequence[tuple[int, Point]]


async def deliver(
    held: Held, send: Send, *, acknowledged: Callable[[list[int]], None],
    refused: Callable[[list[int], str], None],
) -> bool:
    """Sends ``held`` (buffer id, point) in order; True when every point was stored or
    refused, False when the service became unreachable (what was done so far is reported)."""
    parts: list[Held] = [held]
    while parts:
        part = parts.pop()
        outcome = await send([point for _, point in part])
        ids = [identifier for identifier, _ in part]
        if outcome.verdict is Verdict.STORED:
            acknowledged(ids)
        elif outcome.verdict is Verdict.UNREACHABLE:
            return False
        elif len(tags := list(dict.fromkeys(point.tag for _, point in part))) > 1:
            by_tag = [[held for held in part if held[1].tag == tag] for tag in tags]
            parts.extend(reversed(by_tag))  # the first tag is sent first
        elif len(part) == 1 or outcome.of_tag:
            refused(ids, outcome.reason)
        else:
            half = len(part) // 2
            parts.extend((part[half:], part[:half]))  # the first half is sent first
    return True
