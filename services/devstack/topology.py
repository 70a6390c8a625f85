"""The services every site runs and the ports ``make run`` gives them: one entry per service.

Standard library only, so a gRPC client (``twinline review``, ``make demo``) can find a
service's address without loading the servers' dependencies. Adding a service is one entry
in ``SERVICES``: ``make run``, its port table, the tests' ``Stack`` and the bench read it.
Operator tooling that runs as a process of its own beside them (the live board, a web page)
is an entry in ``TOOLS``: ``make run`` starts it too, and a test names it to get one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from services.common.sites import Site, SiteRegistry

# The first site's first service (port offset 1) listens here; documented in the README.
GRPC_PORT_BASE = 50051
# Move the ports of `make run` (two instances on one host, the tests): documented in README.
GRPC_PORT_BASE_VARIABLE = "TWINLINE_RUN_GRPC_PORT_BASE"
# Each further site's services are this much higher: a site has up to 9 services.
SITE_PORT_STRIDE = 10


@dataclass(frozen=True)
class ServiceSpec:
    """One service process of a site."""

    name: str  # its database, log and process name (``services.<name>``), e.g. batch_records
    module: str  # what ``python -m`` runs
    port_offset: int  # 1..9: its port in the site's block of ten (50051 + offset - 1)
    serves: tuple[str, ...]  # the full names of the gRPC services of its own it serves
    # "grpc": gRPC with health checking; "http": a web server (ready when GET /healthz is 200).
    protocol: Literal["grpc", "http"] = "grpc"
    # The services of its own site it calls: each address is given to it in the environment
    # as TWINLINE_<NAME>_ADDRESS (see ``address_variable``).
    calls: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """Its row in ``make run``'s port table: the first service it serves, or its name."""
        return self.serves[0].rpartition(".")[2] if self.serves else f"{self.name} (web)"

    def url(self, address: str) -> str:
        """How a person reaches it at ``address`` (host:port): a web page's URL, or the address."""
        return f"http://{address}/" if self.protocol == "http" else address


BATCH_RECORDS = ServiceSpec(
    name="batch_records", module="services.batch_records", port_offset=1,
    serves=(
        "twinline.batchrecords.v1.MasterBatchRecordService",
        "twinline.batchrecords.v1.BatchRecordService",
        "twinline.batchrecords.v1.EquipmentService",
    ),
)
SITE_VIEW = ServiceSpec(
    name="site_view", module="services.site_view", port_offset=2,
    serves=("twinline.siteview.v1.SiteViewService",),
)
CONJUGATION = ServiceSpec(
    name="conjugation", module="services.conjugation", port_offset=3,
    serves=("twinline.conjugation.v1.ConjugationRunService",
            "twinline.conjugation.v1.ProcessReadingsService"),
)
RELEASE_TESTING = ServiceSpec(
    name="release_testing", module="services.release_testing", port_offset=4,
    serves=("twinline.releasetesting.v1.SpecificationService",
            "twinline.releasetesting.v1.SampleService",
            "twinline.releasetesting.v1.InvestigationService",
            "twinline.releasetesting.v1.DispositionService"),
)
TECH_TRANSFER = ServiceSpec(
    name="tech_transfer", module="services.tech_transfer", port_offset=5,
    serves=("twinline.techtransfer.v1.TechTransferService",),
)

# The live board: a read-only web page of both sites, fed by the site view's WatchChanges,
# behind the log-in of the site's batch records service (services/board).
BOARD = ServiceSpec(
    name="board", module="services.board", port_offset=6, serves=(), protocol="http",
    calls=(BATCH_RECORDS.name, SITE_VIEW.name),
)

# Every site runs one process of each, started in this order.
SERVICES: tuple[ServiceSpec, ...] = (
    BATCH_RECORDS, SITE_VIEW, CONJUGATION, RELEASE_TESTING, TECH_TRANSFER,
)
SERVICE_NAMES: tuple[str, ...] = tuple(service.name for service in SERVICES)
# Operator tooling, one process each per site beside the services (no database, no events).
TOOLS: tuple[ServiceSpec, ...] = (BOARD,)
# What ``make run`` starts at each site, in this order.
PROCESSES: tuple[ServiceSpec, ...] = SERVICES + TOOLS
PROCESS_NAMES: tuple[str, ...] = tuple(spec.name for spec in PROCESSES)


class UnknownServiceError(LookupError):
    """A service name the topology does not list."""


def service(name: str) -> ServiceSpec:
    """The entry of ``name``; UnknownServiceError naming the known ones otherwise."""
    for spec in PROCESSES:
        if spec.name == name:
            return spec
    raise UnknownServiceError(f"unknown service {name!r}; known: {', '.join(PROCESS_NAMES)}")


def address_variable(name: str) -> str:
    """The environment variable that gives a process the address of ``name`` at its site."""
    return f"TWINLINE_{name.upper()}_ADDRESS"


def port_block_size(site_count: int) -> int:
    """Consecutive ports from the base that ``site_count`` sites' processes take."""
    return SITE_PORT_STRIDE * (site_count - 1) + max(spec.port_offset for spec in PROCESSES)


def grpc_port_base() -> int:
    return int(os.environ.get(GRPC_PORT_BASE_VARIABLE, GRPC_PORT_BASE))


def grpc_port(
    registry: SiteRegistry, site: Site, name: str, base: int | None = None
) -> int:
    """batch_records of the first site on 50051, its site_view on 50052; next site +10.

    ``base``: the first site's first port; by default ``TWINLINE_RUN_GRPC_PORT_BASE`` or 50051.
    """
    return port_in_block(
        grpc_port_base() if base is None else base, registry.ids().index(site.id), name
    )


def port_in_block(base: int, site_index: int, name: str) -> int:
    """The port of ``name`` at the site ``site_index`` (0: the registry's first) when the first
    site's port offset 1 is ``base``."""
    return base + SITE_PORT_STRIDE * site_index + service(name).port_offset - 1


def grpc_address(registry: SiteRegistry, site: Site, name: str) -> str:
    """Where ``make run`` serves ``name`` of ``site`` on loopback."""
    return f"127.0.0.1:{grpc_port(registry, site, name)}"
