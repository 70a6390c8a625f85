"""The launcher's supervision: backoff between restarts, giving up loudly after repeated
crashes, and a restart reported on the console (fake children, no processes)."""

from __future__ import annotations

from services.devstack.processes import RestartPolicy, Supervisor
from tests.support.waiting import wait_until


def test_the_delay_doubles_with_each_recent_crash_up_to_the_cap() -> None:
    policy = RestartPolicy(max_crashes=10, first_delay_seconds=0.5, max_delay_seconds=4)
    crashes: list[float] = []
    delays = []
    for moment in range(6):
        crashes.append(float(moment))
        delays.append(policy.delay_after(crashes, float(moment)))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_five_crashes_within_a_minute_give_up() -> None:
    policy = RestartPolicy(max_crashes=5, window_seconds=60)
    assert policy.delay_after([0, 10, 20, 30], 30) is not None
    assert policy.delay_after([0, 10, 20, 30, 40], 40) is None


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = RestartPolicy(max_crashes=5, window_seconds=60, first_delay_seconds=0.5)
    assert policy.delay_after([0, 10, 20, 30, 100], 100) == 0.5


class CrashingChild:
    """Exits again as soon as it is restarted."""

    def __init__(self) -> None:
        self.restarts = 0

    @property
    def running(self) -> bool:
        return False

    @property
    def returncode(self) -> int | None:
        return 1

    async def restart(self) -> None:
        self.restarts += 1


class OnceCrashedChild(CrashingChild):
    @property
    def running(self) -> bool:
        return self.restarts > 0


async def test_a_child_that_keeps_crashing_is_given_up_loudly() -> None:
    max_crashes = 5
    child = CrashingChild()
    said: list[str] = []
    supervisor = Supervisor(
        {"site_view of syracuse": child}, said.append,
        RestartPolicy(max_crashes=max_crashes, first_delay_seconds=0), poll_seconds=0,
    )
    supervisor.start()
    await wait_until(lambda: supervisor.given_up, timeout=10, message="the supervisor gave up")
    await supervisor.stop()

    assert child.restarts == max_crashes - 1
    assert said[-1].startswith("GIVING UP on site_view of syracuse: it exited 5 times")
    assert said.count("site_view of syracuse restarted and serving again") == max_crashes - 1


async def test_a_crashed_child_is_restarted_once_and_said_so() -> None:
    child = OnceCrashedChild()
    said: list[str] = []
    supervisor = Supervisor(
        {"nats-server of songdo": child}, said.append,
        RestartPolicy(first_delay_seconds=0), poll_seconds=0,
    )
    supervisor.start()
    await wait_until(lambda: child.restarts == 1 and len(said) == 2, timeout=10)
    await supervisor.stop()

    assert said == [
        "nats-server of songdo exited with code 1; restarting in 0.0 s",
        "nats-server of songdo restarted and serving again",
    ]
    assert not supervisor.given_up
