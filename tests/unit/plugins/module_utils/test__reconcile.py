"""plugins/module_utils/_reconcile.py: the spec check, the files, health, and the reconcile decision (decide)."""

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile as rc

PREFIX = "io.test"
FIELDS = {"image": "i1", "env": "e1"}


def _file(dest, content=b"x", reload="restart", mode=0o644):
    return {"dest": dest, "content": content, "mode": mode, "owner": 0, "group": 0, "reload": reload}


def _container(status="running", health="healthy", config_hash="h1"):
    state = {"Status": status, "Running": status == "running"}
    if health:
        state["Health"] = {"Status": health}
    return {"Config": {"Labels": {PREFIX + ".config-hash": config_hash,
                                  PREFIX + ".config-fields": '{"env":"e0","image":"i1"}'}}, "State": state}


def _want(files=(), create_only=False, ready="healthy", image_id="sha256:1"):
    return {"name": "dev-x", "config_hash": "h1", "fields": FIELDS, "image_id": image_id, "label_prefix": PREFIX,
            "files": list(files), "ready": ready, "create_only": create_only}


CONF, CERT = _file("/etc/x.conf", b"new"), _file("/etc/x.crt", b"cert", reload="SIGHUP")
ROUTES = _file("/etc/routes.yml", b"new", reload="watch")
SAME = {"/etc/x.conf": {"content": b"new", "mode": 0o100644, "owner": 0, "group": 0}}
OLD = {"/etc/x.conf": {"content": b"old", "mode": 0o100644, "owner": 0, "group": 0}}

# (case, want, container, what the container holds, action, stale files, reload, diff)
CASES = [
    ("all right", _want([CONF]), _container(), SAME, "none", [], None, []),
    ("no files, all right", _want(), _container(), {}, "none", [], None, []),
    ("running without a healthcheck", _want(), _container(health=None), {}, "none", [], None, []),
    ("still starting", _want([CONF]), _container(health="starting"), SAME, "wait", [], None, []),
    ("starting, but only running is asked", _want(ready="running"), _container(health="starting"), {}, "none", [],
     None, []),
    ("no container", _want([CONF]), None, {}, "recreate", ["/etc/x.conf"], None, ["container dev-x: missing"]),
    ("spec changed", _want([CONF]), _container(config_hash="h0"), SAME, "recreate", ["/etc/x.conf"], None,
     ["container spec: env"]),
    ("image unknown (check mode: not pulled yet)", _want(image_id=None), _container(), {}, "recreate", [], None,
     ["container spec: env"]),
    ("stopped", _want([CONF]), _container("exited", None), SAME, "start", [], None, ["container dev-x: not running"]),
    ("stopped, a file differs", _want([CONF]), _container("exited", None), OLD, "start", ["/etc/x.conf"], None,
     ["file /etc/x.conf: content"]),
    ("a file differs", _want([CONF]), _container(), OLD, "copy", ["/etc/x.conf"], "restart",
     ["file /etc/x.conf: content"]),
    ("a file is missing", _want([CONF]), _container(), {}, "copy", ["/etc/x.conf"], "restart",
     ["file /etc/x.conf: missing"]),
    ("a mode differs", _want([_file("/etc/x.conf", b"new", mode=0o600)]), _container(), SAME, "copy", ["/etc/x.conf"],
     "restart", ["file /etc/x.conf: mode 644 -> 600"]),
    ("a file asks for a signal", _want([CERT]), _container(), {}, "copy", ["/etc/x.crt"], "SIGHUP",
     ["file /etc/x.crt: missing"]),
    ("a signal and a restart: restart wins", _want([CERT, CONF]), _container(), OLD, "copy",
     ["/etc/x.crt", "/etc/x.conf"], "restart", ["file /etc/x.crt: missing", "file /etc/x.conf: content"]),
    ("a watched file", _want([ROUTES]), _container(), {}, "copy", ["/etc/routes.yml"], "watch",
     ["file /etc/routes.yml: missing"]),
    ("a watched file and a signal: the signal", _want([ROUTES, CERT]), _container(), {}, "copy",
     ["/etc/routes.yml", "/etc/x.crt"], "SIGHUP", ["file /etc/routes.yml: missing", "file /etc/x.crt: missing"]),
    ("create-only, all right", _want([CONF], create_only=True), _container("created", None), SAME, "none", [], None,
     []),
    ("create-only, a file differs", _want([CONF], create_only=True), _container("created", None), OLD, "copy",
     ["/etc/x.conf"], None, ["file /etc/x.conf: content"]),
    ("create-only, no container", _want([CONF], create_only=True), None, {}, "recreate", ["/etc/x.conf"], None,
     ["container dev-x: missing"]),
]


@pytest.mark.parametrize("case,want,container,holds,action,stale,reload,diff", CASES, ids=[c[0] for c in CASES])
def test_decide(case, want, container, holds, action, stale, reload, diff):
    reads = []

    def read_files(paths):
        reads.append(paths)
        return dict((p, holds.get(p)) for p in paths)

    decision = rc.decide(want, container, read_files)
    assert (decision.action, [f["dest"] for f in decision.stale], decision.reload, decision.diff) == (
        action, stale, reload, diff)
    # The container's files are read only when it is kept, and then in one call.
    assert reads == ([] if action == "recreate" or not want["files"] else [[f["dest"] for f in want["files"]]])


