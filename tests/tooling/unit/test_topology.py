"""The topology registry: the fixed ports of ``make run`` (50051/50052, +10 per site), and each
entry agreeing with the service it names (its ``__main__``, what it registers)."""

from __future__ import annotations

import importlib
from unittest import mock

import pytest

from services.common.sites import DEFAULT_REGISTRY, SiteRegistry
from services.devstack import topology
from services.devstack.topology import (
    BATCH_RECORDS,
    BOARD,
    GRPC_PORT_BASE_VARIABLE,
    PROCESSES,
    SERVICES,
    SITE_VIEW,
    UnknownServiceError,
    grpc_port,
)

REGISTRY = SiteRegistry.load(DEFAULT_REGISTRY)


def test_the_ports_of_make_run_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GRPC_PORT_BASE_VARIABLE, raising=False)
    syracuse, songdo = REGISTRY.get("syracuse"), REGISTRY.get("songdo")

    assert grpc_port(REGISTRY, syracuse, BATCH_RECORDS.name) == 50051
    assert grpc_port(REGISTRY, syracuse, SITE_VIEW.name) == 50052
    assert grpc_port(REGISTRY, songdo, BATCH_RECORDS.name) == 50061
    assert grpc_port(REGISTRY, songdo, SITE_VIEW.name) == 50062
    assert topology.grpc_address(REGISTRY, songdo, SITE_VIEW.name) == "127.0.0.1:50062"


def test_the_base_variable_moves_every_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GRPC_PORT_BASE_VARIABLE, "61000")

    assert grpc_port(REGISTRY, REGISTRY.get("syracuse"), BATCH_RECORDS.name) == 61000
    assert grpc_port(REGISTRY, REGISTRY.get("songdo"), SITE_VIEW.name) == 61011


def test_an_unknown_service_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownServiceError, match="batch_records, site_view"):
        topology.service("no_such_service")


def test_names_and_port_offsets_are_unique_and_fit_a_site_block() -> None:
    assert len({spec.name for spec in PROCESSES}) == len(PROCESSES)
    offsets = [spec.port_offset for spec in PROCESSES]
    assert len(set(offsets)) == len(offsets)
    assert all(1 <= offset < topology.SITE_PORT_STRIDE for offset in offsets)
    assert topology.port_block_size(2) == topology.SITE_PORT_STRIDE + max(offsets)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_an_entry_names_its_service_and_what_it_registers(spec: topology.ServiceSpec) -> None:
    started = importlib.import_module(f"{spec.module}.__main__")
    assert started.SERVICE_NAME == spec.name
    assert spec.module == f"services.{spec.name}"

    registered = started.register(mock.MagicMock(), mock.MagicMock())

    assert tuple(registered) == spec.serves


def test_the_board_is_a_web_page_in_the_site_block_calling_its_sites_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(GRPC_PORT_BASE_VARIABLE, raising=False)
    started = importlib.import_module(f"{BOARD.module}.__main__")

    assert started.SERVICE_NAME == BOARD.name and BOARD.module == f"services.{BOARD.name}"
    assert BOARD not in SERVICES and BOARD in PROCESSES
    assert (BOARD.protocol, BOARD.serves) == ("http", ())
    assert set(BOARD.calls) <= {spec.name for spec in SERVICES}
    port = grpc_port(REGISTRY, REGISTRY.get("songdo"), BOARD.name)
    assert port == 50066
    assert BOARD.url(f"127.0.0.1:{port}") == "http://127.0.0.1:50066/"
    assert topology.address_variable(SITE_VIEW.name) == "TWINLINE_SITE_VIEW_ADDRESS"
    assert all(spec.protocol == "grpc" for spec in SERVICES)
