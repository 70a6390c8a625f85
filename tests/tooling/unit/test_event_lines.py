"""``twinline events tail``'s line for a person: when, where, what, to what, and the few
fields that say it (who signed and what for, the state the record is now in)."""

from __future__ import annotations

from services.cli.events import line_of


def event(resource: str, payload: dict[str, object] | None) -> dict[str, object]:
    return {"time": "2026-12-03T12:00:53.123456Z", "site": "songdo", "context": "batchrecords",
            "event": "master_batch_record.approved", "resource": resource, "payload": payload}


def test_a_signed_change_says_who_signed_what_for_and_the_new_state() -> None:
    line = line_of(event("masterBatchRecords/SDO-MBR-000004/versions/2", {
        "master_batch_record": {"state": "MASTER_BATCH_RECORD_STATE_APPROVED", "steps": []},
        "signature": {"signer": "songdo.qa", "meaning": "SIGNATURE_MEANING_APPROVED"},
    }))
    assert line == ("12:00:53 songdo    batchrecords  master_batch_record.approved "
                    "SDO-MBR-000004@2 now APPROVED signed by songdo.qa (APPROVED)")


def test_short_fields_and_lists_are_shown_and_an_unknown_type_says_so() -> None:
    shown = line_of(event("batches/SDO-B-2026-00001", {"step_ids": ["S1", "S2"]}))
    assert shown.endswith("SDO-B-2026-00001 step_ids=S1,S2")
    assert line_of(event("batches/SDO-B-2026-00001", None)).endswith("(undecoded)")
    assert line_of({**event("x/y", {}), "time": "not a time"}).startswith("--:--:--")
