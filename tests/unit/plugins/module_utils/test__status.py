"""Pure logic of status, backup and restore (module_utils/_status.py, _backup.py)."""

import datetime

import pytest

from ansible_collections.colima_services.devenv.plugins.filter import registry as reg
from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st

NOW = datetime.datetime(2025, 1, 2, 12, 0, 0, tzinfo=datetime.timezone.utc)


def container(status="running", health="healthy", started="2025-01-02T10:54:30.123456789Z",
              image="postgres:16.6-bookworm"):
    state = {"Status": status, "Running": status == "running", "StartedAt": started}
    if health:
        state["Health"] = {"Status": health}
    return {"Name": "/dev-x", "State": state, "Config": {"Image": image}}


def test_uptime_and_docker_times():
    assert st.uptime("2025-01-02T11:59:48.5Z", NOW) == "12s"
    assert st.uptime("2025-01-02T11:55:50Z", NOW) == "4m10s"
    assert st.uptime("2025-01-02T09:55:00.000000001+00:00", NOW) == "2h05m"
    assert st.uptime("2024-12-29T08:00:00Z", NOW) == "4d4h"
    assert st.uptime("0001-01-01T00:00:00Z", NOW) == "-" and st.uptime("", NOW) == "-"


def test_version_from_label_env_or_tag():
    assert st.version_of("x:1", {"Config": {"Labels": {"org.opencontainers.image.version": "2.5.4"}}}) == "2.5.4"
    assert st.version_of("postgres:16",
                         {"Config": {"Env": ["PATH=/bin", "PG_VERSION=16.6-1.pgdg120+1"]}}) == "16.6-1.pgdg120+1"
    assert st.version_of("registry:5000/devenv/redis:494aaff1ee44", None) == "494aaff1ee44"
    assert st.version_of("redis", {}) == "redis"


def test_rows_say_what_is_wrong():
    ok = st.row("postgres", {}, container(), None, NOW)
    assert ok["ok"] and ok["uptime"] == "1h05m" and ok["version"] == "16.6-bookworm" and ok["problem"] is None
    assert st.row("postgres", {}, None, None, NOW)["problem"] == "no container"
    assert st.row("postgres", {}, container("exited", None), None, NOW)["problem"] == "state exited"
    assert st.row("postgres", {}, container(health="unhealthy"), None, NOW)["problem"] == "health unhealthy"
    sealed = st.row("vault", {}, container(), None, NOW, extra={"sealed": True, "version": "2.7.2"})
    assert (sealed["ok"], sealed["problem"], sealed["detail"], sealed["version"]) == (
        False, "sealed", "sealed", "2.7.2")
    assert st.row("vault", {}, container(), None, NOW, extra={"sealed": False})["detail"] == "unsealed"
    fail = st.row("redis-1", {}, container(), None, NOW, extra={"cluster_state": "fail"})
    assert fail["problem"] == "cluster_state:fail" and fail["detail"] == "cluster_state:fail"
    # Without a healthcheck, running is healthy; a create-only component is healthy when its container exists.
    assert st.row("x", {}, container(health=None), None, NOW)["ok"]
    # Starting: healthy only when the container's own check, run by the action, passed.
    assert st.row("x", {}, container(health="starting"), None, NOW)["problem"] == "health starting"
    assert st.row("x", {}, container(health="starting"), None, NOW,
                  extra={"probe": True})["detail"] == "own healthcheck passes"
    assert st.row("forgejo", {}, container("created", None), None, NOW, create_only=True)["ok"]
    rows = [ok, st.row("redis-2", {}, container("exited", None), None, NOW)]
    assert st.verdict([ok]) == ""
    assert st.verdict(rows).startswith("Not healthy: redis-2 (state exited).")


def test_urls_and_table():
    declared = {"vault": {"ip": "172.20.0.5", "ports": {"api": {"host": 8200, "container": 8200, "kind": "http"}},
                          "web": {"port": "api"}},
                "traefik": {"ip": "172.20.0.25", "ports": {"https": {"host": 443, "container": 8443, "kind": "https"}},
                            "edge": {"hosts": []}}}
    assert st.urls("vault", reg.registry(declared)) == ["api 127.0.0.1:8200", "https://vault.localhost"]
    assert st.urls("vault", reg.registry(declared, port_offset=31000))[-1] == "https://vault.localhost:31443"
    assert st.urls("vault", reg.registry(declared, {"traefik": {"enabled": False}})) == ["api 127.0.0.1:8200"]
    lines = st.table([st.row("vault", {}, container(), None, NOW,
                             extra={"urls": ["api 127.0.0.1:8200"], "sealed": False})], ["mongodb"])
    assert lines[0].split() == list(st.COLUMNS)
    assert lines[1].split() == ["vault", "running", "healthy", "1h05m", "16.6-bookworm", "api", "127.0.0.1:8200",
                                "unsealed"]
    assert lines[2] == "disabled (profile or overrides): mongodb"


