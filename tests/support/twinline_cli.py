"""Running a ``twinline`` command as a site's demo user against a test stack, as from a shell:
CliRunner in a thread (the command runs its own event loop), passwords typed at the prompts
or, for automation, the signing password written to a pipe passed as ``--password-fd``."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS
from tests.support.stack import Stack


async def twinline(
    stack: Stack, job: str, *args: str, site: str = "syracuse",
    service: str = BATCH_RECORDS.name, signs: int = 0, signing: str | None = None,
    password_fd: str | None = None,
) -> Result:
    """``twinline <args>`` as ``<site>.<job>`` at ``service``'s address; the password typed at
    the login prompt and at each of ``signs`` signing prompts, then ``signing`` (if given) at
    one more; ``password_fd``: the signing password through a pipe, ``--password-fd N``."""
    command = [*args, "--site", site, "--user", f"{site}.{job}",
               "--address", stack.address(site, service)]
    typed = "".join(f"{demo_password(job)}\n" for _ in range(1 + signs))
    typed += f"{signing}\n" if signing is not None else ""
    env = {"TWINLINE_SITES_FILE": str(stack.registry_file)}
    if password_fd is None:
        return await asyncio.to_thread(CliRunner().invoke, app, command, input=typed, env=env)
    read, write = os.pipe()
    os.write(write, f"{password_fd}\n".encode())
    os.close(write)
    try:
        return await asyncio.to_thread(
            CliRunner().invoke, app, [*command, "--password-fd", str(read)], input=typed,
            env=env)
    finally:
        os.close(read)


def printed_json(result: Result) -> Any:
    """The JSON document a ``--output json`` command printed (prompts go to stderr)."""
    return json.loads(result.stdout[result.stdout.index("{"):])


def document(result: Result) -> dict[str, object]:
    """The JSON document of a command that succeeded."""
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded
