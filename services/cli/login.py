"""``twinline login`` and ``twinline logout``: a site's token kept for later commands.

    twinline login --site syracuse --user syracuse.qa        # the password at a hidden prompt
    twinline login --user syracuse.mes --password-fd 3 3<secret   # for automation
    twinline logout [--site syracuse]

Exit codes: 0 done, 1 the log-in was refused, 2 bad arguments, 4 the service does not
answer.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import grpc
import typer
from rich.console import Console
from twinline.common.v1 import auth_pb2, auth_pb2_grpc

from services.cli.common import (
    AddressOption,
    Exit,
    OutputOption,
    SiteOption,
    checked_output,
    fail,
    print_json,
    read_secret,
)
from services.cli.credentials import Credential, config_dir, forget, save
from services.common.settings import Settings
from services.devstack.topology import BATCH_RECORDS, grpc_address

console = Console()


def login(
    site: SiteOption = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Who logs in, e.g. syracuse.qa; default: TWINLINE_USER.")] = None,
    password_fd: Annotated[int | None, typer.Option(
        "--password-fd", help="Read the password from this file descriptor (automation).",
    )] = None,
    address: AddressOption = None,
    output: OutputOption = "text",
) -> None:
    """Log in at a site and keep its token (owner-only) for later commands."""
    checked_output(output)
    settings = Settings(site=site) if site else Settings()
    if settings.site not in settings.registry.ids():
        fail(f"unknown site {settings.site!r}; known: {', '.join(settings.registry.ids())}",
             Exit.USAGE)
    who = user or os.environ.get("TWINLINE_USER") or str(typer.prompt("User", err=True))
    password = read_secret(f"Password for {who}", password_fd)
    target = address or grpc_address(settings.registry, settings.home_site, BATCH_RECORDS.name)

    async def logged_in() -> auth_pb2.LoginResponse:
        async with grpc.aio.insecure_channel(target) as channel:
            answer: auth_pb2.LoginResponse = await auth_pb2_grpc.AuthenticationServiceStub(
                channel).Login(auth_pb2.LoginRequest(username=who, password=password),
                               timeout=10)
            return answer

    try:
        answer = asyncio.run(logged_in())
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            fail(f"the service at {target} does not answer: is `make run` running?",
                 Exit.UNREACHABLE)
        fail(f"log-in refused: {error.details()}")
    expires = answer.expire_time.ToDatetime().isoformat() + "+00:00"
    path = save(Credential(settings.site, who, answer.access_token, expires))
    if output == "json":
        print_json({"site": settings.site, "user": who, "printed_name": answer.user.printed_name,
                    "expires": expires, "credentials": str(path)})
        return
    console.print(f"Logged in at {settings.site} as {answer.user.printed_name} ({who}) until "
                  f"{expires[:16].replace('T', ' ')} UTC; the token is in {path}.")


def logout(site: SiteOption = None, output: OutputOption = "text") -> None:
    """Forget the kept token of a site (of every site without --site)."""
    checked_output(output)
    gone = forget(site)
    if output == "json":
        print_json({"logged_out": gone})
        return
    if gone:
        console.print(f"Logged out of {', '.join(gone)}.")
    else:
        console.print(f"No token kept{f' for {site}' if site else ''} in {config_dir()}.")
