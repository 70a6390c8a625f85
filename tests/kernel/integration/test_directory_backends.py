"""The user directory on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher

from services.common.domain.clock import to_text
from services.common.domain.errors import (
    AlreadyExists,
    Unauthenticated,
)
from services.common.domain.roles import Principal, Role
from services.common.identity import directory as identity
from services.common.persistence.database import (
    IDENTITY_MIGRATIONS,
    migrate,
)
from tests.support.databases import (
    SITE,
    T0,
    open_engine,
)

pytestmark = pytest.mark.timeout(60)


def test_the_user_directory_adds_and_authenticates(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrate(engine, IDENTITY_MIGRATIONS)
        directory = identity.UserDirectory(
            engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
            clock=lambda: T0,
        )
        added = directory.add_user("qa.lee", "Dana Lee", "correct horse", ["qa", "supervisor"],
                                   SITE)
        assert added.roles == frozenset({Role.QA, Role.SUPERVISOR})
        with pytest.raises(AlreadyExists):
            directory.add_user("qa.lee", "Someone Else", "another password", ["qa"], SITE)
        principal = directory.authenticate("qa.lee", "correct horse")
        assert principal == Principal(
            "qa.lee", "Dana Lee", frozenset({Role.QA, Role.SUPERVISOR}), SITE
        )
        for username, password in (("qa.lee", "wrong horse"), ("nobody", "correct horse")):
            with pytest.raises(Unauthenticated):
                directory.authenticate(username, password)
        stored = directory.get("qa.lee")
        assert stored is not None and stored.created_time == T0 and stored.active
        directory.set_active("qa.lee", False)
        with pytest.raises(Unauthenticated):
            directory.authenticate("qa.lee", "correct horse")
        assert [account.username for account in directory.list_users()] == ["qa.lee"]
        assert to_text(directory.list_users()[0].password_changed_time) == to_text(T0)
    finally:
        engine.dispose()


def test_adding_one_user_twice_at_once_adds_it_once(database_url: str) -> None:
    """PostgreSQL lets the second add past the existence check; its insert must still say
    ALREADY_EXISTS, as SQLite's serialised writers do."""
    engine = open_engine(database_url)
    try:
        migrate(engine, IDENTITY_MIGRATIONS)
        directory = identity.UserDirectory(
            engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        outcomes: list[str] = []

        def add(username: str, start: threading.Barrier) -> None:
            start.wait(timeout=10)
            try:
                directory.add_user(username, "Op", "password 1", ["operator"], SITE)
                outcomes.append("added")
            except AlreadyExists:
                outcomes.append("exists")
            except Exception as failure:
                outcomes.append(repr(failure))

        for n in range(10):  # the race is narrow: run it often enough to be met
            start = threading.Barrier(2)
            threads = [
                threading.Thread(target=add, args=(f"op.{n:02}", start)) for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=20)
        assert sorted(outcomes) == ["added"] * 10 + ["exists"] * 10
    finally:
        engine.dispose()
