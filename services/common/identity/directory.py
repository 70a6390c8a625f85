"""Who a user is: roles, the authenticated principal, and the site's user directory (argon2)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from twinline.common.v1 import auth_pb2

from services.common.domain import bounds, errors
from services.common.domain.clock import Clock, utc_now
from services.common.persistence.database import (
    IDENTITY_MIGRATIONS,
    create_database_engine,
    migrate,
    readonly_engine,
)
from services.common.settings import Settings
from services.common.sites import SiteRegistry, UnknownSiteError

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = 8
# How long a password verified with argon2 is recognised again without argon2.
RECENT_VERIFICATION_SECONDS = 600
# Consecutive wrong passwords (log-ins and signatures alike) that lock an account until an
# administrator unlocks it (21 CFR 11.300(d): attempts at unauthorized use are stopped and
# reported).
MAX_FAILED_ATTEMPTS = 5
ACCOUNT_LOCKED = (
    "the account is locked after repeated wrong passwords; an administrator can unlock it"
)
# A token outlives changes to its user (8 h by default): every write re-checks that the user is
# still active and not locked, reading the directory at most this often per user and process.
STANDING_SECONDS = 5.0
# One message for an unknown user, a wrong password and an inactive user: no enumeration.
INVALID_CREDENTIALS = "the username or password is not correct"


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    QC_ANALYST = "qc_analyst"
    QA = "qa"
    PROCESS_ENGINEER = "process_engineer"
    ADMIN = "admin"
    INTEGRATION = "integration"

    def to_proto(self) -> auth_pb2.Role.ValueType:
        return _ROLE_TO_PROTO[self]

    @classmethod
    def from_proto(cls, value: auth_pb2.Role.ValueType) -> Role:
        try:
            return _ROLE_FROM_PROTO[value]
        except KeyError:
            raise ValueError(f"no role for proto value {value}") from None


_ROLE_TO_PROTO = {role: auth_pb2.Role.Value(f"ROLE_{role.name}") for role in Role}
_ROLE_FROM_PROTO = {value: role for role, value in _ROLE_TO_PROTO.items()}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    username: str
    printed_name: str
    roles: frozenset[Role]
    home_site: str

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    def to_proto(self) -> auth_pb2.User:
        return auth_pb2.User(
            username=self.username,
            printed_name=self.printed_name,
            roles=[role.to_proto() for role in sorted(self.roles)],
            home_site=self.home_site,
        )


@dataclass(frozen=True)
class UserAccount:
    """A row of the directory as an administrator sees it."""

    username: str
    printed_name: str
    roles: frozenset[Role]
    home_site: str
    active: bool
    created_time: datetime
    password_changed_time: datetime
    failed_attempts: int = 0
    locked_time: datetime | None = None

    def principal(self) -> Principal:
        return Principal(self.username, self.printed_name, self.roles, self.home_site)


# Mirrors migrations/identity; the migration owns the schema.
_metadata = sa.MetaData()
app_user = sa.Table(
    "app_user",
    _metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("printed_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("home_site", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_time", sa.DateTime(timezone=True), nullable=True),
)
# Built once (every signature reads the signer's row): SQLAlchemy reuses its compiled form.
USER_BY_NAME = sa.select(app_user).where(app_user.c.username == sa.bindparam("username"))


def default_hasher() -> PasswordHasher:
    # argon2id at OWASP's baseline (19 MiB, 2 passes): about 20 ms a verify on a 2-core host.
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names to roles; raises ValueError naming the first unknown one."""
    return frozenset(Role(name.strip()) for name in names if name.strip())


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _account(row: sa.Row) -> UserAccount:
    return UserAccount(
        username=row.username,
        printed_name=row.printed_name,
        roles=parse_roles(row.roles.split(",")),
        home_site=row.home_site,
        active=bool(row.active),
        created_time=_as_utc(row.created_time),
        password_changed_time=_as_utc(row.password_changed_time),
        failed_attempts=row.failed_attempts,
        locked_time=_as_utc(row.locked_time) if row.locked_time is not None else None,
    )


