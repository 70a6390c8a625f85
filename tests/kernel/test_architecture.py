"""The architecture contracts of pyproject.toml ([tool.importlinter]), enforced in CI: a context
meets another only through its protos, events and names.py; layers stay in order; domain
modules import no framework (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(PROJECT_ROOT / "gen")])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    shutil.copytree(
        PROJECT_ROOT / "services", tmp_path / "services",
        ignore=shutil.ignore_patterns("__pycache__", "b2mml"),
    )
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("services/batch_records/master/domain.py", "import grpc",
         "Domain modules and published vocabularies import no framework"),
        ("services/common/domain/errors.py", "import sqlalchemy",
         "Domain modules and published vocabularies import no framework"),
        ("services/site_view/servicer.py",
         "from services.batch_records.master import servicer as _servicer",
         "Contexts meet only through protos, events and each other's names.py"),
        ("services/batch_records/master/domain.py",
         "from services.batch_records.master import handlers as _handlers",
         "Inside each aggregate of batch_records: servicer above handlers above domain"),
        ("services/common/grpc/rpc.py", "import services.site_view.handlers",
         "The kernel knows no context and no tooling"),
        ("services/client/session.py", "import sqlalchemy",
         "Tooling stands apart: a client needs no server code"),
        ("services/conjugation/opcua_bridge/bridge.py",
         "import services.conjugation.readings.handlers",
         "The OPC UA bridge is a client of the readings service: it needs no server code"),
        ("services/board/picture.py", "import services.site_view.queries",
         "The board is a client of the services: it needs no server code"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    copy_of_the_tree: Path, module: str, line: str, contract: str
) -> None:
    path = copy_of_the_tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(copy_of_the_tree)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout
