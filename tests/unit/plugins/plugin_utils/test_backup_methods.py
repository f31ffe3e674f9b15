"""plugins/plugin_utils/_backup_methods.py: the method table, and restores that fail for real against real
containers (a truncated pg_dump artefact, an archive upload Docker refuses, a container stopped after the checks):
the component's data must be as it was before.

The container tests are skipped when no engine answers or the local images are missing (playbooks/images.yml)."""

import io
import os
import shutil
import tarfile
import time
import uuid

import pytest

from ansible_collections.colima_services.devenv.plugins.plugin_utils import _backup_methods as bm
from conftest import docker_engine

PREFIX = "devenv-test-bk-%s-" % uuid.uuid4().hex[:6]
# This run's own label: a teardown removes what carries it, never what another test run (in parallel) made.
LABELS = {"io.colima-services.test": PREFIX + "backup-methods"}
SETTINGS = {"docker_host": "unix:///var/run/docker.sock", "api_version": "1.41", "container_prefix": PREFIX,
            "health_timeout": 60, "labels": LABELS, "conf_dir": "/usr/local/etc"}


# PID 1 of a container gets no default signal handler: a bare `sleep` would sit out every stop's whole timeout.
SLEEPER = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]


class _Answer(io.BytesIO):
    def getcode(self):
        return 200


def _vault_backup(monkeypatch, tmp_path, raft_answer):
    """The raft_snapshot method with Vault's HTTP answers faked: which way did it go?"""
    from urllib.error import HTTPError

    def fake_open_url(url, **_kwargs):
        if "/v1/sys/health" in url:
            return _Answer(b'{"sealed": false, "version": "1.18.5"}')
        if url.endswith("/v1/sys/storage/raft/configuration"):
            if raft_answer is None:
                return _Answer(b'{"data": {}}')
            return_code, body = raft_answer
            raise HTTPError(url, return_code, "error", {}, io.BytesIO(body))
        if url.endswith("/v1/sys/storage/raft/snapshot"):
            return _Answer(b"snapshot")
        raise AssertionError(url)

    monkeypatch.setattr(bm, "open_url", fake_open_url)
    session = bm.Session(None, {}, {}, "http://127.0.0.1:8200", str(tmp_path))
    (tmp_path / "root-token").write_text("t")
    info = {"Id": "x", "Name": "/dev-vault", "Config": {"Image": "hashicorp/vault:1.18.5"}}
    volumes = []
    monkeypatch.setattr(bm.VolumeTar, "backup", lambda self, s, component, i, out, **extra: volumes.append(extra))
    out = bm.Artefacts(str(tmp_path / "out"))
    bm.RaftSnapshot().backup(session, "vault", info, out)
    return out.entries, volumes


def test_vault_backup_falls_back_to_its_volume_on_file_storage(monkeypatch, tmp_path):
    out, volumes = _vault_backup(monkeypatch, tmp_path, (400, b'{"errors":["raft storage is not in use"]}'))
    assert out == [] and volumes == [{"storage": "file", "versions": {"image": "hashicorp/vault:1.18.5",
                                                                      "server": "1.18.5"}}]
    out, volumes = _vault_backup(monkeypatch, tmp_path, None)
    assert volumes == [] and [a["method"] for a in out] == ["raft_snapshot"] and out[0]["file"] == "vault/vault.snap"
    assert (tmp_path / "out" / "vault" / "vault.snap").read_bytes() == b"snapshot"
    with pytest.raises(bm.Fail, match="cannot tell its storage"):
        _vault_backup(monkeypatch, tmp_path, (403, b'{"errors":["permission denied"]}'))


def test_unknown_method_is_an_error_not_a_skip():
    session = bm.Session(None, {"container_prefix": "x-"}, {}, "", "")
    with pytest.raises(bm.Fail, match=r"x: unknown backup method 'tarball' in the registry \(devenv_components.x"):
        bm.backup_component(session, "x", "tarball", bm.Artefacts("/nonexistent"))
    with pytest.raises(bm.Fail, match="unknown backup method 'tarball' in the manifest"):
        bm.check_item(session, {"component": "x", "method": "tarball", "file": "x/x"}, "/nonexistent")
    # Every method of the registry's list has its class; vault_keys only comes from a manifest.
    assert sorted(bm.METHODS) == sorted((*bm.bk.METHODS, "vault_keys"))
    with pytest.raises(bm.Fail):
        bm.method("x", "vault_keys", "the registry")


# ---- real containers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine():
    yield from docker_engine(LABELS)


