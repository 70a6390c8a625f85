"""The bench's CPU budget: cost per request and the ceiling it sets on the machine."""

from __future__ import annotations

import pytest

from bench.__main__ import cpu_cost


def figures(rate: float, cores_used: float | None) -> dict[str, object]:
    return {"requests_per_s": rate, "cpu": {} if cores_used is None else {"cores_ours": cores_used}}


def test_cost_per_request_and_the_ceiling_it_sets() -> None:
    cost = cpu_cost(figures(400.0, 1.6), figures(4000.0, 2.0), cores=2)
    assert cost["ms_per_request"] == pytest.approx(4.0)  # 1.6 cores / 400 per s
    assert cost["echo_ms_per_request"] == pytest.approx(0.5)
    assert cost["ceiling_requests_per_s"] == pytest.approx(500.0)  # 2 cores / 4 ms
    assert cost["ceiling_ratio"] == pytest.approx(0.125)
    # 0.6 * 4000 req/s on 2 cores leaves 2000 ms / 2400 per request.
    assert cost["ms_for_target"] == pytest.approx(0.833)


def test_a_run_without_cpu_figures_has_no_ceiling() -> None:
    cost = cpu_cost(figures(400.0, None), figures(4000.0, 2.0), cores=2)
    assert cost["ms_per_request"] is None
    assert cost["ceiling_requests_per_s"] is None
    assert cost["ceiling_ratio"] is None
    assert cost["ms_for_target"] == pytest.approx(0.833)
