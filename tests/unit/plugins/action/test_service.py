"""plugins/action/service.py against the real engine, through ansible-playbook: a data volume is never started
under another server (issue 22, item 6). The probe's two images differ only in the server they say they run
(DV_MAJOR=1 and DV_MAJOR=2, like PG_MAJOR in the postgres image); its data says which server wrote it (VERSION,
like PostgreSQL's PG_VERSION).

Skipped when no engine answers or no devenv/base image is there (build it: playbooks/images.yml)."""

import ipaddress
import json
import os
import subprocess
import sys
import uuid

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _serverversion as sv
from conftest import docker_engine

pytestmark = pytest.mark.playbook  # see pytest.ini

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
RUN_ID = uuid.uuid4().hex[:6]
PREFIX = "devenv-test-sv-%s-" % RUN_ID
# This run's own label: the teardown removes what carries it, never what another test run (in parallel) made.
LABELS = {"io.colima-services.test": "service-server-%s" % RUN_ID}
SETTINGS = {"docker_host": "unix:///var/run/docker.sock", "api_version": "1.41"}
COMPONENT, VOLUME = "probe", PREFIX + "probe-data"
NAME = PREFIX + COMPONENT
STEP = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Reconcile the probe
      colima_services.devenv.service: {spec: "{{ spec }}", entry: "{{ entry }}", settings: "{{ settings }}"}
      register: step
      ignore_errors: true
    - name: Keep the result
      ansible.builtin.copy: {dest: "{{ out }}", content: "{{ step | to_json }}"}
"""


@pytest.fixture(scope="module")
def engine():
    yield from docker_engine(LABELS)


@pytest.fixture(scope="module")
def images(engine):
    """The probe's two images, DV_MAJOR=1 and DV_MAJOR=2, made from the base image (no build, no network)."""
    tags = sorted(t for i in engine.api.images(name="devenv/base") for t in i.get("RepoTags") or [])
    if not tags:
        pytest.skip("no devenv/base image: build it with playbooks/images.yml")
    holder = engine.api.create_container(tags[-1], command=["true"], name=PREFIX + "holder", labels=LABELS)["Id"]
    label = "LABEL %s=%s" % next(iter(LABELS.items()))
    for major in ("1", "2"):
        engine.api.commit(holder, repository=PREFIX + "server", tag=major, changes=["ENV DV_MAJOR=" + major, label])
    engine.remove(holder)
    return PREFIX + "server:1", PREFIX + "server:2"


@pytest.fixture(scope="module")
def network(engine):
    """A network of this run's own, on a /24 no other network uses (the step gives its container a fixed IP)."""
    for third in range(40, 250):
        subnet = ipaddress.ip_network("10.213.%d.0/24" % third)
        try:
            engine.api.create_network(PREFIX + "net", driver="bridge", labels=LABELS, ipam={
                "Driver": "default", "Config": [{"Subnet": str(subnet), "Gateway": str(subnet[1])}]})
            return {"name": PREFIX + "net", "ip": str(subnet[10])}
        except Exception:  # a subnet another network has: the next one
            continue
    pytest.skip("no free 10.213.x.0/24 for the test network")


