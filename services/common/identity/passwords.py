"""Passwords: the hashing (argon2id), the policy, and the cache of recent verifications."""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from argon2 import PasswordHasher

from services.common.domain.errors import Violations

MIN_PASSWORD_LENGTH = 8
# How long a password verified with argon2 is recognised again without argon2.
RECENT_VERIFICATION_SECONDS = 600


def default_hasher() -> PasswordHasher:
    # argon2id at OWASP's baseline (19 MiB, 2 passes): about 20 ms a verify on a 2-core host.
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def check_password(password: str, violations: Violations) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        violations.add("password", f"at least {MIN_PASSWORD_LENGTH} characters")


class RecentPasswords:
    """Passwords verified with argon2 moments ago, as keyed digests in this process's memory.

    Signing every step re-enters the password (21 CFR 11.200); an argon2 check per
    signature would cap a floor at ~90 signatures/s on two cores. A keyed digest of a
    password verified in the last minutes, dropped when the stored hash changes, checks the
    re-entry as strictly and at once.
    """

    def __init__(self, seconds: float = RECENT_VERIFICATION_SECONDS) -> None:
        self.seconds = seconds
        # username → (keyed digest of the password, stored hash, monotonic expiry)
        self._recent: dict[str, tuple[bytes, str, float]] = {}
        self._key = os.urandom(32)

    def remember(self, username: str, password: str, password_hash: str) -> None:
        self._recent[username] = (
            self._digest(username, password), password_hash, time.monotonic() + self.seconds
        )

    def forget(self, username: str) -> None:
        self._recent.pop(username, None)

    def verified(self, username: str, password: str, password_hash: str) -> bool:
        """True if this password was verified for this user, against this hash, moments ago."""
        recent = self._recent.get(username)
        if recent is None:
            return False
        digest, remembered_hash, expires = recent
        if remembered_hash != password_hash or time.monotonic() > expires:
            self._recent.pop(username, None)
            return False
        return hmac.compare_digest(digest, self._digest(username, password))

    def _digest(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()
