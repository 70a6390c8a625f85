"""UserDirectory on a SQLite file: adding, authenticating, passwords, validation, demo users."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from services.common.domain import errors
from services.common.domain.roles import Principal, Role
from services.common.domain.signatures import SignatureMeaning
from services.common.grpc.auth import (
    current_principal,
    require_home_site,
    require_role,
    sign,
)
from services.common.grpc.principals import role_from_proto, role_to_proto
from services.common.identity import directory as identity
from services.common.identity.directory import MAX_FAILED_ATTEMPTS, UserDirectory
from services.common.persistence.database import (
    IDENTITY_MIGRATIONS,
    create_database_engine,
    migrate,
)
from services.devstack.demo_users import ensure_demo_users

PASSWORD = "correct horse battery"


@pytest.fixture
def alice(directory: UserDirectory) -> Principal:
    return directory.add_user(
        "syracuse.alice", "Alice Moreau", PASSWORD, [Role.QA, "supervisor"], "syracuse"
    ).principal()


def test_added_user_authenticates(directory: UserDirectory, alice: Principal) -> None:
    assert directory.authenticate("syracuse.alice", PASSWORD) == alice
    assert alice.roles == {Role.QA, Role.SUPERVISOR}
    assert alice.has_any(Role.ADMIN, Role.QA) and not alice.has_any(Role.OPERATOR)
    account = directory.get("syracuse.alice")
    assert account is not None and account.active
    assert account.created_time.tzinfo is not None
    assert [user.username for user in directory.list_users()] == ["syracuse.alice"]
    assert directory.get("nobody") is None


def test_wrong_password_and_unknown_user_fail_alike(
    directory: UserDirectory, alice: Principal
) -> None:
    with pytest.raises(errors.Unauthenticated) as wrong_password:
        directory.authenticate("syracuse.alice", "not the password")
    with pytest.raises(errors.Unauthenticated) as unknown_user:
        directory.authenticate("syracuse.nobody", PASSWORD)
    assert wrong_password.value.reason == unknown_user.value.reason == "INVALID_CREDENTIALS"
    assert wrong_password.value.message == unknown_user.value.message


def test_inactive_user_is_refused(directory: UserDirectory, alice: Principal) -> None:
    directory.set_active("syracuse.alice", False)
    with pytest.raises(errors.Unauthenticated) as raised:
        directory.authenticate("syracuse.alice", PASSWORD)
    assert raised.value.reason == "INVALID_CREDENTIALS"


def test_set_password_replaces_the_old_one(directory: UserDirectory, alice: Principal) -> None:
    before = directory.get("syracuse.alice")
    directory.set_password("syracuse.alice", "a brand new secret")
    assert directory.authenticate("syracuse.alice", "a brand new secret") == alice
    with pytest.raises(errors.Unauthenticated):
        directory.authenticate("syracuse.alice", PASSWORD)
    after = directory.get("syracuse.alice")
    assert before is not None and after is not None
    assert after.password_changed_time >= before.password_changed_time


def test_set_password_validates(directory: UserDirectory, alice: Principal) -> None:
    with pytest.raises(errors.InvalidArgument) as raised:
        directory.set_password("syracuse.alice", "short")
    assert [violation.field for violation in raised.value.violations] == ["password"]
    with pytest.raises(errors.NotFound):
        directory.set_password("syracuse.nobody", "long enough password")


def test_add_user_reports_every_bad_field(directory: UserDirectory) -> None:
    with pytest.raises(errors.InvalidArgument) as raised:
        directory.add_user("Bad Name!", " ", "short", ["qa", "wizard"], "atlantis")
    assert [violation.field for violation in raised.value.violations] == [
        "username",
        "printed_name",
        "roles",
        "home_site",
        "password",
    ]
    with pytest.raises(errors.InvalidArgument) as raised:
        directory.add_user("syracuse.bob", "Bob", PASSWORD, [], "syracuse")
    assert [violation.field for violation in raised.value.violations] == ["roles"]


def test_duplicate_username_is_refused(directory: UserDirectory, alice: Principal) -> None:
    with pytest.raises(errors.AlreadyExists):
        directory.add_user("syracuse.alice", "Another Alice", PASSWORD, [Role.QA], "syracuse")


def test_weaker_hash_is_upgraded_at_login(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'identity.db'}")
    migrate(engine, IDENTITY_MIGRATIONS)
    weak = UserDirectory(engine, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
    weak.add_user("syracuse.alice", "Alice Moreau", PASSWORD, [Role.QA], "syracuse")
    strong = UserDirectory(engine)
    strong.authenticate("syracuse.alice", PASSWORD)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT password_hash FROM app_user").scalar_one()
    assert not strong.hasher.check_needs_rehash(stored)
    assert strong.authenticate("syracuse.alice", PASSWORD).username == "syracuse.alice"


def test_signature_reauthenticates_and_names_the_role(
    directory: UserDirectory, alice: Principal
) -> None:
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    record = sign(
        directory,
        alice,
        PASSWORD,
        SignatureMeaning.APPROVED,
        "batch record reviewed",
        roles=(Role.ADMIN, Role.QA, Role.SUPERVISOR),
        clock=lambda: moment,
    )
    assert (record.signer, record.role, record.sign_time) == ("syracuse.alice", "qa", moment)
    assert (record.printed_name, record.meaning) == ("Alice Moreau", SignatureMeaning.APPROVED)

    with pytest.raises(errors.Unauthenticated) as raised:
        sign(directory, alice, "wrong", SignatureMeaning.APPROVED, "", roles=(Role.QA,))
    assert raised.value.reason == "SIGNATURE_PASSWORD_INVALID"
    with pytest.raises(errors.PermissionDenied) as denied:
        sign(directory, alice, PASSWORD, SignatureMeaning.EXECUTED, "", roles=(Role.OPERATOR,))
    assert denied.value.reason == "ROLE_REQUIRED"
    assert denied.value.metadata["requiredRoles"] == "operator"


def test_roles_map_to_proto_and_back() -> None:
    for role in Role:
        assert role_from_proto(role_to_proto(role)) is role
    with pytest.raises(ValueError):
        role_from_proto(0)  # type: ignore[arg-type]


def test_demo_users_are_created_once(directory: UserDirectory) -> None:
    first = ensure_demo_users(directory, "songdo")
    assert all(user.created for user in first)
    assert {user.username for user in first} >= {"songdo.author", "songdo.qa", "songdo.mes"}
    author = next(user for user in first if user.username == "songdo.author")
    principal = directory.authenticate(author.username, author.password)
    assert principal.roles == {Role.PROCESS_ENGINEER} and principal.home_site == "songdo"
    assert "Songdo author" in principal.printed_name

    second = ensure_demo_users(directory, "songdo")
    assert [user.username for user in second] == [user.username for user in first]
    assert not any(user.created for user in second)


def test_role_and_site_checks(alice: Principal) -> None:
    require_role(alice, Role.OPERATOR, Role.QA)
    require_home_site(alice, "syracuse")
    with pytest.raises(errors.PermissionDenied) as denied:
        require_role(alice, Role.OPERATOR, Role.ADMIN)
    assert denied.value.reason == "ROLE_REQUIRED"
    assert denied.value.metadata["requiredRoles"] == "operator,admin"
    with pytest.raises(errors.PermissionDenied) as denied:
        require_home_site(alice, "songdo")
    assert denied.value.reason == "WRONG_SITE"
    with pytest.raises(errors.Unauthenticated):
        current_principal()  # outside a call


def test_a_recent_verification_is_recognised_without_argon2_until_the_password_changes(
    tmp_path: Path,
) -> None:
    directory = UserDirectory(create_database_engine(f"sqlite:///{tmp_path / 'recent.db'}"))
    migrate(directory.engine, IDENTITY_MIGRATIONS)
    directory.add_user("syracuse.op", "Op", "first password", [Role.OPERATOR], "syracuse")
    directory.authenticate("syracuse.op", "first password")
    calls: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            calls.append(str(password))
            return super().verify(hash, password)

    directory.hasher = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    directory.authenticate("syracuse.op", "first password")
    assert calls == []  # recognised from the recent verification
    with pytest.raises(errors.Unauthenticated):
        directory.authenticate("syracuse.op", "wrong password")
    assert calls == ["wrong password"]  # a different password is always checked in full
    directory.set_password("syracuse.op", "second password")
    with pytest.raises(errors.Unauthenticated):
        directory.authenticate("syracuse.op", "first password")  # the old one is gone
    directory.authenticate("syracuse.op", "second password")


def wrong_passwords(directory: UserDirectory, username: str, count: int) -> None:
    for attempt in range(count):
        with pytest.raises(errors.Unauthenticated) as refused:
            directory.authenticate(username, f"wrong password {attempt}")
        assert refused.value.reason == "INVALID_CREDENTIALS"


def test_repeated_wrong_passwords_lock_the_account_until_unlocked(
    directory: UserDirectory, alice: Principal
) -> None:
    # A right password ends a run of wrong ones: the count starts again.
    wrong_passwords(directory, "syracuse.alice", MAX_FAILED_ATTEMPTS - 1)
    assert directory.authenticate("syracuse.alice", PASSWORD) == alice
    wrong_passwords(directory, "syracuse.alice", MAX_FAILED_ATTEMPTS - 1)
    account = directory.get("syracuse.alice")
    assert account is not None and account.locked_time is None
    assert account.failed_attempts == MAX_FAILED_ATTEMPTS - 1

    wrong_passwords(directory, "syracuse.alice", 1)  # the limit: locked
    account = directory.get("syracuse.alice")
    assert account is not None and account.locked_time is not None
    # Locked: the right password is refused too, at log-in and at signing, saying why.
    with pytest.raises(errors.Unauthenticated) as refused:
        directory.authenticate("syracuse.alice", PASSWORD)
    assert refused.value.reason == "ACCOUNT_LOCKED"
    with pytest.raises(errors.Unauthenticated) as refused_signature:
        sign(directory, alice, PASSWORD, SignatureMeaning.APPROVED, "", roles=[Role.QA])
    assert refused_signature.value.reason == "ACCOUNT_LOCKED"

    directory.unlock("syracuse.alice")
    assert directory.authenticate("syracuse.alice", PASSWORD) == alice
    account = directory.get("syracuse.alice")
    assert account is not None and account.locked_time is None and account.failed_attempts == 0


def test_a_recent_verification_does_not_pass_a_lock_and_a_new_password_ends_it(
    directory: UserDirectory, alice: Principal
) -> None:
    assert directory.authenticate("syracuse.alice", PASSWORD) == alice  # now recognised at once
    wrong_passwords(directory, "syracuse.alice", MAX_FAILED_ATTEMPTS)
    with pytest.raises(errors.Unauthenticated) as refused:
        directory.authenticate("syracuse.alice", PASSWORD)
    assert refused.value.reason == "ACCOUNT_LOCKED"
    directory.set_password("syracuse.alice", "a password set by the admin")
    assert directory.authenticate("syracuse.alice", "a password set by the admin") == alice


def test_unlocking_an_unknown_user_is_not_found(directory: UserDirectory) -> None:
    with pytest.raises(errors.NotFound):
        directory.unlock("syracuse.nobody")


def test_writes_need_a_user_in_good_standing_now_not_only_a_live_token(
    directory: UserDirectory, alice: Principal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory.require_good_standing("syracuse.alice")  # active, unlocked: nothing raised
    # A change made here is known here at once.
    directory.set_active("syracuse.alice", False)
    with pytest.raises(errors.Unauthenticated) as inactive:
        directory.require_good_standing("syracuse.alice")
    assert inactive.value.reason == "ACCOUNT_INACTIVE"
    # A change made by another process (another directory on the same database) is known once
    # the standing read here is older than STANDING_SECONDS (here: at once).
    monkeypatch.setattr(identity, "STANDING_SECONDS", 0.0)
    directory.set_active("syracuse.alice", True)
    directory.require_good_standing("syracuse.alice")
    elsewhere = UserDirectory(directory.engine)
    for attempt in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(errors.Unauthenticated):
            elsewhere.authenticate("syracuse.alice", f"wrong {attempt}")
    with pytest.raises(errors.Unauthenticated) as locked:
        directory.require_good_standing("syracuse.alice")
    assert locked.value.reason == "ACCOUNT_LOCKED"
    with pytest.raises(errors.Unauthenticated) as unknown:
        directory.require_good_standing("syracuse.nobody")
    assert unknown.value.reason == "ACCOUNT_INACTIVE"


def test_a_failed_log_in_logs_the_username_bounded_and_escaped(
    directory: UserDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = "x\n" + "y" * 70_000
    with caplog.at_level("WARNING"), pytest.raises(errors.Unauthenticated):
        directory.authenticate(hostile, PASSWORD)
    lines = [record.getMessage() for record in caplog.records]
    assert lines and all(len(line) < 300 and "\n" not in line for line in lines)
    assert any("70002 characters" in line for line in lines)