class UserDirectory:
    """The users of one site, in that site's identity database."""

    def __init__(
        self,
        engine: Engine,
        registry: SiteRegistry | None = None,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.hasher = hasher or default_hasher()
        self.clock = clock
        # username → (keyed digest of the password, stored hash, monotonic expiry)
        self._recent: dict[str, tuple[bytes, str, float]] = {}
        self._recent_key = os.urandom(32)
        # username → (reason the user may not write, or "" if they may; monotonic expiry)
        self._standing: dict[str, tuple[str, float]] = {}

    @cached_property
    def _decoy_hash(self) -> str:
        # Verified against when the user is unknown, so that case costs as much as a wrong password.
        return self.hasher.hash("decoy password, never valid")

    def add_user(
        self,
        username: str,
        printed_name: str,
        password: str,
        roles: Iterable[Role | str],
        home_site: str,
    ) -> UserAccount:
        violations = errors.Violations()
        if not USERNAME_PATTERN.fullmatch(username):
            violations.add(
                "username", "3-64 characters: a lowercase letter, then a-z, 0-9, '.', '_' or '-'"
            )
        bounds.text("printed_name", printed_name, bounds.NAME_LEN, violations, required=True)
        role_names = [str(role) for role in roles]
        try:
            role_set = parse_roles(role_names)
        except ValueError:
            violations.add("roles", f"unknown role among {role_names}; known: {list(Role)}")
            role_set = frozenset()
        else:
            if not role_set:
                violations.add("roles", "at least one role is required")
        if self.registry is not None:
            try:
                self.registry.get(home_site)
            except UnknownSiteError:
                violations.add("home_site", f"unknown site; known: {self.registry.ids()}")
        _check_password(password, violations)
        violations.raise_if_any()

        password_hash = self.hasher.hash(password)
        now = self.clock()
        with self.engine.begin() as connection:
            exists = connection.execute(
                sa.select(app_user.c.username).where(app_user.c.username == username)
            ).first()
            if exists is not None:
                raise _user_exists(username)
            try:
                connection.execute(
                    app_user.insert().values(
                        username=username,
                        printed_name=printed_name.strip(),
                        password_hash=password_hash,
                        roles=",".join(sorted(role_set)),
                        home_site=home_site,
                        active=True,
                        created_time=now,
                        password_changed_time=now,
                        failed_attempts=0,
                        locked_time=None,
                    )
                )
            except sa.exc.IntegrityError:
                # PostgreSQL: an add of the same name committed after the check above (SQLite's
                # BEGIN IMMEDIATE lets no other writer in between).
                raise _user_exists(username) from None
        log.info("user %s added at %s with roles %s", username, home_site, sorted(role_set))
        return UserAccount(username, printed_name.strip(), role_set, home_site, True, now, now)

    def set_password(self, username: str, new_password: str) -> None:
        violations = errors.Violations()
        _check_password(new_password, violations)
        violations.raise_if_any()
        self._update(
            username,
            password_hash=self.hasher.hash(new_password),
            password_changed_time=self.clock(),
            # A password set by an administrator also ends a lockout.
            failed_attempts=0,
            locked_time=None,
        )
        log.info("password of %s changed", username)

    def unlock(self, username: str) -> None:
        """Ends a lockout: the user may try passwords again."""
        self._update(username, failed_attempts=0, locked_time=None)
        self._standing.pop(username, None)
        log.info("user %s unlocked", username)

    def set_active(self, username: str, active: bool) -> None:
        """Deactivates (or reactivates) a user; users are never deleted."""
        self._update(username, active=active)
        self._standing.pop(username, None)
        log.info("user %s %s", username, "activated" if active else "deactivated")

    def authenticate(self, username: str, password: str) -> Principal:
        """The principal for a correct password; CPU-bound (argon2), so call it off the loop."""
        with readonly_engine(self.engine).begin() as connection:
            row = connection.execute(USER_BY_NAME, {"username": username}).first()
        if row is not None and row.locked_time is not None:
            log.warning(
                "authentication refused: the account %s is locked", bounds.loggable(username)
            )
            raise errors.Unauthenticated("ACCOUNT_LOCKED", ACCOUNT_LOCKED)
        if row is not None and row.active and self._recently_verified(row, password):
            self._note_success(row)
            return _account(row).principal()
        # Verify outside the transaction: SQLite's write lock is not held for the hash.
        stored_hash = row.password_hash if row is not None else self._decoy_hash
        try:
            self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            if row is not None:
                self._note_failure(username)
            row = None
        if row is not None and row.active:
            self._recent[username] = (
                self._digest(username, password), row.password_hash,
                time.monotonic() + RECENT_VERIFICATION_SECONDS,
            )
        if row is None or not row.active:
            log.warning("failed authentication for username %s", bounds.loggable(username))
            raise errors.Unauthenticated("INVALID_CREDENTIALS", INVALID_CREDENTIALS)
        self._note_success(row)
        if self.hasher.check_needs_rehash(stored_hash):
            # The parameters were raised since this hash was made; upgrade it now we know it.
            self._update(username, password_hash=self.hasher.hash(password))
        return _account(row).principal()

    def require_good_standing(self, username: str) -> None:
        """Raises Unauthenticated if the user was deactivated or locked since their token was
        issued (known here within STANDING_SECONDS of the change)."""
        now = time.monotonic()
        cached = self._standing.get(username)
        if cached is None or cached[1] <= now:
            with readonly_engine(self.engine).begin() as connection:
                row = connection.execute(USER_BY_NAME, {"username": username}).first()
            refusal = (
                "ACCOUNT_INACTIVE" if row is None or not row.active
                else "ACCOUNT_LOCKED" if row.locked_time is not None
                else ""
            )
            cached = self._standing[username] = (refusal, now + STANDING_SECONDS)
        if cached[0] == "ACCOUNT_LOCKED":
            raise errors.Unauthenticated("ACCOUNT_LOCKED", ACCOUNT_LOCKED)
        if cached[0]:
            raise errors.Unauthenticated(
                "ACCOUNT_INACTIVE", "the account is deactivated or unknown here; log in again"
            )

    def _note_failure(self, username: str) -> None:
        """Counts a wrong password; the MAX_FAILED_ATTEMPTS-th in a row locks the account."""
        self._recent.pop(username, None)
        with self.engine.begin() as connection:
            # One statement: concurrent failures in two processes are all counted.
            connection.execute(
                app_user.update()
                .where(app_user.c.username == username)
                .values(failed_attempts=app_user.c.failed_attempts + 1)
            )
            locked = connection.execute(
                app_user.update()
                .where(
                    app_user.c.username == username,
                    app_user.c.failed_attempts >= MAX_FAILED_ATTEMPTS,
                    app_user.c.locked_time.is_(None),
                )
                .values(locked_time=self.clock())
            ).rowcount
        if locked:
            self._standing.pop(username, None)
            # The security unit is told at once (21 CFR 11.300(d)): an error in the log.
            log.error(
                "account %s locked after %d wrong passwords in a row",
                bounds.loggable(username), MAX_FAILED_ATTEMPTS,
            )

    def _note_success(self, row: sa.Row) -> None:
        """A right password ends the run of wrong ones."""
        if row.failed_attempts:
            with self.engine.begin() as connection:
                connection.execute(
                    app_user.update()
                    .where(app_user.c.username == row.username, app_user.c.locked_time.is_(None))
                    .values(failed_attempts=0)
                )

    def _digest(self, username: str, password: str) -> bytes:
        return hmac.new(
            self._recent_key, f"{username}\0{password}".encode(), hashlib.sha256
        ).digest()

    def _recently_verified(self, row: sa.Row, password: str) -> bool:
        """True if this password was verified with argon2 for this user moments ago.

        Signing every step re-enters the password (21 CFR 11.200); an argon2 check per
        signature would cap a floor at ~90 signatures/s on two cores. A keyed digest of a
        password verified in the last minutes, held only in this process's memory and
        dropped when the stored hash changes, checks the re-entry as strictly and at once.
        """
        recent = self._recent.get(row.username)
        if recent is None:
            return False
        digest, password_hash, expires = recent
        if password_hash != row.password_hash or time.monotonic() > expires:
            self._recent.pop(row.username, None)
            return False
        return hmac.compare_digest(digest, self._digest(row.username, password))

    def password_is(self, username: str, password: str) -> bool:
        """Whether ``password`` is the user's current one, checked against the stored hash only.

        No log-in is attempted: a mismatch neither counts towards a lock nor logs a failed
        authentication (``make run`` asks this of every demo account at each start).
        """
        with readonly_engine(self.engine).begin() as connection:
            row = connection.execute(USER_BY_NAME, {"username": username}).first()
        if row is None:
            return False
        try:
            return bool(self.hasher.verify(row.password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def get(self, username: str) -> UserAccount | None:
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(app_user).where(app_user.c.username == username)
            ).first()
        return _account(row) if row is not None else None

    def list_users(self) -> list[UserAccount]:
        with self.engine.begin() as connection:
            rows = connection.execute(sa.select(app_user).order_by(app_user.c.username)).all()
        return [_account(row) for row in rows]

    def _update(self, username: str, **values: object) -> None:
        with self.engine.begin() as connection:
            result = connection.execute(
                app_user.update().where(app_user.c.username == username).values(**values)
            )
        if result.rowcount == 0:
            raise errors.NotFound("USER_NOT_FOUND", f"no user {username}", username=username)


def _user_exists(username: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(
        "USER_EXISTS", f"user {username} already exists", username=username
    )


def _check_password(password: str, violations: errors.Violations) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        violations.add("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def open_user_directory(settings: Settings) -> UserDirectory:
    """The directory of ``settings.site``, its schema brought up to date."""
    engine = create_database_engine(
        settings.identity_url(), sqlite_synchronous=settings.sqlite_synchronous
    )
    migrate(engine, IDENTITY_MIGRATIONS)
    return UserDirectory(engine, settings.registry)
