"""The tokens ``twinline login`` keeps: one per site, in the user's config directory, readable
by the owner only, so later commands need no password until they sign something."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credential:
    site: str
    user: str
    token: str
    expire_time: str  # ISO 8601, UTC

    @property
    def expired(self) -> bool:
        return datetime.fromisoformat(self.expire_time) <= datetime.now(UTC)


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/twinline``, else ``~/.config/twinline``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "twinline"


def _read() -> dict[str, dict[str, str]]:
    path = config_dir() / FILE_NAME
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable or damaged: as if logged out; the next login rewrites it
    return found if isinstance(found, dict) else {}


def _write(held: dict[str, dict[str, str]]) -> Path:
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / FILE_NAME
    candidate = directory / f".{FILE_NAME}.{os.getpid()}"
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(held, out, indent=2, sort_keys=True)
    os.replace(candidate, path)  # whole or not at all
    return path


def save(credential: Credential) -> Path:
    held = _read()
    held[credential.site] = asdict(credential)
    return _write(held)


def load(site: str) -> Credential | None:
    """The site's token if one is kept and still valid."""
    entry = _read().get(site)
    if not isinstance(entry, dict):
        return None
    try:
        credential = Credential(**entry)
        return None if credential.expired else credential
    except (TypeError, ValueError):
        return None


def forget(site: str | None) -> list[str]:
    """Drops the token of ``site`` (every site's when None); the sites it dropped."""
    held = _read()
    gone = sorted(held) if site is None else [s for s in held if s == site]
    for name in gone:
        del held[name]
    if gone:
        _write(held)
    return gone
