"""A real, throwaway PostgreSQL server for the tests, installed and started by the tests.

``postgres_url`` (session) finds the server binaries, installing Debian's ``postgresql`` when
they are missing, initdbs a cluster in a temporary folder and starts it on a free port of
127.0.0.1; it is stopped at the end of the session, also when tests fail. ``postgres_database``
gives each test a database of its own. PostgreSQL refuses to run as root, so as root the
cluster belongs to an unprivileged user (``postgres`` from the Debian package, or
``twinline-pg``) and its programs run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.nats_harness import free_port

SUPERUSER = "twinline"
SERVICE_USERS = ("postgres", "twinline-pg")
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 30.0
# fsync off and no synchronous commit: a crash loses the throwaway cluster, never a record.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresUnavailable(Exception):
    """The server binaries are missing and cannot be installed here."""


@dataclass(frozen=True)
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def run(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        # cwd: the server's user may not be allowed into the caller's working directory.
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        log = self.root / "server.log"
        return f"\nserver log:\n{log.read_text()[-2000:]}" if log.exists() else ""


def server_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), if any."""
    candidates = sorted(
        (Path(initdb).parent for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(candidates):
        if all((bin_dir / program).exists() for program in ("initdb", "pg_ctl", "postgres")):
            return bin_dir
    initdb = shutil.which("initdb")
    if initdb is not None:
        bin_dir = Path(initdb).resolve().parent
        if (bin_dir / "pg_ctl").exists() and (bin_dir / "postgres").exists():
            return bin_dir
    return None


def install_server(timeout: float = INSTALL_TIMEOUT) -> Path:
    """Installs Debian's PostgreSQL server; raises PostgresUnavailable saying why it cannot."""
    if os.geteuid() != 0:
        raise PostgresUnavailable("the server is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable("the server is not installed and there is no apt-get")
    deadline = time.monotonic() + timeout
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]

    def apt(*command: str) -> subprocess.CompletedProcess[str]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PostgresUnavailable(f"installing PostgreSQL took longer than {timeout:.0f} s")
        try:
            return subprocess.run(
                command, env=environment, capture_output=True, text=True, timeout=remaining,
                check=False, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise PostgresUnavailable(
                f"{' '.join(command)} took longer than {timeout:.0f} s"
            ) from None

    print("installing PostgreSQL for the tests: " + " ".join(install), flush=True)
    done = apt(*install)
    if done.returncode != 0:  # a fresh machine's package lists may be stale or empty
        updated = apt("apt-get", "update")
        if updated.returncode != 0:
            raise PostgresUnavailable(f"apt-get update failed:\n{updated.stderr[-2000:]}")
        done = apt(*install)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(install)} failed:\n{done.stderr[-2000:]}")
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("postgresql installed, but no initdb/pg_ctl/postgres found")
    return bin_dir


def server_user() -> str | None:
    """Whom the server runs as: None (the caller) unless the caller is root."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    name = SERVICE_USERS[-1]
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True, capture_output=True, timeout=30,
    )
    return name


def start_server(bin_dir: Path) -> PostgresServer:
    run_as = server_user()
    # /tmp: every user may enter it (a TMPDIR under /root would lock the server out).
    root = Path(tempfile.mkdtemp(prefix="twinline-pg-", dir="/tmp" if run_as else None))
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        os.chown(root, account.pw_uid, account.pw_gid)
    server = PostgresServer(bin_dir, root, 0, run_as)
    server.run(
        "initdb", "--pgdata", str(server.data_dir), "--username", SUPERUSER, "--auth", "trust",
        "--encoding", "UTF8", "--no-locale", "--no-sync",
    )
    for attempt in range(3):  # a free port may be taken before the server binds it
        server = PostgresServer(bin_dir, root, free_port(), run_as)
        options = {**SERVER_OPTIONS, "port": str(server.port), "unix_socket_directories": str(root)}
        try:
            server.run(
                "pg_ctl", "start", "--pgdata", str(server.data_dir), "--wait",
                "--timeout", str(int(START_TIMEOUT)), "--log", str(root / "server.log"),
                "-o", " ".join(f"-c {name}={value}" for name, value in options.items()),
                timeout=START_TIMEOUT + 5,
            )
        except RuntimeError:
            if attempt == 2:
                raise
            continue
        wait_for_connections(server)
        return server
    raise AssertionError("unreachable")


def wait_for_connections(server: PostgresServer, timeout: float = START_TIMEOUT) -> None:
    """Polls until the server takes a connection (pg_ctl --wait may return a bit before)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.05)


def stop_server(server: PostgresServer) -> None:
    try:
        server.run("pg_ctl", "stop", "--pgdata", str(server.data_dir), "--mode", "fast")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        try:
            bin_dir = install_server()
        except PostgresUnavailable as reason:
            print(f"PostgreSQL tests skipped: {reason}", flush=True)
            pytest.skip(f"no PostgreSQL server for the tests: {reason}")
    started = time.monotonic()
    server = start_server(bin_dir)
    print(f"PostgreSQL ({bin_dir}) up on port {server.port} in "
          f"{time.monotonic() - started:.1f} s", flush=True)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of the throwaway server's maintenance database."""
    return postgres_server.url()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test, as a SQLAlchemy URL."""
    name = f"twinline_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres_server.url(name)
    # FORCE: a test that failed may have left its engine's connections open.
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
