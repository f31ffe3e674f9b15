"""The component registry filters (and the container options the registry entry gives)."""

import datetime
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile as rc

from conftest import shipped


def test_shipped_registry_keeps_the_design_addresses_and_derives_the_rest():
    plan = reg.registry(shipped())
    assert plan["postgres"]["ip"] == "172.20.0.10" and plan["postgres"]["ports"]["postgres"]["host"] == 5432
    assert plan["postgres"]["ports"]["postgres"]["kind"] == "tcp"
    assert plan["rabbitmq"]["ports"]["management"]["kind"] == "https"
    assert plan["vault"]["vault"] is None and plan["redis-4"]["enabled"] is False
    # Certificate names derived, not typed: the component, its secret name, both in the domain, localhost.
    assert reg.cert_request(plan, "postgres") == {
        "service": "postgresql", "component": "postgres", "role": "postgres-role", "common_name": "postgres",
        "alt_names": ["postgresql", "postgres.dev-services.local", "postgresql.dev-services.local", "localhost"],
        "ip_sans": ["172.20.0.10", "127.0.0.1"]}
    assert reg.cert_request(plan, "redis-2")["alt_names"] == ["redis-2.dev-services.local", "localhost"]


def test_vault_layouts_and_certificate_roles_come_from_the_registry():
    plan = reg.registry(shipped())
    services = dict((s["name"], s) for s in reg.vault_services(plan))
    assert "vault" not in services and "redis-4" not in services  # vault: false, and disabled
    assert services["postgresql"]["data"]["username"] == "dev_admin"
    assert services["postgresql"]["read_secrets"] == ["forgejo", "postgres-exporter"]
    assert services["mysql"]["generate"] == ["root_password", "password"]
    assert services["redis-1"]["share_group"] == "redis"
    assert services["grafana"]["generate"] == ["admin_password", "secret_key"]
    roles = dict((r["name"], r) for r in reg.vault_pki_roles(plan, "8760h"))
    assert services["postgresql"]["cert_role"] == "postgres-role"  # the design's name; the secret keeps its own
    assert roles["postgres-role"]["allowed_domains"] == [
        "postgres", "postgresql", "postgres.dev-services.local", "postgresql.dev-services.local", "localhost"]
    assert len(roles) == len(services)
    assert "redis-4" in [s["name"] for s in reg.vault_services(reg.registry(shipped(replicas=1)))]


def test_scenarios_move_the_registry_with_subnet_and_port_offset_overrides_win():
    plan = reg.registry(shipped(), {"vault": {"ports": {"api": {"host": 18203}}}},
                        subnet="172.30.70.0/24", port_offset=20000)
    assert plan["postgres"]["ip"] == "172.30.70.10"
    assert plan["postgres"]["ports"]["postgres"]["host"] == 25432
    assert plan["vault"]["ports"]["api"]["host"] == 18203  # taken as it is, not offset
    assert plan["vault"]["ports"]["api"]["container"] == 8200
    # An IP outside the design subnet is left for preflight to report.
    assert reg.registry({"x": {"ip": "10.0.0.5", "ports": {}}}, subnet="172.30.70.0/24")["x"]["ip"] == "10.0.0.5"


def test_a_typo_in_the_overrides_fails_naming_it_and_the_known_components():
    with pytest.raises(AnsibleFilterError) as err:
        reg.registry(shipped(), {"postgress": {"enabled": False}})
    assert "postgress" in str(err.value) and "postgres, " in str(err.value) and "ip and ports" in str(err.value)
    # A whole new component (ip and ports) is welcome.
    plan = reg.registry(shipped(), {"mailpit": {"ip": "172.20.0.40", "ports": {"ui": {"host": 8025, "container": 8025,
                                                                                        "kind": "http"}},
                                                "image": "axllent/mailpit:v1.21", "web": {"port": "ui"}}})
    assert plan["mailpit"]["vault"]["secret"] == "mailpit"
    assert {"component": "mailpit", "host": "mailpit.localhost", "url": "http://mailpit:8025", "scheme": "http",
            "path": "/", "login": False} in reg.web_routes(plan)
    # the edge's own login goes with the route, so that a route of replicas carries it too
    assert [r["component"] for r in reg.web_routes(plan) if r["login"]] == ["alertmanager", "prometheus"]


def test_bad_fields_name_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"devenv_components\.a\.ports\.p\.kind"):
        reg.registry({"a": {"ip": "172.20.0.9", "ports": {"p": {"host": 1, "container": 1, "kind": "ftp"}}}})
    with pytest.raises(AnsibleFilterError, match=r"devenv_components\.a\.web\.port"):
        reg.registry({"a": {"ip": "172.20.0.9", "ports": {}, "web": {"port": "ui"}}})
    with pytest.raises(AnsibleFilterError, match=r"devenv_components\.a\.backup\.method"):
        reg.registry({"a": {"ip": "172.20.0.9", "ports": {}, "backup": "tarball"}})
    with pytest.raises(AnsibleFilterError, match="depends_on"):
        reg.registry({"a": {"ip": "172.20.0.9", "ports": {}, "depends_on": ["nope"]}})


