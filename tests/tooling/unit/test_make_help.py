"""``make help`` lists every target a newcomer types, with what it does."""

from __future__ import annotations

import re
import subprocess

from services.devstack.processes import PROJECT_ROOT


def test_make_help_lists_every_phony_target() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert phony is not None
    targets = set(phony.group(1).split()) - {"help", "gen"}

    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=PROJECT_ROOT, capture_output=True,
        text=True, check=True,
    ).stdout

    listed = {line.split()[1] for line in shown.splitlines() if line.strip().startswith("make ")}
    assert targets <= listed, targets - listed
