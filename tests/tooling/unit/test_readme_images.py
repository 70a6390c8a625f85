"""The README's pictures are in the repository, and each names the code that draws it."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
DRAWN_BY = {"docs/images/board.png": "bench/board_screenshot.py",
            "docs/images/report-page.png": "services/devstack/report_page.py"}


def test_every_picture_of_the_readme_exists_and_is_drawn_by_code() -> None:
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert set(DRAWN_BY) <= set(shown)
    for picture, code in DRAWN_BY.items():
        with Image.open(ROOT / picture) as image:
            assert image.format == "PNG" and min(image.size) >= 600, picture
        assert picture in (ROOT / code).read_text(), f"{code} does not write {picture}"
