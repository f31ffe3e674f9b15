"""Every host port a Molecule scenario publishes stays below Linux's ephemeral range (issue 28).

Ports in 32768-60999 can be held for a while as the source port of any outgoing connection on the machine;
a scenario that publishes one there fails at random. The scenarios' plans are resolved with the registry
filter exactly as the roles resolve them (shipped registry, the scenario's offset and overrides)."""

import glob
import os

import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
EPHEMERAL_FIRST = 32768  # Linux's default net.ipv4.ip_local_port_range starts here
SCENARIOS = sorted(glob.glob(os.path.join(ROOT, "molecule", "*", "molecule.yml")))


def shipped():
    with open(os.path.join(ROOT, "roles", "devenv", "defaults", "main.yml")) as handle:
        components = yaml.safe_load(handle)["devenv_components"]
    for entry in components.values():
        if isinstance(entry.get("enabled"), str):  # the redis replica switch: plan the replicas too
            entry["enabled"] = True
    return components


def scenario_vars(path):
    with open(path) as handle:
        return ((yaml.safe_load(handle).get("provisioner") or {}).get("inventory") or {}) \
            .get("group_vars", {}).get("all", {})


def rendered(value, context):
    """The scenario's own variable references in its overrides ({{ edge_test_hosts }}), as Ansible renders them."""
    if isinstance(value, dict):
        return dict((k, rendered(v, context)) for k, v in value.items())
    if isinstance(value, list):
        return [rendered(v, context) for v in value]
    if isinstance(value, str) and "{{" in value:
        return NativeEnvironment().from_string(value).render(context)
    return value


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_scenario_host_ports_stay_below_the_ephemeral_range(path):
    gv = scenario_vars(path)
    plan = reg.registry(shipped(), rendered(gv.get("devenv_components_overrides") or {}, gv),
                        port_offset=gv.get("devenv_host_port_offset", 0))
    high = sorted("%s/%s=%s" % (name, port_name, port["host"])
                  for name, entry in plan.items() if entry.get("enabled", True)
                  for port_name, port in (entry.get("ports") or {}).items()
                  if isinstance(port.get("host"), int) and port["host"] >= EPHEMERAL_FIRST)
    assert not high, "%s publishes host ports in the ephemeral range: %s" % (path, ", ".join(high))


def test_the_check_sees_every_scenario():
    assert len(SCENARIOS) >= 8
