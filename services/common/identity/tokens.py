"""Bearer tokens: HS256 JWTs that carry a principal for a limited time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from services.common.domain import errors
from services.common.domain.clock import Clock, utc_now
from services.common.domain.roles import Principal, parse_roles

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "name", "roles", "site", "iat", "exp", "jti", "iss"]
# Bounds the memory of the verified-token cache; a full cache is simply emptied.
CACHE_SIZE = 4096


class TokenIssuer:
    """Issues and verifies the tokens of one quality system (one secret shared by every site)."""

    def __init__(
        self,
        secret: str,
        ttl_seconds: int,
        issuer: str = "twinline",
        clock: Clock = utc_now,
    ) -> None:
        if not secret:
            raise ValueError("a token secret is required")
        self._secret = secret
        self.ttl = timedelta(seconds=ttl_seconds)
        self.issuer = issuer
        self.clock = clock
        # Token string -> (principal, expiry as epoch seconds). A token is immutable and signed,
        # so a signature checked once stays good; expiry is still checked on every call.
        self._verified: dict[str, tuple[Principal, int]] = {}

    def issue(self, principal: Principal) -> tuple[str, datetime]:
        """A signed token for ``principal`` and the moment it expires (UTC)."""
        issued = self.clock().astimezone(UTC).replace(microsecond=0)
        expires = issued + self.ttl
        claims = {
            "iss": self.issuer,
            "sub": principal.username,
            "name": principal.printed_name,
            "roles": sorted(principal.roles),
            "site": principal.home_site,
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> Principal:
        """The principal a valid, unexpired token carries; raises errors.Unauthenticated."""
        cached = self._verified.get(token)
        if cached is None:
            cached = self._decode(token)
            if len(self._verified) >= CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = cached
        principal, expires = cached
        if self.clock().timestamp() >= expires:
            raise errors.Unauthenticated("TOKEN_EXPIRED", "the token has expired; log in again")
        return principal

    def _decode(self, token: str) -> tuple[Principal, int]:
        try:
            # Expiry is checked against self.clock, not PyJWT's wall clock, so tests can set it.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"verify_exp": False, "verify_iat": False, "require": REQUIRED_CLAIMS},
            )
            principal = Principal(
                username=str(claims["sub"]),
                printed_name=str(claims["name"]),
                roles=parse_roles(claims["roles"]),
                home_site=str(claims["site"]),
            )
            expires = int(claims["exp"])
        except jwt.InvalidSignatureError:
            raise errors.Unauthenticated("TOKEN_INVALID", "the token is not valid") from None
        except jwt.DecodeError:
            # Typically a script's empty or "null" token (a JSON field read under the wrong name).
            raise errors.Unauthenticated(
                "TOKEN_UNPARSABLE",
                f"the token is unparsable: {len(token)} characters that are not a JWT; "
                "send the access_token that Login returned",
            ) from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise errors.Unauthenticated("TOKEN_INVALID", "the token is not valid") from None
        return principal, expires
