"""Who acts: the roles of the quality system and the authenticated principal (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    QC_ANALYST = "qc_analyst"
    QA = "qa"
    PROCESS_ENGINEER = "process_engineer"
    ADMIN = "admin"
    INTEGRATION = "integration"



@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    username: str
    printed_name: str
    roles: frozenset[Role]
    home_site: str

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names to roles; raises ValueError naming the first unknown one."""
    return frozenset(Role(name.strip()) for name in names if name.strip())
