"""replicas: N in the registry (plugins/filter/registry.py): N containers, one Vault identity, one route, one job."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg

from conftest import shipped


def plan_with(replicas, **overrides):
    return reg.registry(shipped(), dict({"reference-api": {"replicas": replicas}}, **overrides))


def test_one_replica_is_the_component_itself():
    plan = reg.registry(shipped())
    assert "reference-api" in plan and "reference-api-1" not in plan
    assert plan["reference-api"]["ip"] == "172.20.0.100" and plan["reference-api"]["ports"]["https"]["host"] == 8443
    route = next(r for r in reg.web_routes(plan) if r["component"] == "reference-api")
    assert route == {"component": "reference-api", "host": "api.localhost", "url": "https://reference-api:8443",
                     "scheme": "https", "path": "/", "login": False, "health": "/health/"}


def test_three_replicas_are_three_containers_with_their_own_addresses_and_one_host_port():
    plan = plan_with(3)
    assert "reference-api" not in plan
    members = ["reference-api-1", "reference-api-2", "reference-api-3"]
    assert [plan[m]["ip"] for m in members] == ["172.20.0.100", "172.20.0.110", "172.20.0.120"]
    assert [plan[m]["ports"]["https"]["host"] for m in members] == [8443, None, None]
    assert [plan[m]["ports"]["http"]["container"] for m in members] == [8000, 8000, 8000]
    assert all(plan[m]["replica_of"] == "reference-api" and plan[m]["enabled"] for m in members)


def test_replicas_share_one_vault_identity_and_each_certificate_names_every_replica():
    plan = plan_with(2)
    services = [s for s in reg.vault_services(plan) if s["name"] == "reference-api"]
    assert len(services) == 1 and "postgresql" in services[0]["read_secrets"]
    roles = [r for r in reg.vault_pki_roles(plan) if r["name"] == "reference-api-role"]
    assert len(roles) == 1
    assert {"reference-api", "reference-api-1", "reference-api-2"} <= set(roles[0]["allowed_domains"])
    request = reg.cert_request(plan, "reference-api-2")
    assert request["service"] == "reference-api" and request["role"] == "reference-api-role"
    assert request["common_name"] == "reference-api" and "reference-api-2" in request["alt_names"]
    assert request["ip_sans"] == ["172.20.0.110", "127.0.0.1"]
    assert reg.vault_secrets(plan, ["reference-api-1", "reference-api-2"]) == ["reference-api"]


def test_replicas_are_one_edge_route_with_a_server_each_and_one_scrape_job():
    plan = plan_with(3)
    routes = [r for r in reg.web_routes(plan) if r["host"] == "api.localhost"]
    assert len(routes) == 1 and routes[0]["component"] == "reference-api"
    assert routes[0]["urls"] == ["https://reference-api-%d:8443" % i for i in (1, 2, 3)]
    assert reg.edge_hosts(plan).count("api.localhost") == 1
    targets = [t for t in reg.scrape_targets(plan) if t["job"] == "reference-api"]
    assert [(t["target"], t["component"]) for t in targets] == [
        ("reference-api-%d:8443" % i, "reference-api-%d" % i) for i in (1, 2, 3)]
    # nothing of a replica is backed up (the apps hold no data): the backup action skips method none
    assert [plan[n]["backup"]["method"] for n in plan if n.startswith("reference-api")] == ["none"] * 3


@pytest.mark.parametrize("bad", [0, -1, "many"])
def test_a_bad_replica_count_names_the_field(bad):
    with pytest.raises(AnsibleFilterError, match=r"devenv_components.reference-api.replicas is .*whole number >= 1"):
        plan_with(bad)


def test_replicas_outside_the_subnet_are_refused():
    with pytest.raises(AnsibleFilterError, match=r"outside 172\.30\.9\.0/24"):
        reg.registry(shipped(), {"reference-api": {"replicas": 20}}, subnet="172.30.9.0/24")
