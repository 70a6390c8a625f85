"""Where the operator CLI's console script is, said as a path one can paste (standard library
only: ``make run`` and ``make demo`` both print it)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


def twinline_command() -> str:
    """The ``twinline`` script beside this interpreter, relative to the working directory
    when it is below it."""
    script = Path(sys.executable).parent / "twinline"
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)
