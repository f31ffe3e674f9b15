"""plugins/module_utils/_serverversion.py: what an image and a volume's data say about their server, and the
decision (verdict) about a data volume before its container is recreated, as a table."""

import json
import os
import uuid

import pytest
import yaml

from ansible_collections.colima_services.devenv.plugins.module_utils import _serverversion as sv
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk

PG16, PG15 = {"product": "PostgreSQL", "release": "16"}, {"product": "PostgreSQL", "release": "15"}
MARIADB = {"product": "MariaDB", "release": "10.11"}
MYSQL_RULES = [{"env": "MYSQL_MAJOR", "product": "MySQL"}, {"env": "MARIADB_MAJOR", "product": "MariaDB"},
               {"env": "MARIADB_VERSION", "product": "MariaDB"}, {"label": "org.example.version", "product": "MySQL"}]
MYSQL_DATA = [{"file": "mariadb_upgrade_info", "product": "MariaDB"},
              {"file": "mysql_upgrade_info", "product": "MariaDB", "contains": "MariaDB"},
              {"file": "mysql_upgrade_info", "product": "MySQL"}]


@pytest.mark.parametrize("value,expect", [
    ("16", "16"), ("16\n", "16"), ("8.4", "8.4"), ("8.4.3-1.el9", "8.4"), ("1:10.11.7+maria~ubu2204", "10.11"),
    ("10.11.18-MariaDB", "10.11"), ("7.0.15", "7.0"), ("9.6", "9.6"), ("", None), (None, None), ("latest", None),
])
def test_release_is_the_version_line_a_value_starts_with(value, expect):
    assert sv.release(value) == expect


@pytest.mark.parametrize("env,labels,expect", [
    (["PATH=/bin", "MYSQL_MAJOR=8.4", "MYSQL_VERSION=8.4.3-1.el9"], {}, {"product": "MySQL", "release": "8.4"}),
    (["MARIADB_MAJOR=10.11"], {}, MARIADB),
    (["MARIADB_VERSION=1:10.11.7+maria~ubu2204"], {}, MARIADB),  # the upstream mariadb image
    ([], {"org.example.version": "8.0.36"}, {"product": "MySQL", "release": "8.0"}),
    (["MYSQL_MAJOR="], {}, None),  # set, but to no version: the next rule, then none
    (["PATH=/bin"], {"io.colima-services.recipe": "mysql"}, None),  # a local image of an older recipe says nothing
])
def test_the_image_says_its_server_by_the_first_rule_it_answers(env, labels, expect):
    assert sv.image_server({"Env": env, "Labels": labels}, MYSQL_RULES) == expect
    assert sv.image_server(None, MYSQL_RULES) is None


@pytest.mark.parametrize("files,expect", [
    ({"mysql_upgrade_info": b"10.11.18-MariaDB"}, dict(MARIADB, file="mysql_upgrade_info")),
    ({"mariadb_upgrade_info": b"11.4.2-MariaDB", "mysql_upgrade_info": None},
     {"product": "MariaDB", "release": "11.4", "file": "mariadb_upgrade_info"}),
    ({"mysql_upgrade_info": b"8.0.15"}, {"product": "MySQL", "release": "8.0", "file": "mysql_upgrade_info"}),
    ({"mysql_upgrade_info": b"garbage"}, None),
    ({}, None),
])
def test_the_data_says_its_server_by_its_own_files(files, expect):
    assert sv.data_server(files, MYSQL_DATA) == expect


def test_the_record_round_trips_and_a_broken_one_is_none():
    content = sv.record(PG16, "postgres:16.6-bookworm")
    assert json.loads(content) == {"product": "PostgreSQL", "release": "16", "image": "postgres:16.6-bookworm"}
    assert sv.parse_record(content.encode()) == dict(PG16, image="postgres:16.6-bookworm")
    for broken in (None, b"", b"{", b"[]", b'{"product": "PostgreSQL"}'):
        assert sv.parse_record(broken) is None


def test_files_read_and_where_a_container_mounts_the_volume():
    assert sv.file_names({"data": MYSQL_DATA}) == [sv.RECORD, "mariadb_upgrade_info", "mysql_upgrade_info"]
    assert sv.file_names({}) == [sv.RECORD]
    inspect = {"Mounts": [{"Type": "bind", "Name": "", "Destination": "/etc/x"},
                          {"Type": "volume", "Name": "postgres_data", "Destination": "/var/lib/postgresql/data"}]}
    assert sv.mount_path(inspect, "postgres_data") == "/var/lib/postgresql/data"
    assert sv.mount_path(inspect, "other") is None and sv.mount_path(None, "postgres_data") is None


