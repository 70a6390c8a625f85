"""``twinline login`` and ``logout`` against a real batch_records: the token kept owner-only
in the user's config directory, later commands using it without a password, a refused
log-in keeping nothing, and the password read from a file descriptor for automation."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from services.cli.app import app
from services.devstack.demo_users import demo_password
from services.devstack.processes import PROJECT_ROOT
from services.devstack.topology import BATCH_RECORDS
from tests.support.stack import Stack, stack_fixture

stack = stack_fixture(services=[BATCH_RECORDS.name])


def env_of(stack: Stack, config: Path) -> dict[str, str]:
    return {"TWINLINE_SITES_FILE": str(stack.registry_file), "XDG_CONFIG_HOME": str(config),
            "TWINLINE_USER": ""}


async def twinline(stack: Stack, config: Path, *args: str, typed: str = "") -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), input=typed,
                                   env=env_of(stack, config))


async def test_a_kept_token_serves_later_commands_until_logout(
    stack: Stack, tmp_path: Path,
) -> None:
    address = stack.address("syracuse", BATCH_RECORDS.name)
    where = ("--site", "syracuse", "--address", address)
    refused = await twinline(stack, tmp_path, "login", *where, "--user", "syracuse.qa",
                             typed="wrong password\n")
    assert refused.exit_code == 1 and "log-in refused" in refused.output, refused.output
    assert not (tmp_path / "twinline" / "credentials.json").exists()

    logged = await twinline(stack, tmp_path, "login", *where, "--user", "syracuse.qa",
                            typed=f"{demo_password('qa')}\n")
    assert logged.exit_code == 0, logged.output
    kept = tmp_path / "twinline" / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert json.loads(kept.read_text())["syracuse"]["user"] == "syracuse.qa"

    # No user, no password typed: the kept token logs the command in.
    listed = await twinline(stack, tmp_path, "review", "list", *where)
    assert listed.exit_code == 0, listed.output

    again = await twinline(stack, tmp_path, "login", *where, "--user", "syracuse.qa",
                           "--output", "json", typed=f"{demo_password('qa')}\n")
    assert again.exit_code == 0, again.output
    said = json.loads(again.stdout)  # the prompt went to stderr: stdout is the document
    assert (said["site"], said["user"], said["credentials"]) == (
        "syracuse", "syracuse.qa", str(kept))

    out = await twinline(stack, tmp_path, "logout", "--site", "syracuse")
    assert out.exit_code == 0 and "Logged out of syracuse" in out.output
    assert "syracuse" not in json.loads(kept.read_text())
    asked = await twinline(stack, tmp_path, "review", "list", *where)
    assert asked.exit_code != 0 and "User" in asked.output  # asked who, nothing typed
    nothing_kept = await twinline(stack, tmp_path, "logout", "--output", "json")
    assert nothing_kept.exit_code == 0 and json.loads(nothing_kept.stdout) == {"logged_out": []}


async def test_the_password_is_read_from_a_file_descriptor_for_automation(
    stack: Stack, tmp_path: Path,
) -> None:
    read, write = os.pipe()
    os.write(write, f"{demo_password('mes')}\n".encode())
    os.close(write)
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "services.cli.app", "login", "--site", "syracuse",
             "--user", "syracuse.mes", "--password-fd", str(read),
             "--address", stack.address("syracuse", BATCH_RECORDS.name)],
            env={**os.environ, **env_of(stack, tmp_path)}, cwd=PROJECT_ROOT, pass_fds=(read,),
            capture_output=True, text=True, timeout=60,
        )
    finally:
        os.close(read)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = json.loads((tmp_path / "twinline" / "credentials.json").read_text())
    assert kept["syracuse"]["user"] == "syracuse.mes" and kept["syracuse"]["token"]
