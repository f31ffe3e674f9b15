"""The preflight checks, with real sockets for the port checks and main() for the module."""

import ipaddress
import os
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
    assert any("Component 'c' has IP 172.20.0.1, which is the subnet's network, broadcast or gateway" in p
               for p in problems)
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
    assert any("'70000', not a port number" in p and "devenv_components_overrides.b.ports.bad.host" in p
               for p in problems)
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
    assert len(problems) == 1
    assert "IP 172.20.0.5 of component 'vault' is already used by container 'squatter'" in problems[0]
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
        "Host port 127.0.0.1:%d for vault/api is already in use by another program (%s, pid %d on 127.0.0.1:%d). "
        "Free it, or publish this port elsewhere with devenv_components_overrides.vault.ports.api.host." % (
            port, own_comm(), os.getpid(), port)]


def own_comm():
    with open("/proc/self/comm") as handle:
        return handle.read().strip()


def ephemeral_port():
    """A free port inside the machine's ephemeral range (the range the kernel takes source ports from)."""
    first, last = pf.ephemeral_range()
    for port in range(first + 1000, last):
        if pf.port_is_free("127.0.0.1", port) and pf.port_is_free("::", port):
            return port
    raise AssertionError("no free ephemeral port")


def test_a_client_connection_in_the_ephemeral_range_does_not_make_its_port_busy():
    """The flake of issue 28: a client's source port is not a listener; bind() said busy, the check says free."""
    server, server_port = listener()
    port = ephemeral_port()
    client = socket.socket()
    client.bind(("127.0.0.1", port))  # what the kernel does for any outgoing connection
    client.connect(("127.0.0.1", server_port))
    accepted, _ = server.accept()
    try:
        probe = socket.socket()
        with pytest.raises(OSError):  # the old check's question: bind() fails ...
            probe.bind(("127.0.0.1", port))
        probe.close()
        assert pf.port_is_free("127.0.0.1", port)  # ... but nothing listens there
        plan = {"loki": {"ip": "172.20.0.202", "ports": {"http": {"host": port, "container": 3100}}}}
        assert pf.check_ports([], plan, ["loki"], "127.0.0.1", "dev-", PREFIX, "default") == []
    finally:
        for sock in (accepted, client, server):
            sock.close()


@pytest.mark.parametrize("family,address", [
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET, "0.0.0.0"),
    (socket.AF_INET6, "::1"),
    (socket.AF_INET6, "::"),
])
def test_a_real_listener_is_busy_ipv4_ipv6_and_wildcard(family, address):
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        assert not pf.port_is_free("127.0.0.1", port), "a listener on %s must block 127.0.0.1" % address
        holder = pf.port_holder("127.0.0.1", port)
        assert "pid %d" % os.getpid() in holder and str(port) in holder
        plan = {"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": port, "container": 8200}}}}
        problems = pf.check_ports([], plan, ["vault"], "127.0.0.1", "dev-", PREFIX, "default")
        assert len(problems) == 1 and "devenv_components_overrides.vault.ports.api.host" in problems[0]
        # a wildcard publish conflicts with every listener; a specific other address only with wildcards
        assert not pf.port_is_free("0.0.0.0", port)
        assert pf.port_is_free("172.20.0.1", port) is (address in ("127.0.0.1", "::1"))
    finally:
        sock.close()
    assert pf.port_is_free("127.0.0.1", port)


def test_proc_net_tcp_parsing():
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n"
        "   1: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 222 1\n")
    assert pf.parse_proc_net_tcp(text) == [(ipaddress.ip_address("127.0.0.1"), 8080, "111")]
    text6 = (
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 333 1\n"
        "   1: 0000000000000000FFFF00000100007F:0051 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 444 1\n")
    assert pf.parse_proc_net_tcp(text6) == [(ipaddress.ip_address("::1"), 80, "333"),
                                            (ipaddress.ip_address("127.0.0.1"), 81, "444")]


def test_ports_in_the_ephemeral_range_warn_naming_the_override():
    plan = {"loki": {"ports": {"http": {"host": 36100, "container": 3100}}},
            "vault": {"ports": {"api": {"host": 8200, "container": 8200}}}}
    warnings = pf.ephemeral_warnings(plan, ["loki", "vault"], (32768, 60999))
    assert len(warnings) == 1
    assert "Host port 36100 for loki/http lies in this machine's ephemeral port range (32768-60999)" in warnings[0]
    assert "devenv_components_overrides.loki.ports.http.host" in warnings[0]
    assert pf.ephemeral_warnings(plan, ["loki"], None) == []


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


