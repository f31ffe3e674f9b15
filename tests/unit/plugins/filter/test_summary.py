"""The end-of-run summary table (plugins/filter/summary.py)."""

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.filter.summary import (
    summary_table,
)

DECLARED = {
    "vault": {"ip": "172.20.0.5", "ports": {"api": {"host": 8200, "container": 8200}}, "web": {"port": "api"},
              "vault": False},
    "traefik": {"ip": "172.20.0.25", "ports": {"https": {"host": 443, "container": 8443}}, "edge": True},
    "docker-proxy": {"ip": "172.20.0.26", "ports": {"docker": {"host": None, "container": 2375}}, "vault": False},
    "postgres-exporter": {"ip": "172.20.0.209", "enabled": False, "vault": False},
    "alloy": {"ip": "172.20.0.203", "enabled": False, "vault": False},
}


def test_columns_line_up_and_long_names_do_not_break_them():
    lines = summary_table(reg.registry(DECLARED), {"vault": "deployed"}).splitlines()
    table = lines[:4]
    assert [line.split()[0] for line in table] == ["component", "docker-proxy", "traefik", "vault"]
    # Every row's second and third columns start where the header's do.
    for column in ("status", "address"):
        start = table[0].index(column)
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in table[1:])
    assert table[3].split()[1] == "deployed" and table[2].split()[1:3] == ["not", "run"]


def test_urls_first_then_ports_disabled_on_one_line_and_the_creds_command():
    lines = summary_table(reg.registry(DECLARED), {}, heading="network x").splitlines()
    assert lines[0] == "network x"
    vault = next(line for line in lines if line.startswith("vault "))
    assert vault.split("  ")[-1] == "https://vault.localhost, api 127.0.0.1:8200"
    assert next(line for line in lines if line.startswith("docker-proxy")).endswith(" -")
    assert lines[-2] == "disabled: alloy, postgres-exporter"
    assert "devenv creds <component>" in lines[-1]
    assert not any(line != line.rstrip() for line in lines)

