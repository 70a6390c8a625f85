"""``make run``'s overview on a real identity database: a changed demo password shows as
"(changed)" without any log-in attempt, and the tables fit 80 columns."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from rich.console import Console

from services.common.identity.directory import open_user_directory
from services.common.settings import Settings
from services.common.sites import DEFAULT_REGISTRY, SiteRegistry
from services.devstack.launcher import Deployment, _print_overview
from services.devstack.topology import PROCESSES


def overview(deployment: Deployment) -> str:
    out = io.StringIO()
    users = deployment.seed_demo_users()
    _print_overview(Console(file=out, width=80), deployment, users)
    return out.getvalue()


def test_a_changed_demo_password_is_shown_changed_without_a_failed_log_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = Deployment.default(SiteRegistry.load(DEFAULT_REGISTRY), tmp_path)
    deployment.seed_demo_users()
    directory = open_user_directory(Settings(site="syracuse", data_dir=tmp_path))
    directory.set_password("syracuse.qa", "a password of my own 42")

    with caplog.at_level(logging.INFO):
        shown = [overview(deployment) for _ in range(6)]  # six restarts of `make run`

    qa_row = next(line for line in shown[-1].splitlines() if "syracuse.qa " in line)
    assert "(changed)" in qa_row
    account = directory.get("syracuse.qa")
    assert account is not None
    assert account.locked_time is None and account.failed_attempts == 0
    assert not [r for r in caplog.records if "failed authentication" in r.getMessage()]
    assert "twinline-demo-author" in shown[-1]  # an unchanged one still shows its password


def test_the_overview_prints_the_console_script_it_suggests(tmp_path: Path) -> None:
    deployment = Deployment.default(SiteRegistry.load(DEFAULT_REGISTRY), tmp_path)

    text = overview(deployment)

    suggested = next(line for line in text.splitlines() if "users set-password" in line)
    script = suggested.split(": ", 1)[1].split()[0]
    assert Path(script).name == "twinline" and Path(script).exists(), suggested


def test_the_overview_fits_80_columns_without_cutting_a_cell(tmp_path: Path) -> None:
    deployment = Deployment.default(SiteRegistry.load(DEFAULT_REGISTRY), tmp_path)

    text = overview(deployment)

    assert "…" not in text
    table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    for site in deployment.registry.sites:
        for spec in PROCESSES:
            assert spec.url(deployment.address(site.id, spec.name)) in text
        assert f"127.0.0.1:{deployment.nats_ports[site.id]}" in text
