"""The site registry: which plants exist, read from a TOML file, so a new site needs no code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "deploy" / "sites.toml"


class UnknownSiteError(LookupError):
    """A site id that the registry does not list."""


@dataclass(frozen=True)
class Site:
    id: str
    code: str
    display_name: str
    time_zone: str
    nats_domain: str


@dataclass(frozen=True)
class SiteRegistry:
    sites: tuple[Site, ...]

    @classmethod
    def load(cls, path: Path = DEFAULT_REGISTRY) -> SiteRegistry:
        with path.open("rb") as registry_file:
            raw = tomllib.load(registry_file)
        sites = tuple(Site(**entry) for entry in raw.get("site", []))
        if not sites:
            raise ValueError(f"{path}: the site registry lists no [[site]]")
        ids = [site.id for site in sites]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: a site id is listed twice: {ids}")
        return cls(sites)

    def get(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise UnknownSiteError(site_id)

    def by_code(self, code: str) -> Site:
        for site in self.sites:
            if site.code == code:
                return site
        raise UnknownSiteError(code)

    def others(self, site_id: str) -> tuple[Site, ...]:
        return tuple(site for site in self.sites if site.id != site_id)

    @property
    def hub(self) -> Site:
        """The site whose nats-server accepts the leaf-node connections of all the others."""
        return self.sites[0]

    def ids(self) -> list[str]:
        return [site.id for site in self.sites]
