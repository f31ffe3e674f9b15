"""The preflight checks, with real sockets for the port checks and main() for the module."""

import ipaddress
import socket

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf
from ansible_collections.colima_services.devenv.plugins.modules import preflight

NET = ipaddress.ip_network("172.20.0.0/16")
PREFIX = "io.colima-services"
OURS = {PREFIX + ".owner": "devenv", PREFIX + ".instance": "default"}


def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_network_settings_valid():
    problems, network = pf.check_network_settings("172.20.0.0/16", "172.20.0.1")
    assert problems == [] and network == NET


@pytest.mark.parametrize("subnet,gateway,expect", [
    ("172.20.0.0/33", "172.20.0.1", "devenv_network_subnet '172.20.0.0/33' is not a valid network"),
    ("172.20.0.1/16", "172.20.0.1", "devenv_network_subnet '172.20.0.1/16' is not a valid network"),
    ("172.20.0.0/16", "10.0.0.1", "devenv_network_gateway 10.0.0.1 is not a usable address"),
    ("172.20.0.0/16", "nope", "devenv_network_gateway 'nope' is not an IP address"),
])
def test_network_settings_invalid(subnet, gateway, expect):
    problems, _ = pf.check_network_settings(subnet, gateway)
    assert len(problems) == 1 and expect in problems[0]


def test_plan_ip_outside_subnet_names_the_override():
    problems = pf.check_plan({"vault": {"ip": "10.0.0.5"}}, NET, "172.20.0.1")
    assert problems == [
        "Component 'vault' has IP 10.0.0.5, outside devenv_network_subnet 172.20.0.0/16. "
        "Set devenv_components_overrides.vault.ip to an address inside 172.20.0.0/16."]


def test_plan_duplicate_ip_and_gateway_ip():
    problems = pf.check_plan({"a": {"ip": "172.20.0.5"}, "b": {"ip": "172.20.0.5"}, "c": {"ip": "172.20.0.1"}},
                             NET, "172.20.0.1")
    assert any("Components 'a' and 'b' both use IP 172.20.0.5" in p for p in problems)
    assert any("Component 'c' has IP 172.20.0.1, which is the subnet's network, broadcast or gateway" in p for p in problems)
    assert len(problems) == 2


def test_plan_duplicate_and_invalid_ports():
    plan = {
        "a": {"ip": "172.20.0.5", "ports": {"api": {"host": 8200, "container": 8200}}},
        "b": {"ip": "172.20.0.6", "ports": {"api": {"host": 8200, "container": 80},
                                           "bad": {"host": 70000, "container": 80},
                                           "hidden": {"host": None, "container": 9000}}},
    }
    problems = pf.check_plan(plan, NET, "172.20.0.1")
    assert any("Host port 8200 is published twice: by a/api and by b/api" in p for p in problems)
    assert any("'70000', not a port number" in p and "devenv_components_overrides.b.ports.bad.host" in p for p in problems)
    assert len(problems) == 2


def test_plan_disabled_components_are_ignored():
    plan = {"a": {"ip": "172.20.0.5"}, "b": {"ip": "172.20.0.5", "enabled": False}}
    assert pf.check_plan(plan, NET, "172.20.0.1") == []


def test_foreign_network_overlap():
    nets = [{"Name": "theirs", "Labels": {}, "IPAM": {"Config": [{"Subnet": "172.20.5.0/24"}]}},
            {"Name": "bridge", "Labels": {}, "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}}]
    problems = pf.check_networks(nets, "dev-services", NET, PREFIX, "default")
    assert len(problems) == 1
    assert "overlaps Docker network 'theirs' (172.20.5.0/24), which is not ours" in problems[0]


def test_our_network_is_accepted_and_a_foreign_one_with_our_name_is_not():
    ours = [{"Name": "dev-services", "Labels": OURS, "IPAM": {"Config": [{"Subnet": "172.20.0.0/16"}]}}]
    assert pf.check_networks(ours, "dev-services", NET, PREFIX, "default") == []
    other_instance = [{"Name": "dev-services", "Labels": dict(OURS, **{PREFIX + ".instance": "x"}),
                       "IPAM": {"Config": [{"Subnet": "172.20.0.0/16"}]}}]
    problems = pf.check_networks(other_instance, "dev-services", NET, PREFIX, "default")
    assert len(problems) == 1 and "was not created by colima_services.devenv" in problems[0]


def test_our_network_with_another_subnet():
    ours = [{"Name": "dev-services", "Labels": OURS, "IPAM": {"Config": [{"Subnet": "172.21.0.0/16"}]}}]
    problems = pf.check_networks(ours, "dev-services", NET, PREFIX, "default")
    assert len(problems) == 1 and "exists with subnet 172.21.0.0/16" in problems[0]


def container(name, labels=None, ports=(), ip=None):
    return {"Names": ["/" + name], "Labels": labels or {}, "Ports": list(ports),
            "NetworkSettings": {"Networks": {"dev-services": {"IPAddress": ip}} if ip else {}}}


def test_foreign_container_with_our_name_or_ip():
    plan = {"vault": {"ip": "172.20.0.5"}}
    problems = pf.check_containers([container("dev-vault")], plan, ["vault"], "dev-services", "dev-", PREFIX, "default")
    assert len(problems) == 1 and "A container named 'dev-vault' exists but is not managed" in problems[0]
    problems = pf.check_containers([container("squatter", ip="172.20.0.5")], plan, ["vault"],
                                   "dev-services", "dev-", PREFIX, "default")
    assert len(problems) == 1 and "IP 172.20.0.5 of component 'vault' is already used by container 'squatter'" in problems[0]
    assert pf.check_containers([container("dev-vault", OURS, ip="172.20.0.5")], plan, ["vault"],
                               "dev-services", "dev-", PREFIX, "default") == []


def test_busy_port_is_reported_with_the_fix():
    sock, port = listener()
    try:
        plan = {"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": port, "container": 8200}}}}
        problems = pf.check_ports([], plan, ["vault"], "127.0.0.1", "dev-", PREFIX, "default")
    finally:
        sock.close()
    assert problems == [
        "Host port 127.0.0.1:%d for vault/api is already in use by another program. Free it, or publish this port "
        "elsewhere with devenv_components_overrides.vault.ports.api.host." % port]


