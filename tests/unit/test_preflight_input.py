"""Bad input that must fail in preflight, before any change, naming the variable and the fix (issue 22, item 14).

The plans here are resolved plans (the registry filter's output), as the preflight module receives them."""

import socket

import pytest
import yaml

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf
from ansible_collections.colima_services.devenv.plugins.modules import preflight

from conftest import DEFAULTS, shipped

BASE_ARGS = dict(network_name="dev-services", subnet="172.20.0.0/16", gateway="172.20.0.1")


def plan(**overrides):
    """A small resolved plan: vault, postgres, pgbouncer (depends on postgres), an edge, with overrides."""
    components = {
        "vault": {"ip": "172.20.0.5", "ports": {}, "vault": False, "memory_mb": 256},
        "postgres": {"ip": "172.20.0.10", "ports": {}, "memory_mb": 512, "depends_on": ["vault"],
                     "vault": {"secret": "postgresql", "data": {"username": "dev_admin"}}},
        "pgbouncer": {"ip": "172.20.0.11", "ports": {}, "depends_on": ["postgres"],
                      "vault": {"generate": [], "read_secrets": ["postgresql"]}},
        "traefik": {"ip": "172.20.0.20", "ports": {"https": {"host": 443, "container": 8443, "kind": "https"}},
                    "edge": {"hosts": []}},
        "grafana": {"ip": "172.20.0.30", "ports": {"http": {"host": None, "container": 3000, "kind": "http"}},
                    "web": {"port": "http"}},
    }
    return reg.registry(components, overrides)


def problems_of(components):
    """Every problem the plan-only checks report."""
    return pf.check_input(components)


def test_a_sound_plan_and_the_shipped_registry_in_every_profile_pass():
    assert problems_of(plan()) == []
    for profile in reg.PROFILES:
        for replicas in (0, 1):
            assert problems_of(reg.registry(shipped(replicas), profile=profile)) == [], (profile, replicas)


@pytest.mark.parametrize("value", ["lots", -5, True, "12.5"])
def test_a_negative_or_non_numeric_memory_estimate_is_named(value):
    problems = problems_of(plan(postgres={"memory_mb": value}))
    assert problems == [
        "Component 'postgres' has memory_mb %r, not a whole number of MiB (0 or more). Set "
        "devenv_components_overrides.postgres.memory_mb to its estimate, such as 256." % (value,)]


def test_check_memory_no_longer_crashes_on_a_bad_estimate():
    problems, need = pf.check_memory(plan(postgres={"memory_mb": "lots"}), 8 * 1024 ** 3, 512)
    assert problems == [] and need == 256  # the bad value is reported by check_input, and not counted


@pytest.mark.parametrize("name", ["my db", "db_1", "Web", "-x", "x-", "caf\u00e9", "a" * 64, "a.b"])
def test_a_component_name_docker_or_dns_refuse_is_named(name):
    problems = problems_of(plan(**{name: {"ip": "172.20.0.40", "ports": {}}}))
    assert problems == [
        "Component name %r cannot be a container name and a DNS name on the network. Rename "
        "devenv_components_overrides.%s: lower-case letters, digits and '-' inside, at most 63 characters "
        "(such as 'my-db')." % (name, name)]


def test_valid_names_pass():
    assert problems_of(plan(**{"redis-10": {"ip": "172.20.0.40", "ports": {}},
                               "a1": {"ip": "172.20.0.41", "ports": {}}})) == []


def test_a_depends_on_cycle_is_named_with_its_path():
    problems = problems_of(plan(vault={"depends_on": ["pgbouncer"]}))
    assert problems == [
        "The components depend on each other in a cycle: pgbouncer -> postgres -> vault -> pgbouncer. "
        "Remove one of these from the other's depends_on (devenv_components_overrides.<component>.depends_on)."]


def test_a_self_dependency_is_a_cycle():
    problems = problems_of(plan(vault={"depends_on": ["vault"]}))
    assert len(problems) == 1 and "cycle: vault -> vault" in problems[0]


def test_a_dependency_on_a_disabled_component_is_named_with_both_fixes():
    problems = problems_of(plan(postgres={"enabled": False}))
    assert problems == [
        "Component 'pgbouncer' depends on 'postgres', which is disabled. Enable it "
        "(devenv_components_overrides.postgres.enabled: true) or disable 'pgbouncer' "
        "(devenv_components_overrides.pgbouncer.enabled: false)."]


def test_a_disabled_component_may_depend_on_anything():
    assert problems_of(plan(postgres={"enabled": False}, pgbouncer={"enabled": False})) == []


@pytest.mark.parametrize("entry", ["postgres*", "*", "redis-?", "postgres[ql]"])
def test_a_read_secrets_glob_is_refused(entry):
    problems = problems_of(plan(pgbouncer={"vault": {"read_secrets": ["postgresql", entry]}}))
    assert problems == [
        "devenv_components_overrides.pgbouncer.vault.read_secrets has %r, a pattern: each entry must name one "
        "secret exactly (policies grant one path per name). List the secrets by name." % entry]


