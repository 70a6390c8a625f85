"""How a GMP record reads in a terminal, for every ``twinline`` command: a line printed whole,
an enum value in words, a signature's manifestation, a parameter's limits, a recipe's steps in
order."""

from __future__ import annotations

from twinline.batchrecords.v1 import master_batch_record_pb2 as pb
from twinline.common.v1 import quantity_pb2, signature_pb2

from services.cli.common import console, utc


def say(text: str, *, markup: bool = False) -> None:
    """One line, wrapped but never cut, recoloured or read as markup (a unit such as
    ``[pH]`` is text): descriptions and reasons are read whole. ``markup``: the tool's own."""
    console.print(text, soft_wrap=True, highlight=False, markup=markup)


def words(enum_name: str, prefix: str) -> str:
    """An enum value as words: ("TRANSFER_STATE_IN_REVIEW", "TRANSFER_STATE_") → "in review"."""
    return enum_name.removeprefix(prefix).lower().replace("_", " ")


def manifestation(signed: signature_pb2.Signature) -> str:
    """What 21 CFR 11.50 asks a signature to show, e.g. "APPROVED by Priya Raman
    (syracuse.qa, qa) at 2026-12-03 10:00:00 UTC: released to QC"."""
    meaning = signature_pb2.SignatureMeaning.Name(signed.meaning).removeprefix(
        "SIGNATURE_MEANING_")
    role = f", {signed.role}" if signed.role else ""
    reason = f": {signed.reason}" if signed.reason else ""
    return (f"{meaning} by {signed.printed_name} ({signed.signer}{role}) "
            f"at {utc(signed.sign_time)}{reason}")


def version_label(name: str) -> str:
    """A master record version as the commands take it: "masterBatchRecords/SYR-MBR-000001/
    versions/2" → "SYR-MBR-000001@2" (anything else as it is)."""
    record, found, version = name.removeprefix("masterBatchRecords/").partition("/versions/")
    return f"{record}@{version}" if found else name


def quantity(value: quantity_pb2.Quantity) -> str:
    return f"{value.value} {value.unit}".strip()


def limits(parameter: pb.ProcessParameter) -> str:
    """e.g. "20..30 Cel", "≥ 2 mol/mol", "none"."""
    unit = f" {parameter.unit}"
    if parameter.low_limit and parameter.high_limit:
        return f"{parameter.low_limit}..{parameter.high_limit}{unit}"
    if parameter.low_limit:
        return f"≥ {parameter.low_limit}{unit}"
    if parameter.high_limit:
        return f"≤ {parameter.high_limit}{unit}"
    return "none"


def alert_range(parameter: pb.ProcessParameter) -> str:
    if not (parameter.alert_low or parameter.alert_high):
        return "—"
    return f"{parameter.alert_low or '…'}..{parameter.alert_high or '…'} {parameter.unit}"


def steps_of(record: pb.MasterBatchRecord) -> list[tuple[str, pb.Step]]:
    """Every step with its path ("UP1/OP2/S3"), in recipe order."""
    return [
        (f"{procedure.id}/{operation.id}/{step.id}", step)
        for procedure in record.unit_procedures
        for operation in procedure.operations
        for step in operation.steps
    ]