def test_routes_targets_and_backups_derive_from_the_registry():
    plan = reg.registry(shipped())
    hosts = sorted(r["host"] for r in reg.web_routes(plan))
    assert hosts == ["alertmanager.localhost", "api-first.localhost", "api.localhost", "forgejo.localhost",
                     "grafana.localhost", "prometheus.localhost", "rabbitmq.localhost", "traefik.localhost",
                     "vault.localhost"]
    assert [r["url"] for r in reg.web_routes(plan) if r["component"] == "rabbitmq"] == ["https://rabbitmq:15672"]
    targets = dict((t["job"], t) for t in reg.scrape_targets(plan))
    assert targets["vault"]["path"] == "/v1/sys/metrics" and targets["vault"]["params"] == {"format": ["prometheus"]}
    assert targets["rabbitmq"]["target"] == "rabbitmq:15692"
    # The exporters: one job per kind, the Redis exporters' three targets in one job, each with its component.
    full = reg.registry(shipped(), {c: {"enabled": True} for c in ("prometheus", "redis-exporter-1", "redis-exporter-2",
                                                                    "redis-exporter-3", "postgres-exporter")})
    redis = [t for t in reg.scrape_targets(full) if t["job"] == "redis"]
    assert sorted((t["component"], t["target"]) for t in redis) == [
        ("redis-exporter-%d" % i, "redis-exporter-%d:9121" % i) for i in (1, 2, 3)]
    assert [t["target"] for t in reg.scrape_targets(full) if t["job"] == "postgres"] == ["postgres-exporter:9187"]
    # An exporter's monitoring user is readable by the service that creates it, only when the exporter is enabled.
    assert "postgres-exporter" in reg.readable_secrets(full, "postgres")
    off = reg.registry(shipped(), {"postgres-exporter": {"enabled": False}})
    assert "postgres-exporter" not in reg.readable_secrets(off, "postgres")
    methods = dict((name, entry["backup"]["method"]) for name, entry in plan.items())
    assert methods["postgres"] == "pg_dump" and methods["vault"] == "raft_snapshot" and methods["pgbouncer"] == "none"
    assert reg.readable_secrets(plan, "postgres") == ["forgejo", "postgres-exporter"]
    off = reg.registry(shipped(), {"forgejo": {"enabled": False}})
    assert reg.readable_secrets(off, "postgres") == ["postgres-exporter"] and "forgejo.localhost" not in [
        r["host"] for r in reg.web_routes(off)]


def test_the_edge_certificate_names_every_routed_host_and_no_wildcard():
    plan = reg.registry(shipped(), {"traefik": {"edge": {"hosts": ["myapp.localhost"]}}, "grafana": {"enabled": False},
                                    "prometheus": {"enabled": False}, "alertmanager": {"enabled": False}})
    names = reg.cert_request(plan, "traefik")
    wanted = ["forgejo.localhost", "rabbitmq.localhost", "traefik.localhost", "vault.localhost", "myapp.localhost"]
    assert set(wanted) <= set([names["common_name"]] + names["alt_names"])
    assert "grafana.localhost" not in names["alt_names"] and not any("*" in n for n in names["alt_names"])
    assert reg.edge_hosts(plan) == ["api-first.localhost", "forgejo.localhost", "rabbitmq.localhost", "api.localhost",
                                    "traefik.localhost", "vault.localhost", "myapp.localhost"]
    # The PKI role allows exactly these names; no role allows subdomains (every role has localhost).
    roles = dict((r["name"], r) for r in reg.vault_pki_roles(plan))
    assert set(wanted) <= set(roles["traefik-role"]["allowed_domains"])
    assert "vault.localhost" not in roles["postgres-role"]["allowed_domains"]
    assert not any(r["allow_subdomains"] for r in roles.values())
    # Other components' certificates are untouched by the edge.
    assert "vault.localhost" not in reg.cert_request(plan, "rabbitmq")["alt_names"]
    with pytest.raises(AnsibleFilterError, match="no wildcard"):
        reg.registry(shipped(), {"traefik": {"edge": {"hosts": ["*.localhost"]}}})


SETTINGS = {"container_prefix": "dev-", "volume_prefix": "", "network_name": "dev-services",
            "bind_address": "127.0.0.1", "labels": {"io.colima-services.owner": "devenv"},
            "label_prefix": "io.colima-services"}


