"""plugins/plugin_utils/_docker.py against the real engine: a small container from the local base image.

Skipped when no engine answers or no devenv/base image is there (build it: playbooks/images.yml)."""

import io
import json
import subprocess
import time
import uuid

import pytest

from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from conftest import docker_engine

SETTINGS = {"docker_host": "unix:///var/run/docker.sock", "api_version": "1.41"}
# This run's own label: the teardown removes what carries it, never what another test run (in parallel) made.
LABELS = {"io.colima-services.test": "plugin-utils-docker-%s" % uuid.uuid4().hex[:6]}


def test_demux_splits_the_streams():
    frames = (b"\x01\x00\x00\x00\x00\x00\x00\x03out" + b"\x02\x00\x00\x00\x00\x00\x00\x03err"
              + b"\x01\x00\x00\x00\x00\x00\x00\x01!")
    assert dk.demux(frames) == (b"out!", b"err")
    assert dk.demux(b"") == (b"", b"")


def test_an_engine_that_does_not_answer_is_named(tmp_path):
    with pytest.raises(dk.EngineUnavailable) as exc:
        dk.Engine({"docker_host": "unix://%s/none.sock" % tmp_path}, timeout=5)
    assert "%s/none.sock does not answer" % tmp_path in str(exc.value)
    assert "devenv_docker_host" in str(exc.value)


@pytest.fixture(scope="module")
def engine():
    yield from docker_engine(LABELS, timeout=30)


@pytest.fixture(scope="module")
def image(engine):
    tags = sorted(t for i in engine.api.images(name="devenv/base") for t in i.get("RepoTags") or [])
    if not tags:
        pytest.skip("no devenv/base image: build it with playbooks/images.yml")
    return tags[-1]


def _run(engine, image, command, healthcheck=None, env=None):
    name = "devenv-test-%s" % uuid.uuid4().hex[:8]
    engine.api.create_container(image, command=command, name=name, labels=LABELS, healthcheck=healthcheck,
                                environment=env, host_config=engine.api.create_host_config(network_mode="none"))
    engine.start(name)
    return name