V = sv.Verdict
REC16 = dict(PG16, image="postgres:16.6-bookworm")
DATA16 = dict(PG16, file="PG_VERSION")
# (case, found, wanted, kept, new, verdict)
CASES = [
    ("recorded, same server", {"record": REC16}, PG16, False, False, V()),
    ("recorded, another release", {"record": REC16}, PG15, False, False, V(refuse="record")),
    ("recorded, another product", {"record": dict(MARIADB, image="")}, {"product": "MySQL", "release": "10.11"},
     False, False, V(refuse="record")),
    ("recorded: the record wins over the data", {"record": REC16, "data": dict(PG15, file="PG_VERSION")}, PG16, False,
     False, V()),
    ("recorded, the image says nothing", {"record": REC16}, None, False, False, V(warning="unknown-image")),
    ("recorded, container kept", {"record": REC16}, PG15, True, False, V()),
    ("no record, the data says the same", {"data": DATA16}, PG16, False, False, V(write=PG16)),
    ("no record, the data says another", {"data": DATA16, "previous": PG15}, PG15, False, False, V(refuse="data")),
    ("no record, no data: the previous image says another", {"previous": PG16}, PG15, False, False,
     V(refuse="previous")),
    ("no record, no data: the previous image says the same", {"previous": PG16}, PG16, False, False, V(write=PG16)),
    ("no record and nothing says", {}, PG16, False, False, V(write=PG16, warning="unknown-data")),
    ("no record, the image says nothing", {"data": DATA16}, None, False, False, V(warning="unknown-image")),
    ("nothing says anything", {}, None, False, False, V()),
    ("a new volume", {}, PG16, False, True, V(write=PG16)),
    ("a new volume, the image says nothing", {}, None, False, True, V()),
    ("kept, no record: the running server", {"data": DATA16}, PG16, True, False, V(write=PG16)),
    ("kept, no record, the image says nothing: the data", {"data": DATA16}, None, True, False, V(write=DATA16)),
    ("kept and nothing says", {}, None, True, False, V()),
]


@pytest.mark.parametrize("case,found,wanted,kept,new,expect", CASES, ids=[c[0] for c in CASES])
def test_verdict(case, found, wanted, kept, new, expect):
    assert sv.verdict(found, wanted, kept=kept, new=new) == expect


def test_every_outcome_is_in_the_table():
    outcomes = set()
    for case in CASES:
        verdict = case[-1]
        outcomes |= {"refuse " + str(verdict.refuse), "write" if verdict.write else "no write", str(verdict.warning)}
    assert outcomes >= {"refuse %s" % s for s in sv.SOURCES} | {"write", "no write", "unknown-image", "unknown-data"}


CTX = {"component": "postgres", "volume": "postgres_data", "container": "dev-postgres", "ref": "devenv/postgres:abc",
       "wanted": PG15, "variable": "postgres_image", "upstream": "postgres:16.6-bookworm",
       "previous_image": "postgres:16.6-bookworm"}


def test_the_refusal_names_both_servers_the_variable_and_the_way_out():
    msg = sv.refusal(CTX, DATA16, "data")
    assert msg.startswith("postgres: the data on the volume postgres_data belongs to PostgreSQL 16 (as its file "
                          "PG_VERSION says), but devenv/postgres:abc would run PostgreSQL 15 on it. Nothing was "
                          "changed: dev-postgres was not recreated.")
    assert ("postgres:16.6-bookworm could not be pulled, so the local recipe was chosen: make it available (docker "
            "pull or docker load; -e devenv_image_retry=true pulls again now), or set postgres_image to another image "
            "of PostgreSQL 16.") in msg
    assert "To move the data to PostgreSQL 15: back it up (playbooks/backup.yml)" in msg and sv.DOCS in msg
    upstream = dict(CTX, ref="postgres:17.2", upstream="postgres:17.2",
                    wanted={"product": "PostgreSQL", "release": "17"})
    msg = sv.refusal(upstream, REC16, "record")
    assert "(recorded in its file .devenv-server when postgres:16.6-bookworm started on it)" in msg
    assert ("set postgres_image to an image of PostgreSQL 16 (it is postgres:17.2 now), or devenv_image_source: "
            "local") in msg
    assert "(the server of postgres:16.6-bookworm, the image of the container that ran on it)" in sv.refusal(
        CTX, PG16, "previous")


def test_the_warnings():
    assert "devenv/postgres:abc sets none of the env variables or labels" in sv.warning(CTX, "unknown-image", PG16)
    assert "recorded PostgreSQL 15, the server of devenv/postgres:abc, which starts on it now" in sv.warning(
        CTX, "unknown-data")


