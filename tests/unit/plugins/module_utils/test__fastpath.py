"""plugins/module_utils/_fastpath.py: the inputs digest, the host files and the comparison with the record.
The engine side (a real converge, a spoiled file, a changed template) is in the cli scenario."""

import os

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _fastpath as fp

HASH = "config-hash"
PREFIX = "io.colima-services"


def _tree(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _digest(root, variables, environ):
    return fp.digest_of(fp.input_parts(root, variables, environ))


def test_the_digest_follows_the_collection_the_variables_and_the_environment_it_reads(tmp_path):
    _tree(tmp_path, {"roles/x/defaults/main.yml": "x_home: \"{{ lookup('ansible.builtin.env', 'X_HOME') }}\"\n",
                     "docs/guide.md": "prose", "tests/test_x.py": "", "molecule/s/converge.yml": ""})
    env = {"HOME": "/root", "X_HOME": "/x", "TERM": "xterm"}
    base = _digest(str(tmp_path), {"devenv_profile": "full"}, env)
    same = _digest(str(tmp_path), {"devenv_profile": "full", "omit": "__omit_1", "_devenv_plan": {},
                                            "ansible_check_mode": True, "playbook_dir": "/elsewhere"},
                            dict(env, TERM="dumb", PWD="/tmp"))
    assert same == base  # Ansible's own variables, this run's facts and environment variables nobody reads
    assert _digest(str(tmp_path), {"devenv_profile": "minimal"}, env) != base
    assert _digest(str(tmp_path), {"devenv_profile": "full"}, dict(env, X_HOME="/y")) != base
    assert _digest(str(tmp_path), {"devenv_profile": "full"}, dict(env, DOCKER_HOST="tcp://x")) != base
    (tmp_path / "docs" / "guide.md").write_text("other prose")
    (tmp_path / "tests" / "test_x.py").write_text("changed")
    _tree(tmp_path, {".ansible/roles/cache.yml": "written by ansible-lint"})  # a tool's cache, not an input
    assert _digest(str(tmp_path), {"devenv_profile": "full"}, env) == base
    (tmp_path / "roles" / "x" / "defaults" / "main.yml").write_text("x_home: /fixed\n")
    assert _digest(str(tmp_path), {"devenv_profile": "full"}, env) != base


def test_the_host_files_leave_out_the_record_the_lock_backups_and_temporary_files(tmp_path):
    _tree(tmp_path, {"ca.crt": "CA", "services/pg/tls.key": "k", fp.RECORD: "{}", "run.lock": "1",
                     "backups/20261201/pg.dump": "data", ".fast-path.json.tmp": "partial"})
    assert sorted(os.path.relpath(p, str(tmp_path)) for p in fp.host_files([str(tmp_path)])) == [
        "ca.crt", os.path.join("services", "pg", "tls.key")]


def _record(**extra):
    record = {"version": fp.VERSION, "inputs": "d", "valid_until": 2000, "host_files": {"/h/ca.crt": "a"},
              "images": {"devenv/pg:1": "sha256:1"},
              "containers": [{"container": "dev-pg", "config_hash": "h1", "image": "devenv/pg:1",
                              "image_id": "sha256:1", "ready": "healthy", "create_only": False,
                              "files": {"/etc/pg.conf": fp.file_fingerprint(b"conf", 0o644, 0, 0)}}]}
    record.update(extra)
    return record


RUNNING = {"dev-pg": {"State": "running", "Status": "Up 3 minutes (healthy)", "ImageID": "sha256:1",
                      "Labels": {PREFIX + "." + HASH: "h1"}}}


@pytest.mark.parametrize("record, digest, now, host, why", [
    (None, "d", 1000, {}, "there is no record"),
    (_record(), "other", 1000, {"/h/ca.crt": "a"}, "the inventory, the variables"),
    (_record(), "d", 2000, {"/h/ca.crt": "a"}, "something falls due"),
    (_record(), "d", 1000, {}, "the host file /h/ca.crt changed"),
    (_record(), "d", 1000, {"/h/ca.crt": "b"}, "the host file /h/ca.crt changed"),
    (_record(), "d", 1000, {"/h/ca.crt": "a", "/h/new": "c"}, "the host file /h/new changed"),
    (_record(), "d", 1000, {"/h/ca.crt": "a"}, None),
])
def test_the_record_holds_until_an_input_a_due_date_or_a_host_file_differs(record, digest, now, host, why):
    found = fp.record_differences(record, digest, now, host)
    assert (found[0].startswith(why) if why else found == [])


def _with(name, **changes):
    entry = dict(RUNNING[name], **changes)
    return {name: entry}


@pytest.mark.parametrize("containers, images, why", [
    (RUNNING, {"devenv/pg:1": "sha256:1"}, None),
    ({}, {"devenv/pg:1": "sha256:1"}, "dev-pg does not exist"),
    (_with("dev-pg", Labels={PREFIX + "." + HASH: "h2"}), {"devenv/pg:1": "sha256:1"},
     "dev-pg has another configuration"),
    (_with("dev-pg", ImageID="sha256:2"), {"devenv/pg:1": "sha256:1"}, "dev-pg runs another image"),
    (_with("dev-pg", State="exited", Status="Exited (1)"), {"devenv/pg:1": "sha256:1"}, "dev-pg is exited"),
    (_with("dev-pg", Status="Up 3 seconds (health: starting)"), {"devenv/pg:1": "sha256:1"}, "dev-pg is not healthy"),
    (RUNNING, {"devenv/pg:1": "sha256:9"}, "the image devenv/pg:1 changed"),
])
def test_the_engine_holds_what_the_record_says(containers, images, why):
    found = [why for _name, why in fp.engine_differing(_record(), containers, images, PREFIX, HASH)]
    assert (found[0].startswith(why) if why else found == [])


def test_a_create_only_container_need_not_run_and_a_running_one_need_not_be_healthy():
    record = _record()
    record["containers"][0].update(create_only=True)
    created = _with("dev-pg", State="created", Status="Created")
    assert fp.engine_differing(record, created, {"devenv/pg:1": "sha256:1"}, PREFIX, HASH) == []
    record["containers"][0].update(create_only=False, ready="running")
    assert fp.engine_differing(record, _with("dev-pg", Status="Up 1 second"), {"devenv/pg:1": "sha256:1"},
                               PREFIX, HASH) == []


def test_a_file_spoiled_missing_or_with_another_mode_is_a_difference():
    item = _record()["containers"][0]
    good = {"/etc/pg.conf": {"content": b"conf", "mode": 0o100644, "owner": 0, "group": 0}}
    assert fp.file_differences(item, good) == []
    assert fp.file_differences(item, {"/etc/pg.conf": dict(good["/etc/pg.conf"], content=b"spoiled")}) == [
        "dev-pg holds another /etc/pg.conf"]
    assert fp.file_differences(item, {"/etc/pg.conf": dict(good["/etc/pg.conf"], mode=0o600)}) == [
        "dev-pg holds another /etc/pg.conf"]
    assert fp.file_differences(item, {"/etc/pg.conf": None}) == ["dev-pg lacks /etc/pg.conf"]


def test_forget_removes_the_record_and_load_refuses_another_version(tmp_path):
    assert fp.load(str(tmp_path)) is None and not fp.forget(str(tmp_path))
    (tmp_path / fp.RECORD).write_text('{"version": 0}')
    assert fp.load(str(tmp_path)) is None
    (tmp_path / fp.RECORD).write_text('{"version": %d, "inputs": "d"}' % fp.VERSION)
    assert fp.load(str(tmp_path))["inputs"] == "d"
    assert fp.forget(str(tmp_path)) and not (tmp_path / fp.RECORD).exists()


def test_a_change_of_inputs_names_what_changed_by_part(tmp_path):
    _tree(tmp_path, {"roles/postgres/templates/pg.conf.j2": "{{ postgres_max }}", "roles/devenv/defaults/main.yml": ""})
    env = {"HOME": "/root"}
    before = fp.input_parts(str(tmp_path), {"postgres_max": 100, "devenv_profile": "full"}, env)
    assert fp.digest_of(before) == _digest(str(tmp_path), {"postgres_max": 100, "devenv_profile": "full"}, env)
    (tmp_path / "roles/postgres/templates/pg.conf.j2").write_text("max = {{ postgres_max }}")
    now = fp.input_parts(str(tmp_path), {"postgres_max": 150, "devenv_profile": "full"}, dict(env, HOME="/home/u"))
    assert fp.changed_parts(before, now) == {"files": ["roles/postgres/templates/pg.conf.j2"],
                                             "variables": ["postgres_max"], "env": ["HOME"]}
    assert fp.changed_parts(None, now)["variables"] == ["devenv_profile", "postgres_max"]


ROLES = {"postgres", "pgbouncer", "redis", "exporters"}


@pytest.mark.parametrize("changed, variables, roles", [
    ({"files": ["roles/postgres/templates/pg.conf.j2"]}, {}, {"postgres"}),
    ({"files": ["inventories/default/group_vars/all/main.yml"]}, {}, set()),  # what it sets comes as variables
    ({"files": ["roles/devenv/tasks/service.yml"]}, {}, None),  # the shared role: every play
    ({"files": ["plugins/action/service.py"]}, {}, None),
    ({"env": ["HOME"]}, {}, None),
    ({"variables": ["postgres_max"]}, {"postgres_max": 150}, {"postgres"}),
    ({"variables": ["postgres_port"]}, {"postgres_port": 5433}, {"postgres", "exporters"}),
    ({"variables": ["devenv_profile"]}, {"devenv_profile": "full"}, None),  # read by the shared role
    ({"variables": ["nobody_reads_me"]}, {"nobody_reads_me": 1}, None),  # perhaps looked up by a computed name
    # a variable whose value names a changed one changes with it: redis_maxmemory is read by the redis role
    ({"variables": ["postgres_max"]}, {"postgres_max": 150, "redis_maxmemory": "{{ postgres_max * 2 }}"},
     {"postgres", "redis"}),
])
def test_a_change_of_inputs_concerns_the_roles_that_read_it(tmp_path, changed, variables, roles):
    _tree(tmp_path, {"roles/postgres/templates/pg.conf.j2": "max = {{ postgres_max }} port {{ postgres_port }}",
                     "roles/exporters/defaults/main.yml": "pg_exporter_target: 'dev-postgres:{{ postgres_port }}'",
                     "roles/redis/templates/redis.conf.j2": "maxmemory {{ redis_maxmemory }}",
                     "roles/devenv/defaults/main.yml": "devenv_profile: standard",
                     "inventories/default/group_vars/all/main.yml": "# nobody_reads_me: 1",
                     "scripts/bench.py": "postgres_max = 101  # names it, reads nothing"})
    assert fp.roles_of_changes(str(tmp_path), changed, variables, ROLES) == roles


def test_the_plays_and_components_of_differing_containers_come_from_their_fingerprints():
    record = _record()
    record["containers"][0].update(play="Data services", component="pg")
    assert fp.of_containers(record, ["dev-pg"], "play") == {"Data services"}
    assert fp.of_containers(record, ["dev-pg"], "component") == {"pg"}
    assert fp.of_containers(record, [], "play") == set()
    assert fp.of_containers(record, ["dev-gone"], "play") is None  # not recorded: every play


def test_a_changed_image_concerns_each_container_that_runs_it():
    assert fp.engine_differing(_record(), RUNNING, {"devenv/pg:1": "sha256:9"}, PREFIX, HASH) == [
        ("dev-pg", "the image devenv/pg:1 changed")]


def test_the_kept_inputs_are_taken_once_and_only_with_their_token(tmp_path):
    (tmp_path / fp.NEXT).write_text('{"token": "t1", "inputs": "d"}')
    assert fp.take_next(str(tmp_path), "t2") is None and fp.take_next(str(tmp_path), "") is None
    assert fp.take_next(str(tmp_path), "t1")["inputs"] == "d"
    assert fp.take_next(str(tmp_path), "t1") is None and not (tmp_path / fp.NEXT).exists()


def test_the_check_waits_only_when_every_difference_is_a_first_health_check_still_running():
    starting = _with("dev-pg", Status="Up 3 seconds (health: starting)")
    differing = fp.engine_differing(_record(), starting, {"devenv/pg:1": "sha256:1"}, PREFIX, HASH)
    assert differing and fp.only_starting(differing, starting)
    unhealthy = _with("dev-pg", Status="Up 3 minutes (unhealthy)")
    assert not fp.only_starting(fp.engine_differing(_record(), unhealthy, {"devenv/pg:1": "sha256:1"}, PREFIX, HASH),
                                unhealthy)
    assert not fp.only_starting([], RUNNING)
