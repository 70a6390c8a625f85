"""Demo accounts for one site, one per job in the batch-record workflow, with known passwords."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from services.common.domain import errors
from services.common.domain.roles import Role

if TYPE_CHECKING:  # a client of the demo (make demo) needs the passwords, not the directory
    from services.common.identity.directory import UserDirectory


class DemoUser(NamedTuple):
    username: str
    password: str
    roles: tuple[Role, ...]
    site: str
    # False: the account was already there (its password may have been changed since).
    created: bool


# (job, printed name, roles): the username is "<site>.<job>", the password "twinline-demo-<job>".
DEMO_JOBS: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("author", "Dana Whitfield", (Role.PROCESS_ENGINEER,)),
    # Writes master records and holds QA too: she may approve others' records, never her own.
    ("engineer-qa", "Hana Seo", (Role.PROCESS_ENGINEER, Role.QA)),
    ("reviewer", "Marcus Okafor", (Role.SUPERVISOR,)),
    ("qa", "Priya Raman", (Role.QA,)),
    ("analyst", "Tomás Herrera", (Role.QC_ANALYST,)),
    # A second analyst, because a result is reviewed by one who did not enter it.
    ("analyst2", "Aisha Rahman", (Role.QC_ANALYST,)),
    ("operator", "Jin-woo Park", (Role.OPERATOR,)),
    # A second operator, because the verifier of a step may not be the one who executed it.
    ("verifier", "Elena Novak", (Role.OPERATOR,)),
    ("mes", "MES interface", (Role.INTEGRATION,)),
    ("admin", "Sam Lindqvist", (Role.ADMIN,)),
)


def demo_password(job: str) -> str:
    return f"twinline-demo-{job}"


def ensure_demo_users(directory: UserDirectory, site_id: str) -> list[DemoUser]:
    """Creates the demo accounts of ``site_id`` that are missing; reports every one of them."""
    site_name = site_id.replace("-", " ").replace("_", " ").title()
    users = []
    for job, name, roles in DEMO_JOBS:
        username = f"{site_id}.{job}"
        created = directory.get(username) is None
        if created:
            try:
                directory.add_user(
                    username, f"{name} ({site_name} {job})", demo_password(job), roles, site_id
                )
            except errors.AlreadyExists:
                created = False  # another service of this site seeded it a moment ago
        users.append(DemoUser(username, demo_password(job), roles, site_id, created))
    return users
