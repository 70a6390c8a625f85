"""The control chart's PNG read back with Pillow: its size, each site's colour, and the ring
round a point that breaks a rule (present on a series built to break WE1, absent otherwise);
the terminal's sparkline."""

from __future__ import annotations

import io

from PIL import Image
from twinline.conjugation.v1 import run_service_pb2 as api

from services.cli.charts import (
    DPI,
    HEIGHT_IN,
    SITE_STYLES,
    VIOLATION_COLOUR,
    WIDTH_IN,
    control_chart_png,
    decimal_text,
    site_styles,
    sparkline,
)


def _trend(values: list[str], broken: dict[int, list[str]]) -> api.GetTrendResponse:
    """Alternating sites; centre 90 %, sigma 1 %: limits 87 and 93."""
    return api.GetTrendResponse(
        center="90", upper_control_limit="93", lower_control_limit="87", sigma="1", unit="%",
        points=[
            api.TrendPoint(
                run=f"conjugationRuns/R-{index}", site=("syracuse", "songdo")[index % 2],
                batch=f"batches/B-{index}", value=value, rules=broken.get(index, []),
                record_time="2026-05-01T08:00:00Z",
            )
            for index, value in enumerate(values)
        ],
    )


def _colours(png: bytes) -> set[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=image.width * image.height)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def test_a_point_far_beyond_three_sigma_is_ringed_and_each_site_has_its_colour() -> None:
    # The fifth point, 99 %, is 9 sigma above the centre: Western Electric's first rule.
    trend = _trend(["89.5", "90.4", "90.1", "89.8", "99", "90.2"], {4: ["WE1"]})
    png = control_chart_png(trend, title="TWX-101 · yield")

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH_IN * DPI, HEIGHT_IN * DPI) == (1200, 600)
    colours = _colours(png)
    assert _rgb(SITE_STYLES["syracuse"][0]) in colours
    assert _rgb(SITE_STYLES["songdo"][0]) in colours
    assert _rgb(VIOLATION_COLOUR) in colours


def test_a_chart_without_a_broken_rule_has_no_ring() -> None:
    trend = _trend(["89.5", "90.4", "90.1", "89.8"], {})
    colours = _colours(control_chart_png(trend, title="TWX-101 · yield"))
    assert _rgb(SITE_STYLES["syracuse"][0]) in colours
    assert _rgb(VIOLATION_COLOUR) not in colours


def test_a_trend_without_limits_yet_is_drawn_too() -> None:
    one_point = api.GetTrendResponse(unit="%", points=[
        api.TrendPoint(site="songdo", batch="batches/B-1", value="91.0")
    ])
    png = control_chart_png(one_point, title="one point")
    assert Image.open(io.BytesIO(png)).size == (1200, 600)
    assert control_chart_png(api.GetTrendResponse(), title="nothing yet").startswith(b"\x89PNG")


def test_further_sites_take_the_palette_and_never_the_ring_colour() -> None:
    styles = site_styles(["songdo", "tuas", "syracuse", "tuas", "leiden"])
    assert list(styles) == ["songdo", "tuas", "syracuse", "leiden"]
    assert styles["syracuse"] == ("#1f77b4", "o")
    assert styles["songdo"] == ("#d62728", "s")
    assert len({colour for colour, _ in styles.values()} | {VIOLATION_COLOUR}) == 5


def test_the_sparkline_scales_min_to_max_over_eight_levels() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([90.0, 99.0, 90.0, 94.5]) == "▁█▁▅"
    assert sparkline([]) == ""


def test_a_constant_series_is_one_level() -> None:
    line = sparkline([88.5] * 5)
    assert len(line) == 5 and len(set(line)) == 1


def test_decimals_are_shown_rounded_without_trailing_zeros() -> None:
    assert decimal_text("4.432624113475177304964539007") == "4.4326"
    assert decimal_text("88.50") == "88.5"
    assert decimal_text("100") == "100"
