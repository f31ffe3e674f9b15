"""The edge's filters: the dashboard's basic-auth line."""


import bcrypt
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.filter.edge import htpasswd_line

from conftest import DEFAULTS


def _hash(line):
    return line.split(":", 1)[1]


def test_the_line_verifies_the_password():
    line = htpasswd_line("s3cretPassw0rd", "admin", "Salt1234567890abcdefXY")
    assert line.startswith("admin:$2b$10$")
    assert bcrypt.checkpw(b"s3cretPassw0rd", _hash(line).encode("ascii"))
    assert not bcrypt.checkpw(b"s3cretPassw0rdx", _hash(line).encode("ascii"))


def test_the_same_install_gets_the_same_line_on_every_run():
    # A re-run renders the same users file (changed=0): the salt comes from the install's own random value.
    assert htpasswd_line("pw0rd", "admin", "seedA") == htpasswd_line("pw0rd", "admin", "seedA")


def test_two_installs_with_the_same_login_get_different_hashes():
    # The salt is not derived from user and password alone: the same login on two machines gives two hashes.
    first = _hash(htpasswd_line("samePassw0rd", "admin", "seedOfInstallOne"))
    second = _hash(htpasswd_line("samePassw0rd", "admin", "seedOfInstallTwo"))
    assert first[:29] != second[:29]
    assert first != second


@pytest.mark.parametrize("seed", ["", None, 42])
def test_a_missing_salt_seed_is_an_error_that_says_what_to_do(seed):
    with pytest.raises(AnsibleFilterError) as err:
        htpasswd_line("pw0rd", "admin", seed)
    assert "salt" in str(err.value) and "vault" in str(err.value)
    assert "pw0rd" not in str(err.value)


def test_prometheus_and_alertmanager_are_behind_the_edge_login_and_other_uis_keep_their_own():
    with open(DEFAULTS) as handle:
        components = yaml.safe_load(handle)["devenv_components"]
    for entry in components.values():
        if isinstance(entry.get("enabled"), str):
            entry["enabled"] = False
    plan = reg.registry(components)
    behind = sorted(name for name, entry in plan.items() if entry.get("web") and entry["web"]["login"])
    assert behind == ["alertmanager", "prometheus"]
    # A web entry without it stays as it was: its own login (Grafana, RabbitMQ, Vault), none added.
    assert plan["grafana"]["web"]["login"] is False
