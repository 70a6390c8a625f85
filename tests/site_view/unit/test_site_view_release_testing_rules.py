"""The view's rules for release testing: how it reads a sample, investigation or disposition
event, which events it replicates and which it only counts, and the text it stores an
investigation's state and a disposition's decision as."""

from __future__ import annotations

import pytest
from twinline.events.v1 import release_testing_events_pb2 as release_testing_events
from twinline.releasetesting.v1 import disposition_pb2 as disposition_pb
from twinline.releasetesting.v1 import investigation_pb2 as investigation_pb
from twinline.releasetesting.v1 import sample_pb2 as sample_pb

from services.site_view import domain, handlers
from services.site_view.translate import decision_text, investigation_state_text
from tests.support.replica_events import (
    BATCH_ID,
    INVESTIGATION_ID,
    SAMPLE_ID,
    SITE,
    T0,
    disposition_decided,
    disposition_of_batch,
    investigation_at,
    investigation_changed,
    received,
    release_testing_event,
    sample_at,
    sample_changed,
)


def sample(revision: int) -> domain.ReplicaSample:
    return domain.ReplicaSample(SAMPLE_ID, SITE, BATCH_ID, revision)


def test_only_a_newer_sample_revision_replaces_the_stored_one() -> None:
    assert domain.supersedes(sample(3), sample(2))
    assert domain.supersedes(sample(1), None)
    assert not domain.supersedes(sample(2), sample(2))
    assert not domain.supersedes(sample(1), sample(2))


def test_every_sample_investigation_and_disposition_event_is_replicated() -> None:
    assert handlers.SAMPLE_EVENT_TYPES == {
        release_testing_events.SampleChanged.DESCRIPTOR.full_name
    }
    assert handlers.INVESTIGATION_EVENT_TYPES == {
        release_testing_events.InvestigationChanged.DESCRIPTOR.full_name
    }
    assert handlers.DISPOSITION_EVENT_TYPES == {
        release_testing_events.DispositionDecided.DESCRIPTOR.full_name
    }


def test_a_sample_event_carries_the_sample_with_its_results() -> None:
    found = sample_at(4, sample_pb.RESULT_STATE_INVALIDATED, sample_pb.RESULT_STATE_REVIEWED)
    taken = handlers.replica_event(received(sample_changed(found, "result_reviewed")))
    assert taken.replica_sample == domain.ReplicaSample(SAMPLE_ID, SITE, BATCH_ID, 4)
    assert taken.sample is not None
    assert [r.state for r in taken.sample.assignments[0].results] == [
        sample_pb.RESULT_STATE_INVALIDATED, sample_pb.RESULT_STATE_REVIEWED,
    ]
    assert taken.replica_run is None and taken.replica_investigation is None


def test_an_investigation_event_carries_its_batch_state_and_revision() -> None:
    found = investigation_at(2, investigation_pb.INVESTIGATION_STATE_PHASE_TWO)
    taken = handlers.replica_event(received(investigation_changed(found, "phase_one_concluded")))
    assert taken.replica_investigation == domain.ReplicaInvestigation(
        INVESTIGATION_ID, SITE, BATCH_ID, "phase_two", 2
    )


def test_a_disposition_event_carries_its_batch_number_and_decision() -> None:
    found = disposition_of_batch(2, disposition_pb.DISPOSITION_DECISION_RELEASED)
    taken = handlers.replica_event(received(disposition_decided(found)))
    assert taken.replica_disposition == domain.ReplicaDisposition(BATCH_ID, 2, SITE, "released")


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""}, {"name": "samples/1"}, {"home_site": ""}, {"etag": ""}, {"etag": "1-2"},
        {"batch": BATCH_ID}, {"batch": "batches/"}, {"batch": "batches/" + "X" * 65},
    ],
)
def test_a_malformed_sample_is_refused(change: dict[str, str]) -> None:
    malformed = sample_at(1)
    for field, value in change.items():
        setattr(malformed, field, value)
    with pytest.raises(ValueError):
        handlers.replica_event(received(sample_changed(malformed)))


@pytest.mark.parametrize(
    "change",
    [{"name": "investigations/OOS-1"}, {"home_site": ""}, {"etag": "x"}, {"batch": ""}],
)
def test_a_malformed_investigation_is_refused(change: dict[str, str]) -> None:
    malformed = investigation_at(1, investigation_pb.INVESTIGATION_STATE_PHASE_ONE)
    for field, value in change.items():
        setattr(malformed, field, value)
    with pytest.raises(ValueError):
        handlers.replica_event(received(investigation_changed(malformed)))


@pytest.mark.parametrize(
    "change",
    [
        {"name": f"batches/{BATCH_ID}/dispositions/0"}, {"name": f"batches/{BATCH_ID}"},
        {"batch": "batches/SYR-B-2026-00043"}, {"home_site": ""},
    ],
    ids=["number 0", "no number", "another batch", "no site"],
)
def test_a_malformed_disposition_is_refused(change: dict[str, str]) -> None:
    malformed = disposition_of_batch(1, disposition_pb.DISPOSITION_DECISION_ON_HOLD)
    for field, value in change.items():
        setattr(malformed, field, value)
    with pytest.raises(ValueError):
        handlers.replica_event(received(disposition_decided(malformed)))


def test_specification_and_certificate_events_only_move_the_watermark() -> None:
    for payload, aggregate, suffix in [
        (release_testing_events.SpecificationChanged(), "specification", "approved"),
        (release_testing_events.CertificateIssued(), "certificate", "issued"),
    ]:
        event = release_testing_event(
            payload, aggregate, suffix, T0, site=SITE, ce_subject="x"
        )
        taken = handlers.replica_event(received(event))
        assert taken == handlers.ReplicaEvent(taken.event)


def test_a_state_or_decision_is_stored_as_plain_text_and_an_unknown_one_kept() -> None:
    assert investigation_state_text(
        investigation_pb.INVESTIGATION_STATE_CLOSED_CONFIRMED
    ) == "closed_confirmed"
    assert investigation_state_text(42) == "unknown_42"
    assert decision_text(disposition_pb.DISPOSITION_DECISION_ON_HOLD) == "on_hold"
    assert decision_text(disposition_pb.DISPOSITION_DECISION_UNSPECIFIED) == "unknown_0"