def test_the_spec_field_is_checked_naming_the_field():
    volumes = [{"name": "postgres_data", "target": "/var/lib/postgresql/data"}]
    good = {"volume": "postgres_data", "variable": "postgres_image",
            "image": [{"env": "PG_MAJOR", "product": "PostgreSQL"}],
            "data": [{"file": "PG_VERSION", "product": "PostgreSQL"}]}
    assert sv.spec_problems(good, volumes) == []
    assert sv.spec_problems(dict(good, data=None), volumes) == []
    assert sv.spec_problems("postgres_data", volumes) == [
        "server must be a dict with volume, variable, image, data, got 'postgres_data'"]
    bad = {"volume": "pg", "image": [{"env": "PG_MAJOR", "label": "x", "product": "P"}],
           "data": [{"file": "base/PG_VERSION", "product": "P"}, {"file": "x"}], "extra": 1}
    assert sv.spec_problems(bad, volumes) == [
        "server has unknown field(s) extra; the fields are volume, variable, image, data",
        "server.volume must be the name of one of volumes (postgres_data), got 'pg'",
        "server.variable must name the variable that sets the image (postgres_image)",
        "server.image[0] needs product and one of env or label",
        "server.data[0].file must be a name at the volume's root, got 'base/PG_VERSION'",
        "server.data[1] needs product and file"]
    assert sv.spec_problems(dict(good, image=[]), volumes) == [
        "server.image needs at least one rule ({env: PG_MAJOR, product: PostgreSQL})"]


# ---- the roles' rules against real servers (the local images; skipped without them or an engine) ------------------
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LABELS = {"io.colima-services.test": "serverversion-%s" % uuid.uuid4().hex[:6]}
# How each local image initialises a data directory, as the role's start script does.
INIT = {
    "postgres": ("/var/lib/postgresql/data", "postgres",
                 '"$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)/initdb" -D /var/lib/postgresql/data >/dev/null'),
    "mysql": ("/var/lib/mysql", "mysql", "mariadb-install-db --skip-test-db --datadir=/var/lib/mysql >/dev/null 2>&1"),
}


def role_spec(role, tasks_file="run.yml"):
    """The role's service spec, as its tasks file writes it (in a block or not)."""
    with open(os.path.join(ROOT, "roles", role, "tasks", tasks_file)) as handle:
        tasks = yaml.safe_load(handle)
    tasks += [t for task in tasks for t in task.get("block", [])]
    return next(t["vars"]["devenv_service"] for t in tasks if "devenv_service" in t.get("vars", {}))


def role_server(role):
    return role_spec(role)["server"]


@pytest.mark.parametrize("role,tasks_file", [("postgres", "run.yml"), ("mysql", "run.yml"), ("mongodb", "run.yml"),
                                             ("redis", "node.yml")])
def test_the_data_roles_declare_their_server(role, tasks_file):
    spec = role_spec(role, tasks_file)
    assert sv.spec_problems(spec["server"], spec["volumes"]) == []
    assert spec["server"]["variable"] == spec["image"].strip("{} ")


@pytest.fixture(scope="module")
def engine():
    try:
        client = dk.Engine({"docker_host": "unix:///var/run/docker.sock", "api_version": "1.41"}, timeout=60)
    except dk.EngineUnavailable as exc:
        pytest.skip(str(exc))
    yield client
    for item in client.containers(LABELS):
        client.remove(item["Id"])
    for volume in client.api.volumes(filters={"label": "%s=%s" % next(iter(LABELS.items()))}).get("Volumes") or []:
        client.api.remove_volume(volume["Name"], force=True)
    client.close()


@pytest.mark.parametrize("role,expect", [("postgres", {"product": "PostgreSQL", "release": "15", "file": "PG_VERSION"}),
                                         ("mysql", {"product": "MariaDB", "release": "10.11",
                                                    "file": "mysql_upgrade_info"})])
def test_the_roles_data_rules_read_what_a_real_server_wrote(engine, role, expect):
    tags = sorted(t for i in engine.api.images(name="devenv/" + role) for t in i.get("RepoTags") or [])
    if not tags:
        pytest.skip("no devenv/%s image: the Molecule stage builds it" % role)
    target, user, script = INIT[role]
    volume = engine.api.create_volume(name="devenv-test-sv-%s-%s" % (role, uuid.uuid4().hex[:6]), labels=LABELS)["Name"]
    name = "devenv-test-sv-init-%s" % uuid.uuid4().hex[:6]
    engine.api.create_container(tags[-1], entrypoint=["/bin/sh", "-c", script], user=user, name=name, labels=LABELS,
                                host_config=engine.api.create_host_config(network_mode="none",
                                                                          binds=["%s:%s" % (volume, target)]))
    engine.start(name)
    assert engine.api.wait(name, timeout=120)["StatusCode"] == 0, engine.logs(name, 20)
    server = role_server(role)
    files = engine.volume_files(volume, sv.file_names(server), tags[-1], LABELS)
    assert sv.data_server(files, server["data"]) == expect
    # The image says the same server (a local image built before its recipe said so says nothing).
    said = sv.image_server(engine.image(tags[-1])["Config"], server["image"])
    assert said in (None, {"product": expect["product"], "release": expect["release"]})