@pytest.fixture(scope="module")
def box(engine, image):
    name = _run(engine, image, ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exec sleep 600"])
    yield name
    engine.remove(name)


def test_inspect_or_none(engine, box):
    assert engine.container(box)["Name"] == "/" + box
    assert engine.container("devenv-test-missing") is None
    assert engine.image("devenv/none:missing") is None and engine.image("") is None
    assert engine.volume("devenv-test-missing") is None and engine.network("devenv-test-missing") is None
    assert [c["Names"][0] for c in engine.containers(LABELS) if c["Names"][0] == "/" + box] == ["/" + box]


def test_exec_returns_code_and_both_streams(engine, box):
    assert engine.exec_run(box, ["sh", "-c", "echo out; echo err >&2; exit 3"], "a test") == (3, b"out\n", b"err\n")
    # Larger than one read: every frame is kept.
    code, out, _err = engine.exec_run(box, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"], "a big output")
    assert (code, len(out)) == (0, 300000)


def test_exec_env_stays_in_the_container(engine, box):
    assert engine.exec_ok(box, ["sh", "-c", 'printf %s "$DEVENV_TEST_SECRET"'], "env",
                          env={"DEVENV_TEST_SECRET": "s3cr3t"}) == b"s3cr3t"
    assert "s3cr3t" not in json.dumps(engine.container(box))


def test_exec_failure_names_what_it_was_doing(engine, box):
    with pytest.raises(dk.ExecError) as exc:
        engine.exec_ok(box, ["sh", "-c", "echo the reason >&2; exit 4"], "checking the thing")
    assert str(exc.value) == "checking the thing failed in %s (exit 4): the reason" % box
    assert exc.value.code == 4


def test_exec_has_a_real_deadline(engine, box):
    """A command that sleeps longer than the deadline: given up at the deadline, with what it was doing (not argv)."""
    start = time.monotonic()
    with pytest.raises(dk.ExecTimeout) as exc:
        engine.exec_run(box, ["sh", "-c", "sleep 30 # token-in-argv"], "waiting for the dump", timeout=2)
    took = time.monotonic() - start
    assert 1.9 <= took < 6, took
    assert str(exc.value) == "waiting for the dump in %s did not finish within 2 s; it was given up" % box
    assert "token-in-argv" not in str(exc.value)
    # Output that trickles in does not extend the deadline.
    start = time.monotonic()
    with pytest.raises(dk.ExecTimeout):
        engine.exec_run(box, ["sh", "-c", "while true; do echo tick; sleep 0.5; done"], "ticking", timeout=2)
    assert time.monotonic() - start < 6
    # The engine is still usable afterwards.
    assert engine.exec_run(box, ["true"], "true")[0] == 0


def test_exec_in_a_stopped_container_fails_at_once(engine, image):
    name = _run(engine, image, ["true"])
    engine.api.wait(name, timeout=30)
    with pytest.raises(dk.DockerError) as exc:
        engine.exec_run(name, ["true"], "anything", timeout=5)
    assert "not running" in str(exc.value)
    engine.remove(name)


def test_files_in_a_container(engine, box):
    assert engine.stat(box, "/etc")["name"] == "etc" and engine.stat(box, "/no/such/path") is None
    assert engine.ensure_dirs(box, ["/opt/devenv-test/a/b.conf", "/opt/devenv-test/a/c.conf", "/etc/x.conf"]) == [
        "/opt/devenv-test", "/opt/devenv-test/a"]
    assert engine.ensure_dirs(box, ["/opt/devenv-test/a/b.conf"]) == []
    engine.put_file(box, "/opt/devenv-test/a/b.conf", b"content\n", mode=0o640, uid=7, gid=8)
    found = engine.read_files(box, ["/opt/devenv-test/a/b.conf", "/opt/devenv-test/a/c.conf", "/etc/hostname"])
    got = found["/opt/devenv-test/a/b.conf"]
    assert (got["content"], got["mode"] & 0o7777, got["owner"], got["group"]) == (b"content\n", 0o640, 7, 8)
    assert found["/opt/devenv-test/a/c.conf"] is None and found["/etc/hostname"]["content"]
    assert engine.get_file(box, "/opt/devenv-test/a/b.conf") == b"content\n"
    handle = io.BytesIO()
    assert engine.get_file(box, "/opt/devenv-test/a/b.conf", handle) == 8 and handle.getvalue() == b"content\n"
    with pytest.raises(dk.NotFound):
        engine.get_file(box, "/opt/devenv-test/a/c.conf")
    tar = io.BytesIO()
    engine.get_archive(box, "/opt/devenv-test", tar)
    engine.put_archive(box, "/tmp", tar.getvalue())
    assert engine.get_file(box, "/tmp/devenv-test/a/b.conf") == b"content\n"


def test_files_of_several_containers_are_read_side_by_side_each_as_read_files_reads_it(engine, image, box):
    other = _run(engine, image, ["sh", "-c", "echo other > /tmp/other.conf; exec sleep 600"])
    try:
        engine.put_file(box, "/tmp/box.conf", b"box\n", mode=0o600, uid=0, gid=0)
        wanted = {box: ["/tmp/box.conf", "/tmp/missing.conf"], other: ["/tmp/other.conf"]}
        answers = engine.read_many(wanted)
        assert answers == dict((c, engine.read_files(c, paths)) for c, paths in wanted.items())
        assert answers[box]["/tmp/box.conf"]["content"] == b"box\n" and answers[box]["/tmp/missing.conf"] is None
        assert engine.read_many({box: ["/tmp/box.conf"]})[box]["/tmp/box.conf"]["content"] == b"box\n"
    finally:
        engine.remove(other)


def test_logs_keep_the_streams_apart(engine, box):
    assert engine.logs(box, 5) == ("to-stdout\n", "to-stderr\n")


def test_run_helper_gives_the_exit_code_and_leaves_nothing(engine, image):
    name = "devenv-test-helper-%s" % uuid.uuid4().hex[:8]
    assert engine.run_helper(name, image, ["sh", "-c", "exit 5"], labels=LABELS) == 5
    assert engine.container(name) is None


def test_small_files_of_a_volume_are_read_through_a_container_never_started(engine, image):
    """What the service step reads at a data volume's root (its server record, PG_VERSION) when no container mounts
    it: through a helper that is created, never started, and removed with the anonymous volume its image's VOLUME
    makes; the named volume is left as it was."""
    volume = engine.api.create_volume(name="devenv-test-vol-%s" % uuid.uuid4().hex[:8], labels=LABELS)["Name"]
    tagged = "devenv-test-volimage:%s" % uuid.uuid4().hex[:8]
    try:
        writer = "devenv-test-writer-%s" % uuid.uuid4().hex[:8]
        engine.api.create_container(image, command=["sh", "-c", "printf 16 > /v/PG_VERSION && mkdir /v/base"],
                                    name=writer, labels=LABELS,
                                    host_config=engine.api.create_host_config(network_mode="none",
                                                                              binds=["%s:/v" % volume]))
        engine.start(writer)
        assert engine.api.wait(writer, timeout=30)["StatusCode"] == 0
        engine.remove(writer)
        # An image with a VOLUME of its own, as the upstream database images have.
        holder = _run(engine, image, ["true"])
        engine.api.commit(holder, repository=tagged.split(":")[0], tag=tagged.split(":")[1], changes=["VOLUME /data"])
        engine.remove(holder)
        before = {v["Name"] for v in engine.api.volumes().get("Volumes") or []}
        helper = "devenv-test-reader-%s" % uuid.uuid4().hex[:8]
        found = engine.volume_files(volume, ["PG_VERSION", ".devenv-server", "base"], tagged, LABELS, helper)
        assert found == {"PG_VERSION": b"16", ".devenv-server": None, "base": None}
        assert engine.container(helper) is None
        assert {v["Name"] for v in engine.api.volumes().get("Volumes") or []} == before
    finally:
        engine.api.remove_volume(volume, force=True)
        if engine.image(tagged):
            engine.api.remove_image(tagged)


def test_wait_healthy_runs_the_own_check_before_docker_does(engine, image):
    check = ["sh", "-c", "test -f /tmp/ready"]
    name = _run(engine, image, ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 600"],
                healthcheck={"test": ["CMD", *check], "interval": 300 * 10 ** 9})
    start = time.monotonic()
    assert engine.wait_healthy(name, 30, probe=check)["Name"] == "/" + name
    assert time.monotonic() - start < 15
    engine.remove(name)


def test_wait_healthy_gives_up_on_an_exited_container_and_at_the_deadline(engine, image):
    name = _run(engine, image, ["sh", "-c", "exit 1"])
    engine.api.wait(name, timeout=30)
    start = time.monotonic()
    with pytest.raises(dk.NotHealthy) as exc:
        engine.wait_healthy(name, 60)
    assert time.monotonic() - start < 5 and exc.value.info["State"]["Status"] == "exited"
    engine.remove(name)
    name = _run(engine, image, ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"])
    with pytest.raises(dk.NotHealthy) as exc:
        engine.wait_healthy(name, 2, check=lambda info: False)
    assert "did not become healthy within 2 s (state running" in str(exc.value)
    engine.remove(name)


def test_no_file_uses_community_docker_internals():
    found = subprocess.run(["grep", "-rn", "community.docker.plugins.module_utils", "plugins/"],
                           capture_output=True, text=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert found.stdout == ""