def test_container_options_and_the_config_hash():
    entry = reg.registry(shipped())["postgres"]
    spec = {"component": "postgres", "image": "postgres:16", "volumes": [{"name": "postgres_data", "target": "/d"}],
            "env": {}, "healthcheck": {"test": ["CMD", "true"]}}
    opts = rc.container_options(spec, entry, SETTINGS)
    assert opts["name"] == "dev-postgres" and opts["published_ports"] == ["127.0.0.1:5432:5432/tcp"]
    assert opts["networks"] == [{"name": "dev-services", "ipv4_address": "172.20.0.10", "aliases": ["postgres"]}]
    assert "env" not in opts and opts["labels"]["io.colima-services.component"] == "postgres"
    first, fields = rc.spec_hashes(opts, "sha256:aaa")
    assert rc.spec_hashes(opts, "sha256:aaa")[0] == first
    assert rc.spec_hashes(opts, "sha256:bbb")[0] != first  # a new image ID changes the hash
    labels = {"io.colima-services.config-fields": json.dumps(fields)}
    changed = dict(opts, published_ports=["127.0.0.1:15432:5432/tcp"])
    assert rc.changed_fields(labels, "io.colima-services",
                             rc.spec_hashes(changed, "sha256:aaa")[1]) == ["published_ports"]


def test_certificate_renewal_decision(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from ansible_collections.colima_services.devenv.plugins.action.vault_access import cert_needs_renewal
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "postgres")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("postgres"), x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert cert_needs_renewal(pem, ["postgres", "localhost"], ["127.0.0.1"], 30) is None
    assert cert_needs_renewal(pem, ["postgres", "postgresql"], [], 30) == "lacks postgresql"
    assert cert_needs_renewal(pem, ["postgres"], ["172.20.0.10"], 30) == "lacks 172.20.0.10"
    assert cert_needs_renewal(pem, ["postgres"], [], 120).startswith("expires")
    # The set of names follows the wanted one: a name or IP no longer wanted means a new certificate.
    assert cert_needs_renewal(pem, ["postgres"], ["127.0.0.1"], 30) == "names localhost no longer wanted"
    assert cert_needs_renewal(pem, ["postgres", "localhost"], [], 30) == "names 127.0.0.1 no longer wanted"
    assert cert_needs_renewal(None, [], [], 30) == "missing"


def enabled(plan):
    return sorted(name for name, entry in plan.items() if entry["enabled"])


def test_the_profile_sets_the_default_of_enabled_and_explicit_enabled_wins():
    redis = ["redis-1", "redis-2", "redis-3"]
    minimal = reg.registry(shipped(), profile="minimal")
    # Components without a marker (the user's own, or entries not yet marked) are in every profile.
    unmarked = sorted(n for n, e in shipped().items() if "profile" not in e)
    assert enabled(minimal) == sorted(["postgres", "vault", *redis, *unmarked])
    standard = reg.registry(shipped(), profile="standard")
    assert set(enabled(standard)) - set(enabled(minimal)) == {
        "pgbouncer", "mysql", "mongodb", "rabbitmq", "traefik", "docker-proxy"}
    core = reg.registry(shipped(), profile="core")
    assert set(enabled(core)) - set(enabled(standard)) == {
        "prometheus", "alertmanager", "postgres-exporter", "pgbouncer-exporter", "mysqld-exporter", "redis-exporter-1",
        "redis-exporter-2", "redis-exporter-3", "mongodb-exporter", "node-exporter", "cadvisor", "grafana", "loki",
        "alloy"}
    full = reg.registry(shipped(), profile="full")
    assert set(enabled(full)) - set(enabled(core)) == {"forgejo", "reference-api", "api-first"}
    assert enabled(full) == enabled(reg.registry(shipped()))  # no profile: everything planned, as before
    # The registry's own condition still holds inside the profile (replicas only with redis_cluster_replicas).
    assert not full["redis-4"]["enabled"] and reg.registry(shipped(replicas=1), profile="minimal")["redis-4"]["enabled"]
    # Explicit enabled in the overrides wins both ways; a component of the user's own is enabled.
    plan = reg.registry(shipped(), {"mysql": {"enabled": True}, "redis-2": {"enabled": False},
                                    "mailpit": {"ip": "172.20.0.40", "ports": {}}}, profile="minimal")
    assert plan["mysql"]["enabled"] and not plan["redis-2"]["enabled"] and plan["mailpit"]["enabled"]
    assert not reg.registry(shipped(), {"mailpit": {"ip": "172.20.0.40", "ports": {}, "enabled": False}},
                            profile="full")["mailpit"]["enabled"]
    # What the memory preflight and the backup see (enabled components) follows the profile.
    assert not minimal["mysql"]["enabled"] and standard["mysql"]["enabled"]


def test_a_bad_profile_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="devenv_profile is 'large'; use one of minimal, standard, core, full"):
        reg.registry(shipped(), profile="large")
    with pytest.raises(AnsibleFilterError, match=r"devenv_components\.x\.profile is 'tiny'"):
        reg.registry({"x": {"ip": "172.20.0.9", "ports": {}, "profile": "tiny"}}, profile="full")
