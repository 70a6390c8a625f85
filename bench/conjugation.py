"""Prepares the readings and run-write figures at the origin site: a batch in progress on the
conjugation recipe, one run of it, and a tag declared on that run for every stream of every
readings measurement (a fresh tag each, so no two measurements write to the same one). The
steps are the end-to-end tests' own (tests.support.runs), driven through the bench's servers.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from bench.batches import PreparationError
from bench.readings import HIGH_LIMIT, LOW_LIMIT
from services.client.session import Session
from services.devstack.demo_users import demo_password
from services.devstack.launcher import Deployment
from services.devstack.topology import BATCH_RECORDS
from tests.support import runs


class DemoLogins:
    """The site's demo users signed in at the bench deployment's services, each once (an
    argon2 verification a login), as ``tests.support`` signs them in at the tests' Stack."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self._sessions: dict[tuple[str, str, str], Session] = {}

    async def login(self, site: str, job: str, service: str = BATCH_RECORDS.name) -> Session:
        key = (site, job, service)
        if key not in self._sessions:
            self._sessions[key] = await Session.login(
                self._deployment.address(site, service), f"{site}.{job}", demo_password(job)
            )
        return self._sessions[key]

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


@dataclass(frozen=True)
class PreparedRun:
    batch: str  # "batches/{id}", in progress: CreateRun's figure creates its runs of it
    run: str  # "conjugationRuns/{id}", its tags declared
    tags: tuple[str, ...]


def tag_name(round_number: int, points_per_message: int, streams: int, stream: int) -> str:
    """The tag stream ``stream`` (from 1) of one measurement writes, e.g. ``bench.r1.p100x4.s2``."""
    return f"bench.r{round_number}.p{points_per_message}x{streams}.s{stream}"


async def prepare_run(deployment: Deployment, site: str, tags: list[str]) -> PreparedRun:
    """A batch of ``site`` in progress, a run of it, and ``tags`` declared on the run (in Cel,
    inside LOW_LIMIT..HIGH_LIMIT, no dwell)."""
    logins = DemoLogins(deployment)
    try:
        batch = await runs.batch_in_progress(logins, site)
        run = await runs.create_run(logins, batch, site)
        for tag in tags:
            await runs.declare_tag(logins, run, tag, low=LOW_LIMIT, high=HIGH_LIMIT, site=site)
    except grpc.aio.AioRpcError as exc:
        raise PreparationError(
            f"conjugation run not prepared: {exc.code().name}: {exc.details()}"
        ) from None
    except AssertionError as exc:  # the batch never reached the conjugation service
        raise PreparationError(f"conjugation run not prepared: {exc}") from None
    finally:
        await logins.close()
    return PreparedRun(batch.name, run.name, tuple(tags))