def test_free_port_passes_and_our_own_container_may_hold_it():
    port = free_port()
    plan = {"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": port, "container": 8200}}}}
    assert pf.check_ports([], plan, ["vault"], "127.0.0.1", "dev-", PREFIX, "default") == []
    sock, held = listener()  # held by "our" container: docker-proxy listens, that is fine
    try:
        plan["vault"]["ports"]["api"]["host"] = held
        ours = container("dev-vault", OURS, ports=[{"IP": "127.0.0.1", "PublicPort": held, "PrivatePort": 8200}])
        assert pf.check_ports([ours], plan, ["vault"], "127.0.0.1", "dev-", PREFIX, "default") == []
        theirs = container("other", {}, ports=[{"IP": "0.0.0.0", "PublicPort": held, "PrivatePort": 80}])
        problems = pf.check_ports([theirs], plan, ["vault"], "127.0.0.1", "dev-", PREFIX, "default")
        assert len(problems) == 1 and "is published by container 'other'" in problems[0]
    finally:
        sock.close()


def test_memory():
    plan = {"a": {"memory_mb": 3000}, "b": {"memory_mb": 2000}, "c": {"memory_mb": 9000, "enabled": False}}
    problems, need = pf.check_memory(plan, 4 * 1024 ** 3, 512)
    assert need == 5000 and len(problems) == 1
    assert "need about 5000 MiB plus 512 MiB headroom, but the Docker engine has 4096 MiB" in problems[0]
    assert "colima start --memory 6" in problems[0]
    assert pf.check_memory(plan, 8 * 1024 ** 3, 512) == ([], 5000)


BASE_ARGS = dict(network_name="dev-services", subnet="172.20.0.0/16", gateway="172.20.0.1")


def test_module_passes_on_a_sound_plan(run_module):
    port = free_port()
    failed, result = run_module(preflight.main, dict(
        BASE_ARGS, components={"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": port, "container": 8200}},
                                         "memory_mb": 256}},
        mem_total=8 * 1024 ** 3))
    assert not failed
    assert result["changed"] is False and result["problems"] == [] and result["checked"] == ["vault"]
    assert result["memory_mb"] == 256


def test_module_reports_every_problem_at_once(run_module):
    failed, result = run_module(preflight.main, dict(
        BASE_ARGS, components={"a": {"ip": "10.1.1.1"}, "b": {"ip": "172.20.0.9"}, "c": {"ip": "172.20.0.9"}},
        check=["a", "zzz"]))
    assert failed
    assert result["msg"].startswith("Preflight found 3 problem(s); nothing was changed:")
    assert "Unknown component(s) zzz" in result["msg"]
    assert "outside devenv_network_subnet" in result["msg"]
    assert "both use IP 172.20.0.9" in result["msg"]


def test_module_names_a_host_port_out_of_range_instead_of_crashing(run_module):
    # A port offset or a typo can push a host port past 65535; bind() must never see it.
    failed, result = run_module(preflight.main, dict(
        BASE_ARGS, components={"mongodb": {"ip": "172.20.0.15", "ports": {"mongodb": {"host": 70000, "container": 27017}}}}))
    assert failed
    assert "bind()" not in result["msg"]
    assert "publishes host port '70000', not a port number (1-65535)" in result["msg"]
    assert "mongodb.ports.mongodb.host" in result["msg"]
