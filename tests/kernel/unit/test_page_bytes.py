"""The byte budget of a List page: items up to the budget, at least one, never more than asked."""

from __future__ import annotations

from twinline.common.v1 import audit_pb2, signature_pb2

from services.common.grpc.paging import (
    decode_position,
    fitting_page,
    page_of_keyed,
    page_of_messages,
)


def test_a_page_ends_before_its_budget_but_holds_at_least_one_item() -> None:
    assert fitting_page([40, 40, 40], budget=100) == 2  # 46 + 46 fit, a third would not
    assert fitting_page([500, 1], budget=100) == 1  # one item larger than the budget: alone
    assert fitting_page([], budget=100) == 0
    assert fitting_page([1, 1, 1], budget=100) == 3


def test_page_of_messages_measures_serialized_size_and_honours_page_size() -> None:
    entries = [audit_pb2.AuditEntry(new_value="x" * 1000) for _ in range(5)]
    assert len(page_of_messages(entries, 10, budget=2500)) == 2
    assert len(page_of_messages(entries, 3)) == 3  # the default budget: size decides


def test_a_keyed_page_holds_its_messages_and_the_token_of_its_last_key() -> None:
    def rows(*keys: object) -> list[tuple[object, signature_pb2.Signature]]:
        return [(key, signature_pb2.Signature(signer=str(key))) for key in keys]

    page, token = page_of_keyed(rows("a", "b", "c"), 2)  # read size + 1: there is more
    assert ([m.signer for m in page], decode_position(token, str)) == (["a", "b"], ("b",))
    page, token = page_of_keyed(rows(("SYR-SP-000001", 1), ("SYR-SP-000001", 2)), 2)
    assert (len(page), token) == (2, "")  # the last page
    page, token = page_of_keyed(rows(("X", 1), ("X", 2), ("Y", 1)), 2)
    assert decode_position(token, str, int) == ("X", 2)
