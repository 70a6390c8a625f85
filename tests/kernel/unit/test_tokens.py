"""TokenIssuer: a roundtrip, expiry on an injected clock, and tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.common.domain import errors
from services.common.domain.roles import Principal, Role
from services.common.identity.tokens import TokenIssuer

SECRET = "test-secret-" + "x" * 40
ALICE = Principal("syracuse.qa", "Priya Raman (Syracuse qa)", frozenset({Role.QA}), "syracuse")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_roundtrip_returns_the_principal_and_expiry() -> None:
    clock = FakeClock()
    issuer = TokenIssuer(SECRET, ttl_seconds=3600, clock=clock)

    token, expires = issuer.issue(ALICE)

    assert expires == clock.now + timedelta(hours=1)
    assert issuer.verify(token) == ALICE
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "syracuse.qa" and claims["roles"] == ["qa"]
    assert claims["site"] == "syracuse" and claims["iss"] == "twinline" and claims["jti"]


def test_each_token_has_its_own_id() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    first, _ = issuer.issue(ALICE)
    second, _ = issuer.issue(ALICE)
    assert (
        jwt.decode(first, options={"verify_signature": False})["jti"]
        != jwt.decode(second, options={"verify_signature": False})["jti"]
    )


def test_token_expires_on_the_injected_clock() -> None:
    clock = FakeClock()
    issuer = TokenIssuer(SECRET, ttl_seconds=60, clock=clock)
    token, _ = issuer.issue(ALICE)

    clock.now += timedelta(seconds=59)
    assert issuer.verify(token) == ALICE  # verified once, so the cache now holds it
    clock.now += timedelta(seconds=1)
    with pytest.raises(errors.Unauthenticated) as raised:
        issuer.verify(token)
    assert raised.value.reason == "TOKEN_EXPIRED"
    # A fresh issuer, with nothing cached, agrees.
    with pytest.raises(errors.Unauthenticated) as raised:
        TokenIssuer(SECRET, ttl_seconds=60, clock=clock).verify(token)
    assert raised.value.reason == "TOKEN_EXPIRED"


def test_tampered_token_is_invalid() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    token, _ = issuer.issue(ALICE)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["qa", "admin"]
    header, _, signature = token.split(".")
    forged_payload = jwt.encode(
        claims, "a guessed key, long enough for HS256", algorithm="HS256"
    ).split(".")[1]

    for bad in (
        f"{header}.{forged_payload}.{signature}",
        jwt.encode(claims, "another secret entirely, long enough", algorithm="HS256"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ):
        with pytest.raises(errors.Unauthenticated) as raised:
            issuer.verify(bad)
        assert raised.value.reason == "TOKEN_INVALID"


def test_a_token_that_is_no_jwt_is_called_unparsable() -> None:
    # "null": what `jq -r .accessToken` gives when the client prints access_token.
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    for bad in ("null", "not-a-token", "not.a.token", ""):
        with pytest.raises(errors.Unauthenticated) as raised:
            issuer.verify(bad)
        assert raised.value.reason == "TOKEN_UNPARSABLE"
        assert "unparsable" in raised.value.message


def test_token_of_another_issuer_or_unsigned_is_invalid() -> None:
    other, _ = TokenIssuer(SECRET, ttl_seconds=60, issuer="elsewhere").issue(ALICE)
    claims = jwt.decode(other, options={"verify_signature": False}) | {"iss": "twinline"}
    unsigned = jwt.encode(claims, None, algorithm="none")
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    for bad in (other, unsigned):
        with pytest.raises(errors.Unauthenticated) as raised:
            issuer.verify(bad)
        assert raised.value.reason == "TOKEN_INVALID"


def test_unknown_role_in_a_signed_token_is_invalid() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    token, _ = issuer.issue(ALICE)
    claims = jwt.decode(token, options={"verify_signature": False}) | {"roles": ["superuser"]}
    with pytest.raises(errors.Unauthenticated) as raised:
        issuer.verify(jwt.encode(claims, SECRET, algorithm="HS256"))
    assert raised.value.reason == "TOKEN_INVALID"
