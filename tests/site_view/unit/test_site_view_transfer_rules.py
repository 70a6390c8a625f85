"""The site view's rules for transfer packages and effectivity: each part is kept when its own
etag is newer, the state is the newer part's, and a version is effective at home only while
its state says so."""

from __future__ import annotations

import pytest

from services.site_view import domain

PACKAGE = domain.ReplicaPackage("SYR-TP-000001", "syracuse", "songdo")


def sender(version: int, revision: int, sent: bool = True) -> domain.SenderPart:
    return domain.SenderPart(version=version, revision=revision, sent=sent)


def receipt(version: int, revision: int, state: str) -> domain.ReceiptPart:
    return domain.ReceiptPart(version=version, revision=revision, state=state)


@pytest.mark.parametrize(
    ("held_sender", "held_receipt", "state"),
    [
        (sender(1, 1, sent=False), None, "draft"),
        (sender(2, 1), None, "sent"),
        (sender(2, 1), receipt(1, 1, "received"), "received"),
        (sender(2, 1), receipt(3, 1, "returned"), "returned"),
        # Revised after a return: a draft again, then sent, whatever revision 1's receipt said.
        (sender(3, 2, sent=False), receipt(3, 1, "returned"), "draft"),
        (sender(4, 2), receipt(3, 1, "returned"), "sent"),
        # The receipt came before the sender's events of its revision (or before any).
        (sender(2, 1), receipt(4, 2, "received"), "received"),
        (None, receipt(2, 1, "under_review"), "under_review"),
    ],
)
def test_the_state_is_the_newer_parts(
    held_sender: domain.SenderPart | None, held_receipt: domain.ReceiptPart | None, state: str
) -> None:
    package = domain.ReplicaPackage(
        PACKAGE.package_id, PACKAGE.sending_site, PACKAGE.receiving_site, held_sender,
        held_receipt,
    )
    assert package.state == state


def test_each_part_is_taken_only_when_its_own_etag_is_newer() -> None:
    held = domain.with_sender_part(PACKAGE, sender(2, 1))
    assert held is not None
    assert domain.with_sender_part(held, sender(2, 1)) is None
    assert domain.with_sender_part(held, sender(1, 1, sent=False)) is None
    with_receipt = domain.with_receipt(held, receipt(1, 1, "received"))
    assert with_receipt is not None and with_receipt.sender == held.sender
    assert domain.with_receipt(with_receipt, receipt(1, 1, "received")) is None
    newer = domain.with_sender_part(with_receipt, sender(10, 1))
    assert newer is not None and newer.receipt == with_receipt.receipt


@pytest.mark.parametrize("etag", ["", "0", "-1", "1-2", "\u0661"])  # the last: Arabic-Indic one
def test_a_malformed_package_etag_is_refused(etag: str) -> None:
    with pytest.raises(ValueError):
        domain.decimal_version_of(etag)


@pytest.mark.parametrize(
    ("state", "effective"),
    [("effective", True), ("superseded", False), ("approved", False), ("unknown_9", False)],
)
def test_a_version_is_effective_at_home_only_while_its_state_says_so(
    state: str, effective: bool
) -> None:
    assert domain.is_effective_at_home(state) is effective