def _image(engine, repo):
    tags = sorted(t for i in engine.api.images(name=repo) for t in i.get("RepoTags") or [])
    if not tags:
        pytest.skip("no %s image: build it with playbooks/images.yml" % repo)
    return tags[-1]


def _start(engine, image, component, command, path):
    """A container <PREFIX><component> running command, with a fresh named volume at path."""
    volume = engine.api.create_volume(name=PREFIX + component, labels=LABELS)["Name"]
    engine.api.create_container(image, command=command, name=PREFIX + component, labels=LABELS, volumes=[path],
                                host_config=engine.api.create_host_config(network_mode="none",
                                                                          binds=["%s:%s" % (volume, path)]))
    engine.start(PREFIX + component)
    return PREFIX + component


def _sh(engine, name, script, user=""):
    return engine.exec_ok(name, ["/bin/sh", "-c", script], "a test step", user=user, timeout=120).decode()


@pytest.fixture(scope="module")
def session(engine):
    return bm.Session(engine, SETTINGS, {"pg": {"vault": {"data": {"username": "dev_admin"}}}}, "", "")


@pytest.fixture(scope="module")
def postgres(engine):
    image = _image(engine, "devenv/postgres")
    name = _start(engine, image, "pg", ["/bin/sh", "-c",
                                        "/usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/data -U dev_admin "
                                        "--auth=trust >/dev/null && exec /usr/lib/postgresql/15/bin/postgres -D "
                                        "/var/lib/postgresql/data -c listen_addresses= -k /var/run/postgresql"],
                  "/var/lib/postgresql/data")
    deadline = time.monotonic() + 180
    while engine.exec_run(name, ["pg_isready", "-h", "/var/run/postgresql"], "pg_isready", timeout=30)[0] != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not start"
        time.sleep(1)
    _sh(engine, name, "psql -h /var/run/postgresql -U dev_admin -d postgres -qc 'CREATE DATABASE dev_database' && "
                      "psql -h /var/run/postgresql -U dev_admin -d dev_database -qc "
                      "\"CREATE TABLE t (v text); INSERT INTO t VALUES ('before')\"")
    yield name
    engine.remove(name)


def _pg(engine, name, sql, db="dev_database"):
    return _sh(engine, name, 'psql -h /var/run/postgresql -U dev_admin -d %s -Atc "%s"' % (db, sql)).split()


def test_pg_restore_that_fails_leaves_the_database_as_it_was(engine, session, postgres, tmp_path):
    out = bm.Artefacts(str(tmp_path / "backup"))
    bm.backup_component(session, "pg", "pg_dump", out)
    (item,) = out.entries
    assert item["file"] == "pg/dev_database.dump" and item["size"] > 0
    _pg(engine, postgres, "INSERT INTO t VALUES ('after')")
    # A truncated artefact: pg_restore itself fails, half way (the table of contents reads, the data does not).
    broken = tmp_path / "broken"
    os.makedirs(str(broken / "pg"))
    data = (tmp_path / "backup" / item["file"]).read_bytes()
    (broken / item["file"]).write_bytes(data[:len(data) - 40])
    with pytest.raises(bm.Fail, match=r"pg_restore of dev_database into a new database failed .*left as it was"):
        bm.restore_item(session, item, str(broken), str(tmp_path))
    assert _pg(engine, postgres, "SELECT v FROM t ORDER BY v") == ["after", "before"]
    assert _pg(engine, postgres, "SELECT datname FROM pg_database WHERE datname LIKE 'dev_database%' ORDER BY 1",
               "postgres") == ["dev_database"]
    # The good artefact, with a session open on the live database: it is replaced, nothing is left beside it.
    engine.api.exec_start(engine.api.exec_create(postgres, ["psql", "-h", "/var/run/postgresql", "-U", "dev_admin",
                                                            "-d", "dev_database", "-c", "SELECT pg_sleep(300)"])["Id"],
                          detach=True)
    bm.restore_item(session, item, str(tmp_path / "backup"), str(tmp_path))
    assert _pg(engine, postgres, "SELECT v FROM t ORDER BY v") == ["before"]
    assert _pg(engine, postgres, "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname "
                                 "LIKE 'dev_database%'", "postgres") == ["dev_database:dev_admin"]
    assert os.listdir(str(tmp_path / "backup" / "pg")) == ["dev_database.dump"]


@pytest.fixture
def box(engine):
    name = _start(engine, _image(engine, "devenv/base"), "box", SLEEPER, "/data")
    _sh(engine, name, "echo before > /data/kept && mkdir /data/sub && echo x > /data/sub/file")
    yield name
    engine.remove(name)
    engine.api.remove_volume(name, force=True)


def _listing(engine, name):
    return _sh(engine, name, "cd /data && find . | sort && cat kept").split()


