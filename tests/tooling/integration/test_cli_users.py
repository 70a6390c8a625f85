"""``twinline users`` on a real identity database: add, lock-out shown by list, unlock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from services.cli import users as cli_users
from services.cli.app import app
from services.common.domain import errors
from services.common.identity.directory import MAX_FAILED_ATTEMPTS, open_user_directory
from services.common.settings import Settings
from services.devstack.demo_users import DEMO_JOBS, ensure_demo_users

PASSWORD = "correct horse battery"


def test_a_locked_user_is_listed_as_locked_and_unlocked_by_the_admin(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TWINLINE_DATA_DIR": str(tmp_path)}
    added = runner.invoke(
        app,
        ["users", "add", "syracuse.bob", "--name", "Bob Okafor", "--role", "operator",
         "--site", "syracuse", "--password", PASSWORD],
        env=env,
    )
    assert added.exit_code == 0, added.output
    directory = open_user_directory(Settings(site="syracuse", data_dir=tmp_path))
    for attempt in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(errors.Unauthenticated):
            directory.authenticate("syracuse.bob", f"wrong {attempt}")

    listed = runner.invoke(app, ["users", "list", "--site", "syracuse"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "locked since" in listed.output  # the Status column of syracuse.bob

    unlocked = runner.invoke(
        app, ["users", "unlock", "syracuse.bob", "--site", "syracuse"], env=env
    )
    assert unlocked.exit_code == 0, unlocked.output
    assert directory.authenticate("syracuse.bob", PASSWORD).username == "syracuse.bob"
    relisted = runner.invoke(app, ["users", "list", "--site", "syracuse"], env=env)
    assert "locked since" not in relisted.output

    unknown = runner.invoke(
        app, ["users", "unlock", "syracuse.nobody", "--site", "syracuse"], env=env
    )
    assert unknown.exit_code == 1
    assert "no user syracuse.nobody" in unknown.output
    as_json = runner.invoke(app, ["users", "list", "--site", "syracuse", "--output", "json"],
                            env=env)
    assert as_json.exit_code == 0, as_json.output
    bob = next(u for u in json.loads(as_json.stdout)["users"] if u["username"] == "syracuse.bob")
    assert (bob["printed_name"], bob["roles"], bob["locked_time"]) == (
        "Bob Okafor", ["operator"], None)
    directory.engine.dispose()


def test_set_password_finds_the_site_the_username_names(tmp_path: Path) -> None:
    # No --site and TWINLINE_SITE unset: "songdo.admin" names Songdo.
    songdo = Settings(site="songdo", data_dir=tmp_path)
    ensure_demo_users(open_user_directory(songdo), "songdo")
    env = {"TWINLINE_DATA_DIR": str(tmp_path)}

    changed = CliRunner().invoke(
        app, ["users", "set-password", "songdo.admin", "--password", PASSWORD], env=env
    )

    assert changed.exit_code == 0, changed.output
    assert open_user_directory(songdo).password_is("songdo.admin", PASSWORD)

    # For automation, the new password from a file descriptor, never on the command line.
    read, write = os.pipe()
    os.write(write, b"another horse battery\n")
    os.close(write)
    try:
        piped = CliRunner().invoke(
            app, ["users", "set-password", "songdo.admin", "--password-fd", str(read),
                  "--output", "json"], env=env)
    finally:
        os.close(read)
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout) == {"password_changed": "songdo.admin"}
    assert open_user_directory(songdo).password_is("songdo.admin", "another horse battery")


def test_users_list_fits_80_columns_without_cutting_a_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_users, "console", Console(width=80))
    directory = open_user_directory(Settings(site="syracuse", data_dir=tmp_path))
    ensure_demo_users(directory, "syracuse")
    for attempt in range(MAX_FAILED_ATTEMPTS):  # a locked account: the widest Locked cell
        with pytest.raises(errors.Unauthenticated):
            directory.authenticate("syracuse.qa", f"wrong {attempt}")

    listed = CliRunner().invoke(
        app, ["users", "list", "--site", "syracuse"], env={"TWINLINE_DATA_DIR": str(tmp_path)}
    )

    assert listed.exit_code == 0, listed.output
    assert "…" not in listed.output
    assert max(len(line) for line in listed.output.splitlines()) <= 80
    for _, name, _ in DEMO_JOBS:
        assert name.split()[0] in listed.output