def step(tmp_path, image, network):
    """One ansible-playbook run of the service step for the probe with this image: (its result, its output)."""
    spec = {"component": COMPONENT, "image": image, "ready": "running",
            "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; [ -s /data/VERSION ] || echo \"$DV_MAJOR\" "
                                         ">/data/VERSION; sleep 600 & wait"],
            "volumes": [{"name": VOLUME, "target": "/data"}],
            "server": {"volume": VOLUME, "variable": "probe_image", "image": [{"env": "DV_MAJOR", "product": "Probe"}],
                       "data": [{"file": "VERSION", "product": "Probe"}]}}
    settings = dict(SETTINGS, container_prefix=PREFIX, volume_prefix="", network_name=network["name"],
                    bind_address="127.0.0.1", labels=LABELS, label_prefix="io.colima-services.test-probe",
                    home=str(tmp_path / "home"), image_source="auto", image_retry=False, image_retry_hours=24,
                    local_image_prefix="devenv/", collection_root=ROOT, base_tag="", debian_mirror="", system="Linux",
                    health_timeout=60, log_lines=10, require_all=True, create_only=False)
    variables = tmp_path / "vars.json"
    out = tmp_path / ("result-%s.json" % uuid.uuid4().hex[:6])
    variables.write_text(json.dumps({"spec": spec, "entry": {"ip": network["ip"], "ports": {}}, "settings": settings,
                                     "out": str(out)}))
    (tmp_path / "step.yml").write_text(STEP)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "ansible"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([PLAYBOOK, str(tmp_path / "step.yml"), "-e", "@%s" % variables], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout + proc.stderr


def recorded(engine):
    return sv.parse_record(engine.volume_files(VOLUME, [sv.RECORD], PREFIX + "server:1", LABELS)[sv.RECORD])


def remove_files(engine, *names):
    engine.exec_ok(NAME, ["rm", "-f"] + ["/data/" + n for n in names], "removing test files", timeout=30)


def refused(result, engine, container_id, have, evidence):
    """The step failed before anything changed, naming both servers, the variable and the way out."""
    assert result.get("failed") and result.get("changed") is False, result
    msg = result["msg"]
    assert msg.startswith("probe: the data on the volume %s belongs to Probe %s (%s" % (VOLUME, have, evidence)), msg
    assert ("but %s would run Probe 2 on it. Nothing was changed: %s was not recreated."
            % (PREFIX + "server:2", NAME)) in msg
    assert "set probe_image to an image of Probe %s" % have in msg and "playbooks/backup.yml" in msg and sv.DOCS in msg
    assert result["modules"] == []
    info = engine.container(NAME)
    assert info["Id"] == container_id and info["Config"]["Image"] == PREFIX + "server:1"


def test_a_data_volume_is_never_started_under_another_server(engine, images, network, tmp_path):
    one, two = images
    result, _ = step(tmp_path, one, network)
    assert not result.get("failed") and result["changed"], result
    assert "recorded Probe 1 on the volume %s" % VOLUME in result["actions"]
    assert recorded(engine) == {"product": "Probe", "release": "1", "image": one}
    container_id = engine.container(NAME)["Id"]

    # Another release: refused before the container is recreated; the record stays.
    result, _ = step(tmp_path, two, network)
    refused(result, engine, container_id, "1", "recorded in its file .devenv-server when %s started on it" % one)
    assert recorded(engine)["release"] == "1"

    # A volume from before the record (an existing environment): a kept container gets it written.
    remove_files(engine, sv.RECORD)
    result, _ = step(tmp_path, one, network)
    assert not result.get("failed") and result["changed"] and result["modules"] == [], result
    assert recorded(engine)["release"] == "1" and engine.container(NAME)["Id"] == container_id

    # Without a record, what the data says...
    remove_files(engine, sv.RECORD)
    result, _ = step(tmp_path, two, network)
    refused(result, engine, container_id, "1", "as its file VERSION says")
    # ...and without that either, the server of the image of the container that ran on it.
    remove_files(engine, "VERSION")
    result, _ = step(tmp_path, two, network)
    refused(result, engine, container_id, "1", "the server of %s, the image of the container that ran on it" % one)
    assert recorded(engine) is None

    # Nothing says (no record, no data, no container): the server that starts now is recorded, with a warning.
    engine.remove(NAME)
    result, output = step(tmp_path, two, network)
    assert not result.get("failed"), result
    assert "has no record of its server, and neither its data nor a container that ran on it says" in " ".join(
        output.split())
    assert recorded(engine)["release"] == "2"
    container_id = engine.container(NAME)["Id"]
    # From now on the record protects it, also against the release it had before.
    result, _ = step(tmp_path, one, network)
    assert result.get("failed") and "belongs to Probe 2 (recorded in its file .devenv-server" in result["msg"], result
    assert engine.container(NAME)["Id"] == container_id
