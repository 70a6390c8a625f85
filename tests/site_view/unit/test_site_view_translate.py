"""The view's text for a batch state: what it stores and filters on, and back."""

from __future__ import annotations

import pytest
from twinline.batchrecords.v1 import batch_pb2 as pb

from services.site_view.translate import batch_state_text, batch_state_value


def test_a_state_is_stored_as_plain_text() -> None:
    assert batch_state_text(pb.BATCH_STATE_IN_REVIEW) == "in_review"


@pytest.mark.parametrize("state", [*pb.BatchState.values(), 42])
def test_every_state_survives_the_round_trip(state: int) -> None:
    # 42: a state of a newer release at the home site is kept as it came.
    assert batch_state_value(batch_state_text(state)) == state
