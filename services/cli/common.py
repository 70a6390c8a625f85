"""What every ``twinline`` command shares: where a site's service answers and who calls it
(:class:`Target`), the common options, signatures (the password at a hidden prompt or from
a file descriptor), ``--output json`` and the exit codes.

Exit codes (docs/cli.md), the same for every command:

* 0 — done;
* 1 — the service refused: its reasons are printed, each unmet condition or wrong field;
* 2 — bad arguments: nothing was sent;
* 3 — a check found a problem: a stale site, a broken audit chain, checksums that differ;
* 4 — a service does not answer.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import IntEnum
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import grpc
import typer
from google.protobuf import json_format, message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.markup import escape
from twinline.common.v1 import auth_pb2, signature_pb2

from services.cli import credentials
from services.client.session import Session
from services.common.grpc.status import details_of
from services.common.settings import Settings
from services.common.sites import UnknownSiteError
from services.devstack.topology import BATCH_RECORDS, SITE_VIEW, grpc_address

console = Console()
error_console = Console(stderr=True)
T = TypeVar("T")


class Page(Protocol):
    @property
    def next_page_token(self) -> str: ...


P = TypeVar("P", bound=Page)
CALL_TIMEOUT_S = 30.0
LIST_PAGE_SIZE = 100
MAX_PASSWORD = 1024


class Exit(IntEnum):
    """A command's exit code; the module's docstring says what each means."""

    DONE = 0
    REFUSED = 1
    USAGE = 2
    CHECK_FAILED = 3
    UNREACHABLE = 4


SiteOption = Annotated[
    str | None, typer.Option("--site", help="Site id; default: TWINLINE_SITE or syracuse.")
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", help="Who logs in, e.g. syracuse.qa; default: TWINLINE_USER."),
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="The service's gRPC address; default: its port at the site."),
]
OutputOption = Annotated[
    str, typer.Option("--output", help="text (for people) or json (for scripts).")
]
PasswordFdOption = Annotated[
    int | None,
    typer.Option("--password-fd", help="Read the signing password from this file descriptor "
                 "(automation) instead of a hidden prompt."),
]


ViewOption = Annotated[
    bool,
    typer.Option("--view", help="Read it from the site view (any site's record; --address is "
                 "then the site view's) instead of this site's batch_records."),
]


class Target:
    """Where the site's ``service`` (batch_records unless said) answers, and who calls it."""

    def __init__(
        self, site: str | None, user: str | None, address: str | None,
        service: str = BATCH_RECORDS.name,
    ) -> None:
        settings = Settings(site=site) if site else Settings()
        if settings.site not in settings.registry.ids():
            fail(f"unknown site {settings.site!r}; known: {', '.join(settings.registry.ids())}",
                 Exit.USAGE)
        self.site = settings.site
        self.service = service
        self.address = address or grpc_address(settings.registry, settings.home_site, service)
        # No user named: the token ``twinline login`` kept for the site, if still valid.
        kept = None if user or os.environ.get("TWINLINE_USER") else credentials.load(self.site)
        self.token = kept.token if kept is not None else ""
        self.user = kept.user if kept is not None else (
            user or os.environ.get("TWINLINE_USER") or typer.prompt("User", err=True))
        self.password = "" if kept is not None else typer.prompt(
            f"Password for {self.user}", hide_input=True, err=True)

    def run(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Logs in, runs ``work``; a refusal or an unreachable service ends the command."""
        async def session_work() -> T:
            if self.token:
                channel = grpc.aio.insecure_channel(self.address)
                kept = Session(channel, self.token, auth_pb2.User(username=self.user))
                async with kept as session:
                    return await work(session)
            async with await Session.login(self.address, self.user, self.password) as session:
                return await work(session)

        try:
            return asyncio.run(session_work())
        except grpc.aio.AioRpcError as error:
            refused(error, self.service, self.address)


async def pages(fetch: Callable[[str], Awaitable[P]]) -> AsyncIterator[P]:
    """Every page of a list RPC, each ``fetch(page_token)``, until the one without a next."""
    token = ""
    while True:
        page = await fetch(token)
        yield page
        token = page.next_page_token
        if not token:
            return


def read_secret(prompt: str, descriptor: int | None) -> str:
    """A password: from file descriptor ``descriptor`` (its first line), else a hidden prompt."""
    if descriptor is None:
        return str(typer.prompt(prompt, hide_input=True, err=True))
    try:
        with os.fdopen(descriptor, "r", closefd=False) as given:
            return given.readline(MAX_PASSWORD + 1).rstrip("\n")
    except OSError as error:
        fail(f"cannot read the password from file descriptor {descriptor}: {error}", Exit.USAGE)


def signature(meaning: str, reason: str, descriptor: int | None) -> signature_pb2.SignatureInput:
    """An e-signature's input: the password entered again at each signing (21 CFR 11.200)."""
    password = read_secret(f"Re-enter your password to sign ({meaning})", descriptor)
    return signature_pb2.SignatureInput(password=password, reason=reason)


def owning_site(identifier: str) -> str | None:
    """The site whose code starts a record's id or name ("batches/SYR-B-2026-00042" →
    syracuse), or None when no site of the registry has that code."""
    if not identifier:
        return None
    # The first part of the name that is an id: "masterBatchRecords/SDO-MBR-000001/versions/2".
    code = next((part.partition("-")[0] for part in identifier.split("/") if "-" in part), "")
    try:
        return Settings().registry.by_code(code).id
    except UnknownSiteError:
        return None


def at_home(target: Target, identifier: str, what: str) -> None:
    """Ends the command (exit 2, nothing sent) unless ``identifier`` belongs to the target's
    site: only a record's home site changes it (``what``: e.g. "released")."""
    home = owning_site(identifier)
    if home is not None and home != target.site:
        fail(f"{identifier.rpartition('/')[2]} is {home}'s: it is {what} at {home} "
             f"(--site {home}), not at {target.site}; nothing was sent", Exit.USAGE)


def require_own(record_id: str, site: str | None) -> None:
    """Ends the command (exit 2, nothing sent) when ``record_id`` is another site's: this
    site's batch_records would only answer NOT_FOUND; the site view (``--view``) has it."""
    here = (Settings(site=site) if site else Settings()).site
    home = owning_site(record_id)
    if home is not None and home != here:
        fail(f"{record_id} is {home}'s: {here}'s batch_records keeps only its own records; "
             "add --view to read it from the site view", Exit.USAGE)


def reader(record_id: str, view: bool, site: str | None, user: str | None,
           address: str | None) -> Target:
    """Where a ``show`` reads ``record_id``: the site view with ``--view`` (any site's), else
    this site's batch_records, which keeps only its own (another site's: exit 2)."""
    if view:
        return Target(site, user, address, SITE_VIEW.name)
    require_own(record_id, site)
    return Target(site, user, address)


def checked_output(output: str) -> str:
    """``--output``'s value, refused (exit 2) unless text or json."""
    if output not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--output")
    return output


def as_dict(found: message.Message) -> dict[str, Any]:
    """A message as ``--output json`` prints it: the proto's field names, defaults included."""
    return json_format.MessageToDict(
        found, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def print_json(document: object) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def utc(stamp: Timestamp) -> str:
    return stamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")


def refused(error: grpc.aio.AioRpcError, service: str, address: str) -> NoReturn:
    """A service's refusal as a person reads it: every unmet condition and wrong field."""
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        fail(f"{service} at {address} does not answer ({error.code().name}): "
             "is the site running (make run)?", Exit.UNREACHABLE)
    found = details_of(error)
    error_console.print(
        f"[red]refused[/red] {error.code().name} {found['reason'] or ''}: "
        f"{escape(error.details() or '')}",
        soft_wrap=True, highlight=False,
    )
    for kind, subject, description in found["conditions"]:  # type: ignore[attr-defined]
        error_console.print(
            f"  • {subject}: {description} ({kind})", soft_wrap=True, highlight=False,
            markup=False,
        )
    for field, description in found["field_violations"]:  # type: ignore[attr-defined]
        error_console.print(f"  • {field}: {description}", soft_wrap=True, highlight=False,
                            markup=False)
    raise typer.Exit(Exit.REFUSED)


def fail(message: str, code: int = Exit.REFUSED) -> NoReturn:
    """``message`` on stderr, in red; the command ends with exit ``code``."""
    # Escaped: a message quotes records ("7.1 [pH]"), never terminal markup.
    error_console.print(f"[red]{escape(message)}[/red]", soft_wrap=True, highlight=False)
    raise typer.Exit(int(code))
