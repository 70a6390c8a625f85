"""The bridge's configuration: one TOML file per bridge, validated before anything starts.

    run = "conjugationRuns/SYR-CR-000001"
    buffer = "var/syracuse/bridge-R201.db"

    [opcua]
    endpoint = "opc.tcp://plc-r201.syracuse.example:4840"

    [service]
    address = "127.0.0.1:50061"
    username = "syracuse.mes"
    password_file = "/run/secrets/mes-password"

    [[node]]
    node_id = "ns=2;s=R201.TT01"
    tag = "R201.TT01"
    unit = "Cel"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.conjugation.readings.names import tag_problem

# The environment variable that may carry the service password instead of a file.
PASSWORD_ENV = "TWINLINE_BRIDGE_PASSWORD"


class ConfigError(ValueError):
    """The configuration file is missing, not TOML, or names a bad value; says which."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaSource(_Strict):
    endpoint: str
    # How often the server sends the changes it queued (ms) and how many it may queue per
    # node in between: a burst faster than the interval is queued, not coalesced.
    publishing_interval_ms: float = Field(default=100.0, gt=0, le=60_000)
    queue_size: int = Field(default=1_000, ge=1, le=100_000)

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, endpoint: str) -> str:
        if not endpoint.startswith("opc.tcp://"):
            raise ValueError("must be an opc.tcp:// URL")
        return endpoint


class ReadingsService(_Strict):
    address: str
    username: str
    # The password: the first line of this file (owner-only), or $TWINLINE_BRIDGE_PASSWORD.
    password_file: Path | None = None


class NodeMapping(_Strict):
    node_id: str = Field(min_length=1)
    tag: str
    # UCUM code of the node's values; it must be the unit the tag was declared with.
    unit: str = Field(min_length=1, max_length=64)

    @field_validator("tag")
    @classmethod
    def _tag_name(cls, tag: str) -> str:
        problem = tag_problem(tag)
        if problem:
            raise ValueError(problem)
        return tag


class BridgeConfig(_Strict):
    run: str = Field(pattern=r"^conjugationRuns/[A-Za-z0-9-]+$")
    buffer: Path
    opcua: OpcUaSource
    service: ReadingsService
    node: list[NodeMapping] = Field(min_length=1, max_length=500)
    # How long points wait in the buffer before a send; at most this many points a call.
    flush_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    max_points_per_call: int = Field(default=10_000, ge=1, le=100_000)
    # The longest wait between two attempts while the service is unreachable.
    max_retry_seconds: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _each_node_and_tag_once(self) -> BridgeConfig:
        for field in ("node_id", "tag"):
            values = [getattr(mapping, field) for mapping in self.node]
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"each {field} once; repeated: {', '.join(repeated)}")
        return self

    def password(self) -> str:
        if self.service.password_file is not None:
            try:
                return self.service.password_file.read_text().splitlines()[0]
            except (OSError, IndexError) as exc:
                raise ConfigError(
                    f"service.password_file {self.service.password_file}: cannot read a "
                    f"password from it ({exc or 'empty'})"
                ) from exc
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise ConfigError(f"no password: set service.password_file or ${PASSWORD_ENV}")
        return password


def load_config(path: Path) -> BridgeConfig:
    """The file's configuration; a ConfigError lists every bad field (``node[2].tag: ...``)."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from exc
    try:
        return BridgeConfig.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
        raise ConfigError(f"{path}:\n  " + "\n  ".join(problems)) from exc


def _location(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(file)"