def test_every_outcome_is_in_the_table():
    assert set(c[4] for c in CASES) == set(rc.ACTIONS)


def test_tls_field_expands_to_the_three_files_or_one_combined_pem():
    plain = rc.expand_tls({"tls": {"dest": "/etc/p-", "owner": 999}}, "/s")
    assert [(f["dest"], f["mode"], f["owner"]) for f in plain] == [
        ("/etc/p-tls.crt", "0644", 0), ("/etc/p-tls.key", "0600", 999), ("/etc/p-ca.crt", "0644", 0)]
    assert plain[1]["secret"] is True
    combined = rc.expand_tls({"tls": {"dest": "/etc/m-", "owner": 999, "combined": True}}, "/s")
    assert combined[0]["src"] == ["/s/tls.key", "/s/tls.crt"] and combined[0]["dest"] == "/etc/m-tls.pem"
    assert rc.expand_tls({"tls": {"dest": "/x-", "enabled": "False"}}, "/s") == []
    assert [f["dest"] for f in rc.expand_tls({"tls": {"dest": "/x-", "ca": False}}, "/s")] == [
        "/x-tls.crt", "/x-tls.key"]


def test_file_comparison_and_health():
    want = {"content": b"a", "mode": 0o600, "owner": 999, "group": 999}
    assert rc.file_differs(want, None) == "missing"
    assert rc.file_differs(want, dict(want)) is None
    assert rc.file_differs(want, dict(want, content=b"b", mode=0o644)) == "content, mode 644 -> 600"
    assert rc.health_of({"Status": "running", "Running": True, "Health": {"Status": "healthy"}}) == "healthy"
    assert rc.health_of({"Status": "running", "Running": True, "Health": {"Status": "starting"}}) == "starting"
    assert rc.health_of({"Status": "exited"}) == "failed"
    assert rc.health_of({"Status": "running", "Running": True, "Health": {"Status": "starting"}},
                        "running") == "healthy"


def test_healthcheck_argv_is_what_docker_would_run():
    assert rc.healthcheck_argv({"test": ["CMD", "/bin/sh", "/x.sh", "health"]}) == ["/bin/sh", "/x.sh", "health"]
    assert rc.healthcheck_argv({"test": ["CMD-SHELL", "pg_isready -q"]}) == ["/bin/sh", "-c", "pg_isready -q"]
    assert rc.healthcheck_argv({"test": "curl -f localhost"}) == ["/bin/sh", "-c", "curl -f localhost"]
    assert rc.healthcheck_argv({"test": ["NONE"]}) is None and rc.healthcheck_argv(None) is None


def test_the_service_spec_is_checked_naming_the_field():
    good = {"component": "p", "image": "p:1", "files": [{"template": "a.j2", "dest": "/etc/a"}],
            "tls": {"dest": "/etc/p-", "owner": 999}, "volumes": [{"name": "d", "target": "/d"}]}
    assert rc.check_spec(good) == []
    problems = rc.check_spec(dict(good, volume=[], ready="up", files=[{"dest": "etc/a", "src": "x"},
                                                                     {"dest": "/b", "src": "x", "content": "y"}],
                                  tls={"dest": "/etc/p-", "mode": "0600"}))
    assert problems[0].startswith("unknown field(s) volume;")
    assert "ready must be healthy or running, got 'up'" in problems
    assert "files[0] needs dest, an absolute path in the container" in problems
    assert "files[1] (/b) needs exactly one of template, src or content" in problems
    assert any(p.startswith("tls has unknown field(s) mode;") for p in problems)
    # What a file change does: restart, watch (the service reloads by itself) or a signal, per spec or per file.
    assert rc.check_spec(dict(good, reload="watch",
                              files=[{"template": "a.j2", "dest": "/a", "reload": "SIGHUP"}])) == []
    assert rc.check_spec(dict(good, files=[{"template": "a.j2", "dest": "/a",
                                            "validate": ["promtool", "check", "config", "%s"]}])) == []
    assert rc.check_spec(dict(good, files=[{"template": "a.j2", "dest": "/a",
                                            "validate": "promtool check config"}])) == [
        "files[0].validate must be a command (list) with the argument %s for the file, got 'promtool check config'"]
    problems = rc.check_spec(dict(good, reload="reload", files=[{"template": "a.j2", "dest": "/a", "reload": "hup"}]))
    assert problems == ["reload must be restart, watch or a signal name (SIGHUP), got 'reload'",
                        "files[0].reload must be restart, watch or a signal name (SIGHUP), got 'hup'"]


P = "io.colima-services"
MINE = {P + ".owner": "devenv", P + ".instance": "default"}


@pytest.mark.parametrize("volume, refused", [
    (None, False),  # created by this run
    ({"Labels": None}, False),  # made by hand, or before the labels: used as it is
    ({"Labels": {P + ".instance": "default", P + ".component": "postgres"}}, False),
    ({"Labels": {P + ".instance": "second", P + ".component": "postgres"}}, True),
])
def test_a_volume_labelled_for_another_instance_is_refused_naming_it_and_the_fix(volume, refused):
    why = rc.foreign_volume("dev_postgres_data", volume, MINE, P)
    assert (why is not None) == refused
    if refused:
        assert "dev_postgres_data" in why and "'second'" in why and "devenv_volume_prefix" in why
        assert "docker volume rm dev_postgres_data" in why
