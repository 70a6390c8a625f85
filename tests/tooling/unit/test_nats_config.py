"""The committed nats-server configs are exactly what the registry renders, and they parse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services.common.sites import DEFAULT_REGISTRY, SiteRegistry
from services.devstack.nats_config import (
    default_config_path,
    render_default_config,
    render_site_config,
)
from services.devstack.nats_server import nats_server_binary


@pytest.mark.parametrize("site_id", SiteRegistry.load().ids())
def test_committed_config_equals_rendered(site_id: str) -> None:
    registry = SiteRegistry.load()
    site = registry.get(site_id)
    committed = default_config_path(site).read_text()
    assert committed == render_default_config(site, registry), (
        "regenerate with: python -m services.devstack.nats_config"
    )


@pytest.mark.parametrize("site_id", SiteRegistry.load().ids())
def test_committed_config_is_valid_for_nats_server(site_id: str) -> None:
    config_path = default_config_path(SiteRegistry.load().get(site_id))
    check = subprocess.run(
        [str(nats_server_binary()), "--config", str(config_path), "-t"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_hub_listens_for_leaves_and_leaves_dial_the_hub() -> None:
    registry = SiteRegistry.load()
    hub = render_default_config(registry.hub, registry)
    assert "no_advertise: true" in hub and "port: 7422" in hub and "remotes" not in hub
    for leaf_site in registry.others(registry.hub.id):
        leaf = render_default_config(leaf_site, registry)
        assert 'url: "nats-leaf://127.0.0.1:7422"' in leaf
        assert 'reconnect: "50ms"' in leaf
        assert f'domain: "{leaf_site.nats_domain}"' in leaf


def test_a_third_site_renders_without_code(tmp_path: Path) -> None:
    registry_path = tmp_path / "sites.toml"
    registry_path.write_text(
        DEFAULT_REGISTRY.read_text()
        + '\n[[site]]\nid = "kalundborg"\ncode = "KAL"\ndisplay_name = "Kalundborg"\n'
        'time_zone = "Europe/Copenhagen"\nnats_domain = "kalundborg"\n'
    )
    registry = SiteRegistry.load(registry_path)
    third = render_default_config(registry.get("kalundborg"), registry)
    assert "port: 4224" in third and 'http: "127.0.0.1:8224"' in third
    assert 'store_dir: "var/kalundborg/jetstream"' in third


def test_a_hub_needs_a_leaf_port_and_a_leaf_needs_the_hub_url() -> None:
    registry = SiteRegistry.load()
    leaf_site = registry.others(registry.hub.id)[0]
    with pytest.raises(ValueError):
        render_site_config(registry.hub, registry, client_port=1, store_dir="s")
    with pytest.raises(ValueError):
        render_site_config(leaf_site, registry, client_port=1, store_dir="s")
