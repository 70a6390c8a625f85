"""What every child process the devstack starts (nats-server, a service) answers alike."""

from __future__ import annotations

import subprocess


class ChildProcess:
    """A child started with ``subprocess.Popen``, held in ``_process`` (None: never started,
    or reaped and dropped)."""

    _process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()
