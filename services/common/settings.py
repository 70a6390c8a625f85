"""Process settings from the environment (prefix ``TWINLINE_``), with embedded defaults."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.sites import DEFAULT_REGISTRY, Site, SiteRegistry

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWINLINE_", extra="ignore")

    # Which plant this process serves; must be listed in the site registry.
    site: str = "syracuse"
    sites_file: Path = DEFAULT_REGISTRY
    # Where SQLite files, secrets and logs live when no URL says otherwise.
    data_dir: Path = PROJECT_ROOT / "var"
    nats_url: str = "nats://127.0.0.1:4222"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # Empty: SQLite (WAL) at <data_dir>/<site>/<service>.db. A postgresql+psycopg:// URL switches;
    # "{service}" in it is replaced by the service's name (one database per service).
    database_url: str = ""
    # The site's user directory (shared by the site's services). Empty: SQLite beside the others.
    identity_database_url: str = ""
    # HMAC key for bearer tokens; empty: read (or create once) <data_dir>/auth-secret.
    auth_secret: str = ""
    token_ttl_seconds: int = 8 * 3600
    # SQLite PRAGMA synchronous: FULL survives power loss; NORMAL survives a process crash.
    sqlite_synchronous: str = "FULL"
    # Fault injection for tests: do not start the outbox relay.
    relay_enabled: bool = True
    # Fault injection for tests: exit the process right after a publish is acked, before marking.
    fault_exit_after_publish: bool = False
    # Seconds the relay may try to publish the outbox's head without an ack before the
    # service's health says NOT_SERVING (and GetOutboxStatus says stalled).
    relay_stall_seconds: float = 30.0
    # Seconds between the heartbeats a site's site view publishes (decision 0009); a remote
    # view reads the site stale after three intervals without one.
    heartbeat_seconds: float = 5.0
    # Seconds SIGTERM waits for in-flight calls before cancelling them.
    shutdown_grace_seconds: float = 10.0

    @cached_property
    def registry(self) -> SiteRegistry:
        return SiteRegistry.load(self.sites_file)

    @property
    def home_site(self) -> Site:
        return self.registry.get(self.site)

    def site_dir(self) -> Path:
        path = self.data_dir / self.site
        path.mkdir(parents=True, exist_ok=True)
        return path

    def database_url_for(self, service: str) -> str:
        """Each service has its own database: ``{service}`` in the URL names it."""
        if self.database_url:
            return self.database_url.replace("{service}", service)
        return f"sqlite:///{self.site_dir() / f'{service}.db'}"

    def identity_url(self) -> str:
        if self.identity_database_url:
            return self.identity_database_url
        return f"sqlite:///{self.site_dir() / 'identity.db'}"

    def token_secret(self) -> str:
        """The key that signs bearer tokens: one per quality system, shared by every site."""
        if self.auth_secret:
            return self.auth_secret
        secret_file = self.data_dir / "auth-secret"
        if not secret_file.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            candidate = secret_file.with_suffix(f".{os.getpid()}.tmp")
            candidate.write_text(secrets.token_urlsafe(48))
            candidate.chmod(0o600)
            try:
                os.link(candidate, secret_file)  # atomic, and never overwrites a sibling's key
            except FileExistsError:
                pass
            finally:
                candidate.unlink(missing_ok=True)
        return secret_file.read_text().strip()
