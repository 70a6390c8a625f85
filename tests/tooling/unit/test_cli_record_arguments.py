"""What ``twinline mbr`` and ``twinline batch`` make of their arguments before anything is
sent — record names, ``--value``, ``--material``, ``--equipment`` — and how a parameter's
limits and a signature read."""

from __future__ import annotations

import pytest
import typer
from google.protobuf.timestamp_pb2 import Timestamp
from twinline.batchrecords.v1 import master_batch_record_pb2 as mbr_pb
from twinline.common.v1 import signature_pb2

from services.cli.batch import equipment_use, material_addition, parameter_value
from services.cli.mbr import record_name
from services.cli.record_text import limits, manifestation


@pytest.mark.parametrize(("given", "name"), [
    ("SYR-MBR-000001@2", "masterBatchRecords/SYR-MBR-000001/versions/2"),
    ("SYR-MBR-000001", "masterBatchRecords/SYR-MBR-000001/versions/latest"),
    ("masterBatchRecords/SDO-MBR-000003/versions/1",
     "masterBatchRecords/SDO-MBR-000003/versions/1"),
])
def test_a_record_is_named_by_id_and_version(given: str, name: str) -> None:
    assert record_name(given) == name


@pytest.mark.parametrize("given", ["SYR-MBR-000001@", "@2", ""])
def test_a_record_name_without_id_or_version_is_a_usage_error(given: str) -> None:
    with pytest.raises(typer.BadParameter):
        record_name(given)


@pytest.mark.parametrize(("given", "parsed"), [
    ("temperature=25Cel", ("temperature", "25", "Cel")),
    ("TCEP=2.5 mol/mol", ("TCEP", "2.5", "mol/mol")),
    ("pH=7.10[pH]", ("pH", "7.10", "[pH]")),
    ("charge=-1.5e3eq", ("charge", "-1.5e3", "eq")),
    ("cells=5 10*3/uL", ("cells", "5", "10*3/uL")),
    ("temperature=25", ("temperature", "25", "")),  # the recipe's unit is sent
])
def test_a_value_keeps_its_digits_and_its_unit(given: str, parsed: tuple[str, str, str]) -> None:
    assert parameter_value(given) == parsed


@pytest.mark.parametrize("given", ["temperature", "temperature=", "temperature=warm", "=25Cel",
                                   "temperature=2,5Cel", "cells=510*3/uL"])
def test_a_value_that_is_not_a_number_is_a_usage_error(given: str) -> None:
    with pytest.raises(typer.BadParameter):
        parameter_value(given)


def test_materials_and_equipment() -> None:
    added = material_addition("TCEP-0.5M@L-2026-0113=1.2 L")
    assert (added.material, added.lot_id, added.quantity.value, added.quantity.unit) == (
        "TCEP-0.5M", "L-2026-0113", "1.2", "L")
    with pytest.raises(typer.BadParameter):
        material_addition("TCEP-0.5M=1.2L")
    assert equipment_use("R-201").override_reason == ""
    used = equipment_use("R-202:cleaning record signed, status not yet updated")
    assert (used.equipment_id, used.override_reason) == (
        "R-202", "cleaning record signed, status not yet updated")


def test_limits_read_as_a_range_or_a_bound() -> None:
    def limit(low: str, high: str) -> str:
        return limits(mbr_pb.ProcessParameter(name="p", unit="Cel", low_limit=low,
                                               high_limit=high))

    assert limit("20", "30") == "20..30 Cel"
    assert limit("20", "") == "≥ 20 Cel"
    assert limit("", "30") == "≤ 30 Cel"
    assert limit("", "") == "none"


def test_a_signature_shows_name_username_role_meaning_utc_and_reason() -> None:
    signed = signature_pb2.Signature(
        signer="syracuse.qa", printed_name="Priya Raman", role="qa",
        meaning=signature_pb2.SIGNATURE_MEANING_APPROVED, reason="released to QC",
        sign_time=Timestamp(seconds=1_796_292_000),
    )
    assert manifestation(signed) == (
        "APPROVED by Priya Raman (syracuse.qa, qa) at 2026-12-03 10:00:00 UTC: released to QC")
