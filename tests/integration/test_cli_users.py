"""``twinline users`` on a real identity database: add, lock-out shown by list, unlock."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common import errors
from services.common.identity import MAX_FAILED_ATTEMPTS, open_user_directory
from services.common.settings import Settings

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
    assert "since" in listed.output  # the Locked column of syracuse.bob

    unlocked = runner.invoke(
        app, ["users", "unlock", "syracuse.bob", "--site", "syracuse"], env=env
    )
    assert unlocked.exit_code == 0, unlocked.output
    assert directory.authenticate("syracuse.bob", PASSWORD).username == "syracuse.bob"
    relisted = runner.invoke(app, ["users", "list", "--site", "syracuse"], env=env)
    assert "since" not in relisted.output

    unknown = runner.invoke(
        app, ["users", "unlock", "syracuse.nobody", "--site", "syracuse"], env=env
    )
    assert unknown.exit_code == 1
    assert "no user syracuse.nobody" in unknown.output
    directory.engine.dispose()
