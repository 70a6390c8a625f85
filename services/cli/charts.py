"""Control charts of a trend (GetTrend's answer) as PNG, and as a sparkline for the terminal.

Pure rendering: no gRPC, no pyplot. The figure is drawn by matplotlib's Agg canvas, which
needs no display and keeps no global state between charts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

# 1200 x 600 px: the same size on every machine (no "tight" bounding box).
WIDTH_IN, HEIGHT_IN, DPI = 12, 6, 100
# Fixed per site, so Syracuse looks the same on every chart; further sites take the palette.
SITE_STYLES: dict[str, tuple[str, str]] = {
    "syracuse": ("#1f77b4", "o"),
    "songdo": ("#d62728", "s"),
}
FURTHER_SITE_STYLES: tuple[tuple[str, str], ...] = (
    ("#2ca02c", "^"), ("#9467bd", "D"), ("#8c564b", "v"), ("#17becf", "P"),
)
# Rings round the points that break a rule; no site takes this colour.
VIOLATION_COLOUR = "#ff7f0e"
CENTRE_COLOUR = "#333333"
LIMIT_COLOUR = "#7f7f7f"
SPARK_LEVELS = "▁▂▃▄▅▆▇█"


class TrendPointLike(Protocol):
    """One point of a trend (a ``TrendPoint``)."""

    @property
    def site(self) -> str: ...
    @property
    def batch(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def rules(self) -> Sequence[str]: ...


class TrendLike(Protocol):
    """A trend (a ``GetTrendResponse``): decimals as text, empty limits while there are
    fewer than two points."""

    @property
    def center(self) -> str: ...
    @property
    def upper_control_limit(self) -> str: ...
    @property
    def lower_control_limit(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def points(self) -> Sequence[TrendPointLike]: ...


def site_styles(sites: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Colour and marker of each of ``sites``: the fixed ones first, then the palette in the
    order the others appear."""
    styles: dict[str, tuple[str, str]] = {}
    further = iter(FURTHER_SITE_STYLES)
    for site in sites:
        if site in styles:
            continue
        styles[site] = SITE_STYLES.get(site) or next(further, ("#000000", "x"))
    return styles


def control_chart_png(trend: TrendLike, *, title: str) -> bytes:
    """An individuals chart: each point at its number in record order (from 1), coloured
    and marked by its site; centre line and 3-sigma limits labelled with their values; each
    point that breaks a rule ringed and labelled with the rules ("WE1", "N2")."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    figure.subplots_adjust(left=0.08, right=0.86, top=0.91, bottom=0.1)
    unit = f" {trend.unit}" if trend.unit else ""
    points = list(trend.points)
    values = [float(point.value) for point in points]
    numbers = range(1, len(points) + 1)  # the first point is point 1
    styles = site_styles([point.site for point in points])

    for site, (colour, marker) in styles.items():
        indices = [index for index, point in enumerate(points) if point.site == site]
        axes.plot([numbers[index] for index in indices], [values[index] for index in indices],
                  linestyle="none", marker=marker, markersize=8, color=colour, label=site, zorder=3)
    if points:
        axes.plot(numbers, values, color="#c7c7c7", linewidth=1, zorder=2)

    label_at = blended_transform_factory(axes.transAxes, axes.transData)
    lines = (
        ("UCL", trend.upper_control_limit, LIMIT_COLOUR, "--"),
        ("CL", trend.center, CENTRE_COLOUR, "-"),
        ("LCL", trend.lower_control_limit, LIMIT_COLOUR, "--"),
    )
    for name, level, colour, style in lines:
        if not level:
            continue
        axes.axhline(float(level), color=colour, linestyle=style, linewidth=1.2, zorder=1)
        axes.text(1.01, float(level), f"{name} {decimal_text(level)}{unit}", transform=label_at,
                  va="center", ha="left", fontsize=10, color=colour)

    broken = [index for index, point in enumerate(points) if point.rules]
    if broken:
        axes.plot([numbers[index] for index in broken], [values[index] for index in broken],
                  linestyle="none", marker="o", markersize=18, markerfacecolor="none",
                  markeredgecolor=VIOLATION_COLOUR, markeredgewidth=2.5,
                  label="breaks a rule", zorder=4)
    for index in broken:
        axes.annotate(", ".join(points[index].rules), (numbers[index], values[index]),
                      xytext=(10, 10), textcoords="offset points", fontsize=10,
                      fontweight="bold", color=VIOLATION_COLOUR)

    axes.set_title(title)
    axes.set_xlabel("point, in record order")
    axes.set_ylabel(f"value ({trend.unit})" if trend.unit else "value")
    axes.grid(True, color="#eeeeee", zorder=0)
    axes.margins(x=0.05, y=0.15)  # room for the rings and their rule labels
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if points:
        axes.legend(loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def sparkline(values: Sequence[float]) -> str:
    """``values`` as block characters, the lowest ▁ and the highest █; a constant series is
    all one level (the middle)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK_LEVELS[len(SPARK_LEVELS) // 2 - 1] * len(values)
    top = len(SPARK_LEVELS) - 1
    return "".join(
        SPARK_LEVELS[round((value - low) / (high - low) * top)] for value in values
    )


def decimal_text(text: str, places: int = 4) -> str:
    """A decimal as text, rounded to ``places`` and without trailing zeros: "4.4326" for
    sigma = 5.0 / 1.128, "88.5" for "88.50"."""
    rounded = Decimal(text).quantize(Decimal(1).scaleb(-places)).normalize()
    return format(rounded, "f")