def test_two_components_claiming_one_edge_host_are_named():
    problems = problems_of(plan(vault={"web": {"port": "api", "host": "grafana.localhost"},
                                       "ports": {"api": {"host": None, "container": 8200}}}))
    assert problems == [
        "Edge host 'grafana.localhost' is claimed by grafana (web.host) and by vault (web.host). "
        "Give one another name with devenv_components_overrides.vault.web.host."]


def test_an_extra_edge_host_that_a_component_routes_is_named():
    problems = problems_of(plan(traefik={"edge": {"hosts": ["GRAFANA.localhost"]}}))
    assert problems == [
        "Edge host 'grafana.localhost' is claimed by grafana (web.host) and by traefik (edge.hosts). "
        "Give one another name with devenv_components_overrides.traefik.edge.hosts."]


def test_the_replicas_of_one_component_share_its_host():
    """reference-api with replicas: 3 is three containers behind one route: one claim, not three."""
    resolved = reg.registry(shipped(), {"reference-api": {"replicas": 3}})
    assert [n for n in resolved if resolved[n].get("replica_of") == "reference-api"] == [
        "reference-api-1", "reference-api-2", "reference-api-3"]
    assert pf.check_edge_hosts(resolved) == []
    resolved["vault"]["web"]["host"] = "api.localhost"
    assert pf.check_edge_hosts(resolved) == [
        "Edge host 'api.localhost' is claimed by reference-api (web.host) and by vault (web.host). "
        "Give one another name with devenv_components_overrides.vault.web.host."]


def test_a_disabled_component_claims_no_host():
    assert problems_of(plan(grafana={"enabled": False}, traefik={"edge": {"hosts": ["grafana.localhost"]}})) == []


@pytest.mark.parametrize("override,field", [
    ({"vault": {"data": {"password": ""}}}, "password"),
    ({"vault": {"data": {"password": None}}}, "password"),
    ({"vault": {"generate": ["password", "api_key"], "data": {"api_key": " "}}}, "api_key"),
    ({"vault": {"generate": [], "data": {"password": ""}}}, "password"),
])
def test_an_empty_secret_given_in_the_inventory_is_refused(override, field):
    problems = problems_of(plan(**{"redis-1": dict({"ip": "172.20.0.13", "ports": {}}, **override)}))
    assert problems == [
        "devenv_components_overrides.redis-1.vault.data.%s is empty. Remove it, so that a value is generated "
        "once and kept in Vault, or give a non-empty value." % field]


def test_a_given_non_empty_secret_and_empty_plain_fields_pass():
    assert problems_of(plan(**{"redis-1": {"ip": "172.20.0.13", "ports": {}, "vault": {
        "data": {"password": "given-by-me", "vhost": ""}}}})) == []


def test_the_shipped_defaults_are_what_the_test_reads():
    with open(DEFAULTS) as handle:
        assert "devenv_components" in yaml.safe_load(handle)


def local_address():
    """A non-loopback address of this machine, or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(("192.0.2.123", 9))
        address = sock.getsockname()[0]
    except OSError:
        return None
    finally:
        sock.close()
    return None if address.startswith("127.") else address


def test_a_busy_port_on_a_per_port_bind_address_is_found():
    address = local_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        components = {"grafana": {"ip": "172.20.0.30", "ports": {
            "http": {"host": port, "container": 3000, "bind_address": "0.0.0.0"}}}}
        # The global bind address (loopback) does not meet a listener on another address: the port's own one does.
        problems = pf.check_ports([], components, ["grafana"], "127.0.0.1", "dev-", "io.colima-services", "default")
        assert len(problems) == 1
        assert problems[0].startswith("Host port 0.0.0.0:%d for grafana/http is already in use by another program"
                                      % port)
        assert "devenv_components_overrides.grafana.ports.http" in problems[0]
    finally:
        sock.close()


def test_a_per_port_bind_address_that_is_no_address_is_named():
    problems = problems_of(plan(grafana={"ports": {"http": {"host": 3000, "bind_address": "localhost:3"}}}))
    assert problems == [
        "Component 'grafana' port 'http' has bind_address 'localhost:3', not an IP address. Fix "
        "devenv_components_overrides.grafana.ports.http.bind_address (such as 127.0.0.1), or remove it to use "
        "devenv_bind_address."]


def test_the_module_reports_bad_input_before_the_engine_checks(run_module):
    components = plan(**{"my db": {"ip": "172.20.0.40", "ports": {}}}, postgres={"enabled": False})
    failed, result = run_module(preflight.main, dict(BASE_ARGS, components=components))
    assert failed
    assert result["msg"].startswith("Preflight found 2 problem(s); nothing was changed:")
    assert "Component name 'my db'" in result["msg"]
    assert "depends on 'postgres', which is disabled" in result["msg"]