# The plan of reference-api at N = 1, and at N = 3 (the registry's expansion: <name>-1..3, replica_of).
ONE = {"reference-api": {"ip": "172.20.0.100", "replicas": 1}, "redis-1": {"ip": "172.20.0.13"},
       "api-first": {"ip": "172.20.0.101", "replicas": 1, "enabled": False}}
THREE = dict((n, {"ip": "172.20.0.%d" % (100 + 10 * i), "replicas": 3, "replica_of": "reference-api"})
             for i, n in enumerate(["reference-api-1", "reference-api-2", "reference-api-3"]))
THREE["redis-1"] = ONE["redis-1"]


@pytest.mark.parametrize("component,plan,group", [
    ("reference-api", ONE, "reference-api"),         # at N = 1 it is its own group
    ("reference-api-2", ONE, "reference-api"),       # a replica the plan no longer has (3 -> 1)
    ("reference-api-2", THREE, "reference-api"),     # a replica in the plan
    ("reference-api", THREE, "reference-api"),       # the one container of before (1 -> 3)
    ("reference-api-4", THREE, "reference-api"),     # 4 -> 3
    ("redis-1", ONE, None),                          # no replicas: never a group, whatever its name
    ("redis-2", ONE, None),
    ("postgres-2", ONE, None),
    ("api-first-2", ONE, "api-first"),               # a disabled component's replicas are still its group
    ("reference-api-0", ONE, None),                  # replicas count from 1
    ("reference-api-x", ONE, None),
])
def test_replica_group(component, plan, group):
    assert pf.replica_group(component, plan) == group


def test_stale_replicas_are_those_of_an_enabled_group_the_plan_does_not_run():
    def labelled(component):
        return container("dev-" + component, dict(OURS, **{PREFIX + ".component": component}))
    running = [labelled(n) for n in ("reference-api-1", "reference-api-2", "reference-api-3", "redis-1",
                                     "api-first-1", "postgres-2")]
    assert pf.stale_replicas(running, ONE, PREFIX) == ["reference-api-1", "reference-api-2", "reference-api-3"]
    assert pf.stale_replicas([*running, labelled("reference-api")], THREE, PREFIX) == ["reference-api"]
    assert pf.stale_replicas(running, dict(THREE, **{"reference-api-3": dict(THREE["reference-api-3"], enabled=False)}),
                             PREFIX) == ["reference-api-3"]


def test_scaling_an_app_is_not_a_port_or_address_conflict():
    """3 -> 1: dev-reference-api-1 still publishes the port and holds the address the new dev-reference-api needs;
    the apps role removes it first. Another instance's replica, or another component, still conflicts."""
    sock, held = listener()
    try:
        plan = {"reference-api": {"ip": "172.20.0.100", "replicas": 1,
                                  "ports": {"http": {"host": held, "container": 8000}}}}
        nets = {"NetworkSettings": {"Networks": {"dev-services": {"IPAddress": "172.20.0.100"}}}}

        def holder(component, labels):
            c = container("dev-" + component, dict(labels, **{PREFIX + ".component": component}),
                          ports=[{"IP": "127.0.0.1", "PublicPort": held, "PrivatePort": 8000}])
            c.update(nets)
            return c
        ours = holder("reference-api-1", OURS)
        assert pf.check_ports([ours], plan, ["reference-api"], "127.0.0.1", "dev-", PREFIX, "default") == []
        assert pf.check_containers([ours], plan, ["reference-api"], "dev-services", "dev-", PREFIX, "default") == []
        for other in (holder("reference-api-1", dict(OURS, **{PREFIX + ".instance": "other"})),
                      holder("postgres", OURS)):
            assert len(pf.check_ports([other], plan, ["reference-api"], "127.0.0.1", "dev-", PREFIX, "default")) == 1
            assert len(pf.check_containers([other], plan, ["reference-api"], "dev-services", "dev-", PREFIX,
                                           "default")) == 1
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
        BASE_ARGS,
        components={"mongodb": {"ip": "172.20.0.15", "ports": {"mongodb": {"host": 70000, "container": 27017}}}}))
    assert failed
    assert "bind()" not in result["msg"]
    assert "publishes host port '70000', not a port number (1-65535)" in result["msg"]
    assert "mongodb.ports.mongodb.host" in result["msg"]
