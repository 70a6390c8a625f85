"""The bounds of every input (common/domain/bounds.py, docs/bounds.md), without a server."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from twinline.batchrecords.v1 import batch_service_pb2 as api

from services.common.domain import bounds
from services.common.domain.errors import FieldViolation, InvalidArgument, NotFound, Violations
from services.common.grpc.paging import decode_offset, decode_position
from services.common.grpc.request_bounds import request_violations
from services.common.grpc.status import ERROR_DOMAIN, to_status


def _fields(violations: Violations) -> list[str]:
    return [violation.field for violation in violations.items]


@pytest.mark.parametrize(
    "value",
    ["1e999999", "1e-9999999", "NaN", "Infinity", "-inf", "sNaN", "1234567890123456789",
     "1e31", "1e-31", "1" * 65, "1e999999999", "-1e-999999999"],
)
def test_a_decimal_outside_the_rule_is_refused_naming_the_field(value: str) -> None:
    violations = Violations()
    assert bounds.decimal("step.parameter_values[0].value.value", value, violations) is None
    assert _fields(violations) == ["step.parameter_values[0].value.value"]


@pytest.mark.parametrize(
    "value", ["0", "-0.000", "37.5", "123456789012345678", "1e30", "1e-30", "1.000000000000000000"]
)
def test_a_decimal_within_the_rule_is_taken(value: str) -> None:
    assert bounds.decimal("target", value) == Decimal(value)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"])
def test_text_xml_cannot_carry_is_refused(char: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        bounds.text("comment", f"ok{char}ok", 100)
    assert [v.field for v in refused.value.violations] == ["comment"]
    assert f"U+{ord(char):04X}" in refused.value.violations[0].description


def test_text_with_tabs_newlines_and_any_script_is_taken() -> None:
    assert bounds.text("instruction", "Add TCEP\t2.5 eq.\r\n반응 온도 25 °C 🧪", 100)


def test_text_longer_than_its_bound_is_refused() -> None:
    violations = Violations()
    assert not bounds.text("instruction", "x" * 101, 100, violations)
    assert _fields(violations) == ["instruction"]
    assert not bounds.text("title", "  ", 100, violations, required=True)
    assert _fields(violations) == ["instruction", "title"]


def test_a_list_longer_than_its_bound_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        bounds.list_len("steps", [1, 2, 3], 2)
    assert bounds.list_len("steps", [1, 2], 2)


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(253_402_300_800, 0), (-62_135_596_801, 0), (0, -1), (0, 1_000_000_000), (2**62, 0)],
)
def test_a_timestamp_outside_protobufs_range_is_refused(seconds: int, nanos: int) -> None:
    violations = Violations()
    assert bounds.timestamp("step.perform_time", seconds, nanos, violations) is None
    assert _fields(violations) == ["step.perform_time"]


def test_a_timestamp_within_range_is_its_utc_time() -> None:
    assert bounds.timestamp("t", 1_700_000_000, 500_000_000) == datetime(
        2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC
    )


def test_loggable_cuts_and_escapes() -> None:
    shown = bounds.loggable("a\nb" + "x" * 70_000)
    assert len(shown) < 200
    assert "\n" not in shown
    assert "70003 characters" in shown


def test_the_error_domain_is_twinlines_own() -> None:
    assert ERROR_DOMAIN == "twinline.io"


def _token(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        _token("[" * 100_000 + "]" * 100_000),  # RecursionError before
        _token("[" + "9" * 400 + ", 1]"),  # SQLite OverflowError before
        _token("[true, false]"),
        _token("[-1, 5]"),
        _token("[[1], 2]"),
        "A" * 5000,
        "ñ",
    ],
)
def test_a_hostile_page_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_position(token, int, int)
    assert [v.field for v in refused.value.violations] == ["page_token"]


@pytest.mark.parametrize("token", [_token("true"), _token("-3"), _token(str(2**64))])
def test_a_hostile_offset_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        decode_offset(token)


def test_our_own_tokens_still_decode() -> None:
    assert decode_position(_token("[2026, 42]"), int, int) == (2026, 42)
    assert decode_offset(_token("7")) == 7


def test_every_string_and_list_of_any_request_is_bounded() -> None:
    step = api.StepRecordInput(step_id="S1", comment="x" * (bounds.ANY_TEXT_LEN + 1))
    step.materials.add(material="TCEP\x01", lot_id="L-1")
    request = api.RecordStepsRequest(
        request_id="r", batch="batches/SYR-B-2026-00001", steps=[api.StepRecordInput(), step]
    )
    assert sorted(_fields(request_violations(request))) == [
        "steps[1].comment", "steps[1].materials[0].material",
    ]
    many = api.RaiseDeviationRequest(exception_ids=["EX-1"] * (bounds.ANY_LIST_LEN + 1))
    assert _fields(request_violations(many)) == ["exception_ids"]
    assert not request_violations(api.RecordStepsRequest(steps=[step.__class__()])).items


def test_a_status_fits_grpcs_trailers_whatever_the_error_quotes() -> None:
    quoted = "x" * 60_000
    errors = [
        NotFound("STEP_NOT_FOUND", f"no step {quoted!r}", stepId=quoted),
        InvalidArgument([FieldViolation(f"steps[{i}].comment", quoted) for i in range(1000)]),
    ]
    for error in errors:
        status = to_status(error)
        # The trailers a client takes (16 KiB at most): the status, base64, and grpc-message,
        # percent-encoded, beside a few small headers.
        trailers = len(base64.b64encode(status.SerializeToString())) + len(
            urllib.parse.quote(status.message)
        )
        assert trailers < 12 * 1024
