"""The site's user directory: accounts, log-in, lockout (21 CFR 11.300) and standing."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine

from services.common.domain import bounds, errors
from services.common.domain.clock import Clock, utc_now
from services.common.domain.roles import Principal, Role, parse_roles
from services.common.identity.passwords import RecentPasswords, check_password, default_hasher
from services.common.identity.tables import USER_BY_NAME, app_user
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
        self._recent = RecentPasswords()
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
        check_password(password, violations)
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
        check_password(new_password, violations)
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
        recent = row is not None and self._recent.verified(username, password, row.password_hash)
        if row is not None and row.active and recent:
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
            self._recent.remember(username, password, row.password_hash)
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
        self._recent.forget(username)
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


def open_user_directory(settings: Settings) -> UserDirectory:
    """The directory of ``settings.site``, its schema brought up to date."""
    engine = create_database_engine(
        settings.identity_url(), sqlite_synchronous=settings.sqlite_synchronous
    )
    migrate(engine, IDENTITY_MIGRATIONS)
    return UserDirectory(engine, settings.registry)
