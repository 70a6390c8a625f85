"""What the tests' ``Stack`` starts at each site: every service of the topology unless a test
names fewer; an unknown name, or a service the stack did not start, is refused by name (no
process is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.devstack.topology import (
    BATCH_RECORDS,
    SERVICE_NAMES,
    SITE_VIEW,
    UnknownServiceError,
)
from tests.support.nats_harness import NatsSites
from tests.support.stack import Stack, write_default_registry


def stack(base: Path, *services: str) -> Stack:
    registry = write_default_registry(base / "sites.toml")
    nats = NatsSites(base / "nats", registry)
    return Stack(base, registry, nats, services) if services else Stack(base, registry, nats)


def test_a_stack_runs_every_service_of_the_topology_by_default(tmp_path: Path) -> None:
    assert stack(tmp_path).services == SERVICE_NAMES


def test_named_services_run_in_the_topology_order(tmp_path: Path) -> None:
    assert stack(tmp_path, SITE_VIEW.name, BATCH_RECORDS.name).services == (
        BATCH_RECORDS.name, SITE_VIEW.name,
    )
    assert stack(tmp_path, BATCH_RECORDS.name).services == (BATCH_RECORDS.name,)


def test_an_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownServiceError, match="no_such_service"):
        stack(tmp_path, "no_such_service")


def test_a_service_the_stack_does_not_run_is_refused_naming_the_fix(tmp_path: Path) -> None:
    only_records = stack(tmp_path, BATCH_RECORDS.name)
    with pytest.raises(LookupError, match=r"not site_view: name it in stack_fixture"):
        only_records.address("songdo", SITE_VIEW.name)
