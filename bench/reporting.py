"""The line protocol between a bench subprocess and ``python -m bench``: one JSON object per
line on stdout, ``{"progress": 0..1}``, ``{"event": "..."}`` and finally ``{"result": {...}}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOKEN_ENV = "TWINLINE_BENCH_TOKEN"
VIEW_TOKEN_ENV = "TWINLINE_BENCH_VIEW_TOKEN"
# The MES integration account, which records steps.
MES_TOKEN_ENV = "TWINLINE_BENCH_MES_TOKEN"
# The MES account again, signed in at the conjugation service: it streams readings, creates runs.
CONJUGATION_TOKEN_ENV = "TWINLINE_BENCH_CONJUGATION_TOKEN"
MEASURE_START = "measure-start"
MEASURE_END = "measure-end"


def emit(**line: Any) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
