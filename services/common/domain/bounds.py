"""The bounds of every input (docs/bounds.md): text length and XML-safety, list lengths,
decimals, timestamps, resource-name parts, and what a log line may quote. Pure: no I/O.

Each check adds a field violation to the ``Violations`` it is given, or raises
``InvalidArgument`` at once when given none, so a domain can collect every bad field first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from services.common.domain.errors import FieldViolation, InvalidArgument, Violations

# --- the table (docs/bounds.md lists the same, field by field) -----------------------------
ID_LEN = 64  # step / node ids, equipment ids, lot ids, exception and deviation ids
NAME_LEN = 200  # names and titles: product, process, title, step name, parameter, material
TEXT_LEN = 8_000  # free text: step instruction, deviation description, investigation
COMMENT_LEN = 2_000  # a step's comment, a signature's reason, an override reason
USERNAME_LEN = 64
PASSWORD_LEN = 1_024  # argon2 hashes any length; a log-in need not
DECIMAL_TEXT_LEN = 64  # the characters of a decimal as sent
LIST_LEN = 200  # any repeated field of a request not listed below
RECIPE_NODES = 100  # unit procedures per recipe, operations per unit procedure
# Generous for a recipe (the event size check bounds its whole, decision 0008); one call
# records fewer steps.
STEPS_PER_OPERATION = 2_000
STEP_RECORDS_PER_CALL = 200
PARAMETERS_PER_STEP = 50
# The last resort for a string of any request, whatever its domain says (see rpc_method).
ANY_TEXT_LEN = 64 * 1024
ANY_LIST_LEN = 1_000
# Decimals: finite, at most 18 significant digits (what an 18-digit DECIMAL column and a
# 64-bit integer mantissa carry exactly), and a magnitude within 1e-30 .. 1e+30 (every unit
# of a plant, from femtograms to tonnes, sits well inside).
DECIMAL_DIGITS = 18
DECIMAL_EXPONENT = 30
# Timestamps: what google.protobuf.Timestamp can carry, 0001-01-01 .. 9999-12-31.
TIMESTAMP_MIN_SECONDS = -62_135_596_800
TIMESTAMP_MAX_SECONDS = 253_402_300_799
LOG_LEN = 80

# Text XML 1.0 can carry: TAB, LF, CR and the Char production; no other C0 control, no
# surrogate, no U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def _report(violations: Violations | None, field: str, description: str) -> None:
    if violations is None:
        raise InvalidArgument([FieldViolation(field, description)])
    violations.add(field, description)


def xml_unsafe(value: str) -> str | None:
    """The first character of ``value`` XML cannot carry, as U+XXXX, or None."""
    found = _NOT_XML.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def text(
    field: str, value: str, max_len: int, violations: Violations | None = None, *,
    required: bool = False,
) -> bool:
    """Checks one text field; True when it is within bounds."""
    if len(value) > max_len:
        _report(violations, field, f"is longer than {max_len} characters ({len(value)})")
        return False
    bad = xml_unsafe(value)
    if bad is not None:
        _report(violations, field, f"holds the control character {bad}, which XML cannot carry")
        return False
    if required and not value.strip():
        _report(violations, field, "is required")
        return False
    return True


def list_len(
    field: str, items: object, max_len: int, violations: Violations | None = None
) -> bool:
    count = len(items)  # type: ignore[arg-type]
    if count > max_len:
        _report(violations, field, f"holds {count} items; at most {max_len}")
        return False
    return True


def name_part(field: str, value: str, pattern: re.Pattern[str]) -> re.Match[str]:
    """A resource name matched whole against an ASCII pattern, or INVALID_ARGUMENT."""
    if len(value) > NAME_LEN or not value.isascii():
        raise InvalidArgument([FieldViolation(field, "is not a valid resource name")])
    found = pattern.fullmatch(value)
    if found is None:
        raise InvalidArgument([FieldViolation(field, "is not a valid resource name")])
    return found


def decimal(field: str, value: str, violations: Violations | None = None) -> Decimal | None:
    """The decimal ``value`` holds, within the decimal rule; None (and a violation) if not."""
    if len(value) > DECIMAL_TEXT_LEN:
        _report(violations, field, f"is longer than {DECIMAL_TEXT_LEN} characters")
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        _report(violations, field, f"{loggable(value)} is not a decimal number")
        return None
    problem = decimal_problem(number)
    if problem:
        _report(violations, field, problem)
        return None
    return number


def decimal_problem(number: Decimal) -> str:
    """Why ``number`` breaks the decimal rule, or ''."""
    if not number.is_finite():
        return "must be a finite number"
    if number.is_zero():
        return ""
    # No arithmetic here: normalize() would overflow the context on 1e999999999.
    if not -DECIMAL_EXPONENT <= number.adjusted() <= DECIMAL_EXPONENT:
        return f"is outside 1e-{DECIMAL_EXPONENT} .. 1e+{DECIMAL_EXPONENT} in magnitude"
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(digits) > DECIMAL_DIGITS:
        return f"has {len(digits)} significant digits; at most {DECIMAL_DIGITS}"
    return ""


def timestamp(
    field: str, seconds: int, nanos: int, violations: Violations | None = None
) -> datetime | None:
    """The UTC time a Timestamp's seconds and nanos hold, or None (and a violation)."""
    if not 0 <= nanos <= 999_999_999:
        _report(violations, field, "nanos must be within 0 .. 999999999")
        return None
    if not TIMESTAMP_MIN_SECONDS <= seconds <= TIMESTAMP_MAX_SECONDS:
        _report(violations, field, "is outside 0001-01-01 .. 9999-12-31")
        return None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + timedelta(seconds=seconds, microseconds=nanos // 1000)


def loggable(value: object, max_len: int = LOG_LEN) -> str:
    """A client-supplied value as a log line may quote it: escaped, at most ``max_len``
    characters of it, and its length when cut."""
    text_value = str(value)
    shown = repr(text_value[:max_len])
    if len(text_value) > max_len:
        return f"{shown}... ({len(text_value)} characters)"
    return shown
