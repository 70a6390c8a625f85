"""A gRPC client of Twinline loads none of the servers' dependencies: ``twinline review``, the
Python session, ``make demo`` and the topology import neither the database, the migrations,
the password hashing nor NATS (checked in a fresh interpreter, where nothing is loaded yet)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.devstack.processes import PROJECT_ROOT

SERVER_ONLY = ("sqlalchemy", "alembic", "argon2", "nats")


def loaded_by(module: str) -> list[str]:
    """The packages of SERVER_ONLY that importing ``module`` loads."""
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps([name for name in {SERVER_ONLY!r} if name in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, timeout=60,
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "module",
    [
        "services.cli.review",
        "services.client.session",
        "services.devstack.demo",
        "services.devstack.topology",
    ],
)
def test_a_client_module_loads_no_server_dependency(module: str) -> None:
    assert loaded_by(module) == []


def test_the_probe_sees_a_server_dependency_when_one_is_loaded() -> None:
    # The launcher runs the servers: it may, and does, load them; the probe must see that.
    assert set(loaded_by("services.devstack.launcher")) == set(SERVER_ONLY)
