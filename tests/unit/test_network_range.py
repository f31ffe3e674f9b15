"""Docker's dynamic range on our network (issue 22, item 13): containers started on it without an address never
take a registry address. The scenario platform checks a real container on the real network."""

import glob
import ipaddress
import os

import pytest
import yaml

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf
from ansible_collections.colima_services.devenv.plugins.modules import preflight

from conftest import shipped

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = {"io.colima-services.owner": "devenv", "io.colima-services.instance": "default"}


@pytest.mark.parametrize("subnet,expect", [
    ("172.20.0.0/16", "172.20.224.0/19"),
    ("172.30.10.0/24", "172.30.10.224/27"),
    ("10.99.0.0/20", "10.99.14.0/23"),
    ("fd00:20::/64", "fd00:20:0:0:e000::/67"),
    ("172.20.0.0/30", None),
    ("nonsense", None),
])
def test_the_default_range_is_the_subnets_last_eighth(subnet, expect):
    assert pf.dynamic_range(subnet) == expect
    assert pf.dynamic_range(subnet, "172.20.200.0/24") == "172.20.200.0/24"


def scenario_subnets():
    subnets = {"172.20.0.0/16"}
    for path in glob.glob(os.path.join(ROOT, "molecule", "*", "molecule.yml")):
        with open(path) as handle:
            group = ((yaml.safe_load(handle).get("provisioner") or {}).get("inventory") or {}).get("group_vars", {})
        subnet = (group.get("all") or {}).get("devenv_network_subnet")
        if subnet:
            subnets.add(subnet)
    return sorted(subnets)


@pytest.mark.parametrize("subnet", scenario_subnets())
def test_no_shipped_address_lies_in_the_range_in_the_design_subnet_or_any_scenarios(subnet):
    network = ipaddress.ip_network(subnet)
    plan = reg.registry(shipped(1), subnet=subnet)
    assert pf.check_dynamic_range(plan, network, pf.dynamic_range(subnet)) == []


def test_a_component_inside_the_range_is_named_with_the_fix():
    network = ipaddress.ip_network("172.20.0.0/16")
    problems = pf.check_dynamic_range({"mine": {"ip": "172.20.64.9"}, "vault": {"ip": "172.20.0.5"}}, network,
                                      "172.20.64.0/18")
    assert problems == [
        "Component 'mine' has IP 172.20.64.9, inside Docker's dynamic range devenv_network_ip_range 172.20.64.0/18, "
        "where Docker gives addresses to containers started without one. Set devenv_components_overrides.mine.ip to "
        "an address outside it, or move the range with devenv_network_ip_range."]


@pytest.mark.parametrize("ip_range,expect", [
    ("10.0.0.0/24", "devenv_network_ip_range 10.0.0.0/24 is not inside devenv_network_subnet 172.20.0.0/16"),
    ("172.20.0.1/24", "devenv_network_ip_range '172.20.0.1/24' is not a valid network"),
])
def test_a_bad_range_is_named(ip_range, expect):
    problems = pf.check_dynamic_range({}, ipaddress.ip_network("172.20.0.0/16"), ip_range)
    assert len(problems) == 1 and expect in problems[0]


def network(config):
    return {"Name": "dev-services", "Labels": OURS, "IPAM": {"Config": [config]}}


def test_our_network_without_a_range_warns_how_to_get_one(run_module):
    old = network({"Subnet": "172.20.0.0/16", "Gateway": "172.20.0.1"})
    warnings = pf.network_range_warnings([old], "dev-services", "io.colima-services", "default")
    assert len(warnings) == 1 and "Network 'dev-services' has no dynamic range" in warnings[0]
    assert "reset the instance" in warnings[0]
    new = network({"Subnet": "172.20.0.0/16", "Gateway": "172.20.0.1", "IPRange": "172.20.64.0/18"})
    assert pf.network_range_warnings([new], "dev-services", "io.colima-services", "default") == []
    theirs = dict(old, Labels={})
    assert pf.network_range_warnings([theirs], "dev-services", "io.colima-services", "default") == []

    failed, result = run_module(preflight.main, dict(
        network_name="dev-services", subnet="172.20.0.0/16", gateway="172.20.0.1", ip_range="172.20.64.0/18",
        components={"vault": {"ip": "172.20.64.5", "ports": {}}}, networks=[old]))
    assert failed and "inside Docker's dynamic range devenv_network_ip_range 172.20.64.0/18" in result["msg"]
