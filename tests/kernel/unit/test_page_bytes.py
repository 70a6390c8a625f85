"""The byte budget of a List page: items up to the budget, at least one, never more than asked."""

from __future__ import annotations

from twinline.common.v1 import audit_pb2

from services.common.grpc.paging import fitting_page, page_of_messages


def test_a_page_ends_before_its_budget_but_holds_at_least_one_item() -> None:
    assert fitting_page([40, 40, 40], budget=100) == 2  # 46 + 46 fit, a third would not
    assert fitting_page([500, 1], budget=100) == 1  # one item larger than the budget: alone
    assert fitting_page([], budget=100) == 0
    assert fitting_page([1, 1, 1], budget=100) == 3


def test_page_of_messages_measures_serialized_size_and_honours_page_size() -> None:
    entries = [audit_pb2.AuditEntry(new_value="x" * 1000) for _ in range(5)]
    assert len(page_of_messages(entries, 10, budget=2500)) == 2
    assert len(page_of_messages(entries, 3)) == 3  # the default budget: size decides