def _with_member(source, target, member):
    """A copy of the tar at source with one more member appended."""
    shutil.copy(source, target)
    with tarfile.open(target, "a") as tar:
        tar.addfile(member)


def test_volume_restore_rolls_back_when_the_upload_fails(engine, session, box, tmp_path):
    out = bm.Artefacts(str(tmp_path / "backup"))
    bm.backup_component(session, "box", "volume_tar", out)
    (item,) = out.entries
    assert (item["file"], item["path"]) == ("box/%s.tar" % box, "/data")
    assert engine.container(box)["State"]["Running"]  # started again after the copy
    _sh(engine, box, "echo after > /data/kept && touch /data/written-after")
    before = _listing(engine, box)
    # Docker refuses the upload half way, after the volume was emptied: a hard link to a file the tar does not hold.
    os.makedirs(str(tmp_path / "broken" / "box"))
    link = tarfile.TarInfo("data/link")
    link.type, link.linkname = tarfile.LNKTYPE, "data/not-in-the-tar"
    _with_member(str(tmp_path / "backup" / item["file"]), str(tmp_path / "broken" / item["file"]), link)
    bm.check_item(session, item, str(tmp_path / "broken"))  # its names pass the checks: the failure is Docker's
    with pytest.raises(bm.Fail, match="it was rolled back to its state from before the restore"):
        bm.restore_item(session, item, str(tmp_path / "broken"), str(tmp_path))
    assert engine.container(box)["State"]["Running"]
    assert _listing(engine, box) == before
    assert sorted(os.listdir(str(tmp_path))) == ["backup", "broken"]  # the rollback copy is gone
    # And the good one: exactly the backup's files.
    bm.restore_item(session, item, str(tmp_path / "backup"), str(tmp_path))
    assert _listing(engine, box) == [".", "./kept", "./sub", "./sub/file", "before"]


def test_a_container_stopped_after_the_checks_is_left_as_it_was(engine, session, box, tmp_path):
    out = bm.Artefacts(str(tmp_path / "backup"))
    bm.backup_component(session, "box", "volume_tar", out)
    (item,) = out.entries
    _sh(engine, box, "touch /data/written-after")
    before = _listing(engine, box)
    bm.check_item(session, item, str(tmp_path / "backup"))
    engine.stop(box, timeout=1)
    with pytest.raises(bm.Fail, match="container %s is exited" % box):
        bm.restore_item(session, item, str(tmp_path / "backup"), str(tmp_path))
    with pytest.raises(bm.Fail, match="container %s is exited" % box):
        bm.check_item(session, item, str(tmp_path / "backup"))
    engine.start(box)
    assert _listing(engine, box) == before


def _action(name, args):
    """The backup or restore action as Ansible runs it, with its task's arguments."""
    from types import SimpleNamespace

    from ansible_collections.colima_services.devenv.plugins.action import backup, restore
    module = {"backup": backup, "restore": restore}[name].ActionModule.__new__(
        {"backup": backup, "restore": restore}[name].ActionModule)
    module._task = SimpleNamespace(args=args, check_mode=False, async_val=0, action=name, diff=False)
    module._connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/nonexistent"))
    module._display = SimpleNamespace(warning=lambda *a: None, deprecated=lambda *a, **k: None, vvvv=lambda *a: None)
    return module.run(task_vars={})


def test_a_backup_that_fails_part_way_leaves_nothing_behind(engine, box, tmp_path):
    plan = {"box": {"backup": {"method": "volume_tar"}}, "ghost": {"backup": {"method": "volume_tar"}}}
    result = _action("backup", {"plan": plan, "settings": SETTINGS, "dest": str(tmp_path / "b")})
    assert result.get("failed") and "ghost: container %sghost is missing" % PREFIX in result["msg"]
    assert os.listdir(str(tmp_path / "b")) == []  # box's artefact was written, then removed with the .part directory
    assert "nothing of it was kept" in result["msg"]
    assert engine.container(box)["State"]["Running"]  # stopped for the copy, started again
    # Without the ghost: complete; a second backup with keep 1 removes the first.
    plan.pop("ghost")
    first = _action("backup", {"plan": plan, "settings": SETTINGS, "dest": str(tmp_path / "b"), "keep": 1})
    second = _action("backup", {"plan": plan, "settings": SETTINGS, "dest": str(tmp_path / "b"), "keep": 1})
    assert not first.get("failed") and not second.get("failed") and first["dir"] != second["dir"]
    assert second["pruned"] == [os.path.basename(first["dir"])]
    assert os.listdir(str(tmp_path / "b")) == [os.path.basename(second["dir"])]
