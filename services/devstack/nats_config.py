"""Renders the nats-server config of one site from the site registry.

The hub (first site) accepts leaf-node connections; every other site is a leaf of the hub. Each
site has its own JetStream domain, so its stream stays local and writable while the link is down.
Run ``python -m services.devstack.nats_config`` to regenerate the files under deploy/nats/.
"""

from __future__ import annotations

import json
from pathlib import Path

from services.common.sites import Site, SiteRegistry

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "nats"

# A leaf retries its hub this often; the server default (1 s) delays every heal.
LEAF_RECONNECT = "50ms"

# The ports of `make run`: the n-th site of the registry gets client 4222+n and monitor 8222+n,
# so a site added to the registry needs no code here.
CLIENT_PORT_BASE = 4222
HTTP_PORT_BASE = 8222
HUB_LEAF_PORT = 7422


def _quote(text: str) -> str:
    # A JSON string is a valid nats-server config string, escapes included.
    return json.dumps(text)


def render_site_config(
    site: Site,
    registry: SiteRegistry,
    *,
    client_port: int,
    leaf_port: int | None = None,
    hub_leaf_url: str | None = None,
    store_dir: str | Path,
    http_port: int | None = None,
) -> str:
    """The config text of `site`'s nats-server; the hub needs `leaf_port`, a leaf `hub_leaf_url`."""
    is_hub = site.id == registry.hub.id
    lines = [
        f"# nats-server config of site {site.id}, rendered by services/devstack/nats_config.py.",
        f"server_name: {_quote(site.id)}",
        'host: "127.0.0.1"',
        f"port: {client_port}",
    ]
    if http_port is not None:
        lines.append(f'http: "127.0.0.1:{http_port}"')
    lines += [
        "",
        "jetstream {",
        f"  domain: {_quote(site.nats_domain)}",
        f"  store_dir: {_quote(str(store_dir))}",
        "}",
        "",
        "leafnodes {",
    ]
    if is_hub:
        if leaf_port is None:
            raise ValueError(f"the hub site {site.id} needs a leaf_port")
        lines += [
            '  host: "127.0.0.1"',
            f"  port: {leaf_port}",
            # Otherwise the hub tells leaves its real leaf port and they reconnect around a proxy.
            "  no_advertise: true",
        ]
    else:
        if hub_leaf_url is None:
            raise ValueError(f"the leaf site {site.id} needs a hub_leaf_url")
        lines += [
            # The reconnect interval is a leafnodes-block option, not a per-remote one.
            f"  reconnect: {_quote(LEAF_RECONNECT)}",
            "  remotes: [",
            f"    {{ url: {_quote(hub_leaf_url)} }}",
            "  ]",
        ]
    lines += ["}", ""]
    return "\n".join(lines)


def default_client_port(site: Site, registry: SiteRegistry) -> int:
    return CLIENT_PORT_BASE + registry.ids().index(site.id)


def default_http_port(site: Site, registry: SiteRegistry) -> int:
    return HTTP_PORT_BASE + registry.ids().index(site.id)


def default_store_dir(site: Site) -> str:
    """Relative to the repository root, where `make run` starts the servers."""
    return f"var/{site.id}/jetstream"


def render_default_config(site: Site, registry: SiteRegistry) -> str:
    """The config `make run` uses."""
    return render_site_config(
        site,
        registry,
        client_port=default_client_port(site, registry),
        leaf_port=HUB_LEAF_PORT,
        hub_leaf_url=f"nats-leaf://127.0.0.1:{HUB_LEAF_PORT}",
        store_dir=default_store_dir(site),
        http_port=default_http_port(site, registry),
    )


def default_config_path(site: Site) -> Path:
    return DEPLOY_DIR / f"{site.id}.conf"


def write_default_configs(registry: SiteRegistry) -> list[Path]:
    """Regenerates deploy/nats/<site>.conf for every site of the registry."""
    DEPLOY_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for site in registry.sites:
        path = default_config_path(site)
        path.write_text(render_default_config(site, registry))
        written.append(path)
    return written


if __name__ == "__main__":
    for config_path in write_default_configs(SiteRegistry.load()):
        print(f"wrote {config_path}")