def test_manifest_checks_refuse_before_anything_changes():
    arts = [{"component": "vault", "method": "raft_snapshot", "file": "vault/vault.snap", "sha256": "aa"},
            {"component": "mysql", "method": "mysqldump", "file": "mysql/mysql.sql", "sha256": "bb"}]
    data = bk.manifest("20250102T120000Z", "default", "0.2.0", arts)
    sums = {"vault/vault.snap": "aa", "mysql/mysql.sql": "bb"}
    assert bk.check_manifest(data, set(sums), sums.get) == []
    assert bk.check_manifest(data, {"vault/vault.snap"}, sums.get) == ["mysql/mysql.sql is missing"]
    assert bk.check_manifest(data, set(sums), {"vault/vault.snap": "aa", "mysql/mysql.sql": "cc"}.get) == [
        "mysql/mysql.sql does not match its sha256 in the manifest (altered or truncated)"]
    future = dict(data, format="2.0")
    assert "format 2.0 is not compatible with this collection's 1.0" in bk.check_manifest(future, set(sums),
                                                                                          sums.get)[0]
    assert bk.check_manifest(dict(data, format="1.7"), set(sums), sums.get) == []  # same major: compatible
    assert "no format version" in bk.check_manifest({}, set(), sums.get)[0]
    evil = dict(data, artefacts=[{"file": "../../etc/passwd", "sha256": "x"}])
    assert bk.check_manifest(evil, set(), sums.get) == ["artefact '../../etc/passwd' has an unsafe path"]


def test_restore_order_and_names():
    arts = [{"component": "mysql", "method": "mysqldump"}, {"component": "vault", "method": "raft_snapshot"},
            {"component": "redis-1", "method": "redis_rdb"}]
    assert [a["component"] for a in bk.restore_order(arts, ["vault"])] == ["vault", "mysql", "redis-1"]
    assert [a["component"] for a in bk.restore_order(arts, ["vault"], ["redis-1"])] == ["redis-1"]
    assert bk.databases("dev_database\nmysql\nsys\n\nforgejo\n", bk.MYSQL_SKIP) == ["dev_database", "forgejo"]
    assert bk.artefact_name("postgres", "pg_dump", "forgejo") == "postgres/forgejo.dump"
    # No secret in any command line: passwords come from files inside the container.
    for argv in (bk.mysql_dump(["a"]), bk.mysql_list(), bk.REDIS_BGSAVE, bk.REDIS_RESTORE,
                 bk.pg_restore_aside("dev_admin", "a", "/tmp/x"), bk.pg_swap("dev_admin", "a")):
        assert not any("password" in part.lower() and "=" in part and "defaults" not in part for part in argv[3:])


def test_what_a_user_reaches_every_published_tcp_port_and_the_route_through_a_running_edge():
    plan = {"vault": {"enabled": True, "ports": {"api": {"host": 8200}}, "web": {"host": "vault.localhost"}},
            "postgres": {"enabled": True, "ports": {"postgres": {"host": 5432}, "metrics": {"host": None},
                                                    "syslog": {"host": 5514, "protocol": "udp"}}},
            "traefik": {"name": "traefik", "enabled": True, "edge": {"hosts": []},
                        "ports": {"https": {"host": 8443}},
                        "web": {"host": "traefik.localhost", "path": "/dashboard/"}}}
    assert st.reach_targets("postgres", plan) == [("port", "postgres", "127.0.0.1", 5432)]
    assert st.reach_targets("vault", plan) == [("port", "api", "127.0.0.1", 8200),
                                               ("route", "vault.localhost", "127.0.0.1", 8443, "/")]
    assert st.reach_targets("traefik", plan)[-1] == ("route", "traefik.localhost", "127.0.0.1", 8443, "/dashboard/")
    plan["traefik"]["enabled"] = False
    assert st.reach_targets("vault", plan) == [("port", "api", "127.0.0.1", 8200)]


@pytest.mark.parametrize("target, answer, problem", [
    (("port", "postgres", "127.0.0.1", 5432), True, None),
    (("port", "postgres", "127.0.0.1", 5432), "[Errno 111] Connection refused",
     "port postgres 127.0.0.1:5432 does not answer ([Errno 111] Connection refused)"),
    (("route", "vault.localhost", "127.0.0.1", 443, "/"), 200, None),
    (("route", "vault.localhost", "127.0.0.1", 443, "/"), 401, None),  # a login in front: it is reached
    (("route", "vault.localhost", "127.0.0.1", 443, "/"), 502, "https://vault.localhost answers 502 through the edge"),
    (("route", "vault.localhost", "127.0.0.1", 8443, "/"), "timed out",
     "https://vault.localhost:8443 does not answer through the edge (timed out)"),
])
def test_an_unreachable_port_or_route_is_a_problem_naming_it(target, answer, problem):
    assert st.reach_problem(target, answer) == problem


def test_a_component_that_runs_healthy_but_cannot_be_reached_is_not_healthy():
    container = {"Name": "/dev-vault", "State": {"Status": "running", "Running": True, "Health": {"Status": "healthy"},
                                                 "StartedAt": "2026-12-01T10:00:00Z"}, "Config": {"Image": "x:1"}}
    now = st.parse_time("2026-12-01T11:00:00Z")
    row = st.row("vault", {}, container, None, now, extra={"unreachable": ["https://vault.localhost answers 502 "
                                                                           "through the edge"]})
    assert not row["ok"] and row["problem"] == "https://vault.localhost answers 502 through the edge"
    assert st.row("vault", {}, container, None, now)["ok"]
