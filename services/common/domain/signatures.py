"""Electronic signatures as values (21 CFR 11.50): who, printed name, meaning, when, why. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.common.domain import bounds
from services.common.domain.errors import Violations


class SignatureMeaning(StrEnum):
    AUTHORED = "authored"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    EXECUTED = "executed"
    VERIFIED = "verified"
    RELEASED = "released"
    REJECTED = "rejected"
    MADE_EFFECTIVE = "made_effective"


# What only a person may sign: an integration (MES) account records data for a named operator
# but never attests, reviews, approves or decides (DESIGN: independence). EXECUTED is allowed
# to it for non-critical steps only, a rule of the batch domain.
PERSON_MEANINGS = frozenset(SignatureMeaning) - {SignatureMeaning.EXECUTED}


@dataclass(frozen=True)
class SignatureRecord:
    signer: str
    printed_name: str
    meaning: SignatureMeaning
    sign_time: datetime
    reason: str = ""
    role: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "signer": self.signer,
            "printedName": self.printed_name,
            "meaning": self.meaning.value,
            "signTime": self.sign_time.isoformat(),
            "reason": self.reason,
            "role": self.role,
        }


def check_reason(reason: str, violations: Violations, *, required: bool = False) -> None:
    """A signature's reason: bounded, XML-safe text, and present where the meaning needs one."""
    if bounds.text("signature.reason", reason, bounds.COMMENT_LEN, violations) and (
        required and not reason.strip()
    ):
        violations.add("signature.reason", "a reason is required")
