"""``twinline audit verify`` on a real service database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from services.cli.app import app
from services.common.persistence.audit import GENESIS_HASH, AuditChange, ChainHead, chain_entries
from services.common.persistence.database import KERNEL_MIGRATIONS, create_database_engine, migrate
from services.common.persistence.tables import AuditEntryRow


def test_verify_reports_an_intact_chain_and_the_first_edited_entry(tmp_path: Path) -> None:
    database = tmp_path / "syracuse" / "batch_records.db"
    engine = create_database_engine(f"sqlite:///{database}")
    migrate(engine, KERNEL_MIGRATIONS)
    rows, _ = chain_entries(
        ChainHead(0, GENESIS_HASH),
        [AuditChange("alice", "x.done", "x", f"X{i}", "", f"{i}") for i in range(4)],
        site="syracuse", occur_time="2026-11-25T08:00:00.000000Z",
    )
    with engine.begin() as connection:
        connection.execute(AuditEntryRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    engine.dispose()
    runner = CliRunner()
    env = {"TWINLINE_DATA_DIR": str(tmp_path), "TWINLINE_NATS_URL": "nats://127.0.0.1:1"}
    intact = runner.invoke(app, ["audit", "verify", "--site", "syracuse"], env=env)
    assert intact.exit_code == 0, intact.output
    assert "4 entries, chain intact" in intact.output
    # No NATS: the chain is still verified, and the answer says the head was not anchored.
    assert "head not anchored: NATS at nats://127.0.0.1:1 not reachable" in intact.output
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE audit_entry SET actor = 'mallory' WHERE sequence = 2")
    broken = runner.invoke(app, ["audit", "verify", "--site", "syracuse"], env=env)
    assert broken.exit_code == 3  # a check found a problem
    assert "entry 2 does not verify" in broken.output
    as_json = runner.invoke(app, ["audit", "verify", "--site", "syracuse", "--output", "json"],
                            env=env)
    assert as_json.exit_code == 3
    found = json.loads(as_json.stdout)
    assert (found["intact"], found["first_broken_sequence"]) == (False, 2)
    assert found["witnessed"] is None and "not reachable" in found["note"]
