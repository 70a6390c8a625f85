"""Running a ``twinline`` command as a site's demo user against a test stack, as from a shell:
CliRunner in a thread (the command runs its own event loop), passwords typed at the prompts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.topology import BATCH_RECORDS
from tests.support.stack import Stack


async def twinline(
    stack: Stack, job: str, *args: str, site: str = "syracuse",
    service: str = BATCH_RECORDS.name, signs: int = 0,
) -> Result:
    """``twinline <args>`` as ``<site>.<job>`` at ``service``'s address; the password typed at
    the login prompt and at each of ``signs`` signing prompts."""
    command = [*args, "--site", site, "--user", f"{site}.{job}",
               "--address", stack.address(site, service)]
    typed = "".join(f"{demo_password(job)}\n" for _ in range(1 + signs))
    return await asyncio.to_thread(
        CliRunner().invoke, app, command, input=typed,
        env={"TWINLINE_SITES_FILE": str(stack.registry_file)},
    )


def printed_json(result: Result) -> Any:
    """The JSON document a ``--output json`` command printed after its prompts."""
    return json.loads(result.stdout[result.stdout.index("{"):])
