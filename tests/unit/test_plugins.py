"""Filters and the recipe_hash lookup."""

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.colima_services.devenv.plugins.filter import service
from ansible_collections.colima_services.devenv.plugins.lookup.recipe_hash import recipe_hash
from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile


def test_port_spec_binds_loopback_by_default():
    assert _reconcile.port_spec({"host": 8200, "container": 8200}) == "127.0.0.1:8200:8200/tcp"
    assert _reconcile.port_spec({"host": 53, "container": 53, "protocol": "udp"}, "::1") == "[::1]:53:53/udp"
    # A port's own bind_address wins over the setting.
    assert _reconcile.port_spec({"host": 80, "container": 80, "bind_address": "0.0.0.0"}) == "0.0.0.0:80:80/tcp"


def test_mounts():
    assert _reconcile.volume_mount({"name": "vault_data", "target": "/vault/data"}, "mol_") == {
        "type": "volume", "source": "mol_vault_data", "target": "/vault/data", "read_only": False}
    assert _reconcile.bind_mount({"source": "/k", "target": "/keys"})["read_only"] is True
    assert _reconcile.bind_mount({"source": "/k", "target": "/keys", "read_only": False})["read_only"] is False


def test_only_the_summary_and_client_file_filters_are_public():
    # port_spec, volume_mount and bind_mount are the reconcile step's helpers, not filters.
    assert sorted(service.FilterModule().filters()) == ["client_file", "status_line"]


def test_status_line():
    plan = {"vault": {"ports": {"api": {"host": 8200, "container": 8200}}}, "off": {"enabled": False}}
    assert service.status_line("vault", plan, {"vault": "deployed"}).split() == [
        "vault", "deployed", "api", "127.0.0.1:8200"]
    assert service.status_line("off", plan, {}).split() == ["off", "disabled"]
    # Where an enabled edge routes the component, its URL (with the edge's port when it is not 443).
    from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
    declared = {"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": 8200, "container": 8200}},
                          "web": {"port": "api"}, "vault": False},
                "traefik": {"ip": "172.20.0.25", "ports": {"https": {"host": 443, "container": 8443}}, "edge": True}}
    assert service.status_line("vault", reg.registry(declared), {}).split()[-1] == "https://vault.localhost"
    moved = reg.registry(declared, port_offset=31000)
    assert service.status_line("vault", moved, {}).split()[-1] == "https://vault.localhost:31443"
    off = reg.registry(declared, {"traefik": {"enabled": False}})
    assert "https://" not in service.status_line("vault", off, {})


def test_recipe_hash_tracks_content(tmp_path):
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "Dockerfile").write_text("FROM base\n")
    first = recipe_hash([str(recipe)])
    assert len(first) == 12 and recipe_hash([str(recipe)]) == first
    (recipe / "Dockerfile").write_text("FROM base\nRUN true\n")
    assert recipe_hash([str(recipe)]) != first
    with pytest.raises(AnsibleLookupError):
        recipe_hash([str(tmp_path / "missing")])
