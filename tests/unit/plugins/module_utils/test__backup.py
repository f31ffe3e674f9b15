"""Backup methods mongodump and volume_tar, and Vault's storage decision: the pure logic (module_utils/_backup.py)
and the pymongo script's own helpers (module_utils/_mongo_dump.py)."""

import io
import os
import subprocess
import tarfile

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils import _mongo_dump as md


def test_vault_storage_decides_only_on_evidence():
    assert bk.vault_storage(200, '{"data": {"config": {"servers": []}}}') == "raft"
    # HashiCorp Vault on file storage (roles/vault server.hcl.j2, flavor vault) answers this 400.
    assert bk.vault_storage(400, '{"errors":["raft storage is not in use"]}') == "file"
    for status, body in ((503, '{"errors":["Vault is sealed"]}'), (403, '{"errors":["permission denied"]}'),
                         (400, '{"errors":["something else"]}'), (404, "")):
        with pytest.raises(ValueError, match="cannot tell its storage"):
            bk.vault_storage(status, body)


def test_volume_mounts_from_inspect():
    info = {"Mounts": [
        {"Type": "bind", "Source": "/etc/x", "Destination": "/etc/x"},
        {"Type": "volume", "Name": "mol_ops_alertmanager_data", "Destination": "/alertmanager"},
        {"Type": "volume", "Name": "0123abcd", "Destination": "/tmp/anon"},
        {"Type": "tmpfs", "Destination": "/run"}]}
    assert bk.volume_mounts(info, "mol_ops_") == [
        {"volume": "mol_ops_alertmanager_data", "name": "alertmanager_data", "path": "/alertmanager"},
        {"volume": "0123abcd", "name": "0123abcd", "path": "/tmp/anon"}]
    assert bk.volume_mounts({}, "x") == []
    assert bk.artefact_name("grafana", "volume_tar", "grafana_data") == "grafana/grafana_data.tar"
    assert bk.artefact_name("mongodb", "mongodump") == "mongodb/mongodb.tar"


def test_tar_members_must_stay_in_their_directory():
    assert bk.tar_problem(["alertmanager", "alertmanager/silences", "./alertmanager/nflog"], "alertmanager") is None
    assert "not inside alertmanager/" in bk.tar_problem(["alertmanager/../etc/passwd"], "alertmanager")
    assert "not inside dump/" in bk.tar_problem(["dump/a.bson", "/etc/passwd"], "dump")
    assert "not inside dump/" in bk.tar_problem(["other/a.bson"], "dump")


def test_empty_dir_removes_hidden_files_and_checks(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a", ".hidden", "..two", "sub/b"):
        (tmp_path / name).write_text("x")
    subprocess.run([*bk.EMPTY_DIR, str(tmp_path)], check=True)
    assert list(tmp_path.iterdir()) == []
    subprocess.run([*bk.EMPTY_DIR, str(tmp_path)], check=True)  # already empty: fine
    assert subprocess.run([*bk.EMPTY_DIR, str(tmp_path / "missing")], stderr=subprocess.DEVNULL).returncode != 0


def test_mongo_commands_carry_no_password():
    assert bk.mongo_tool("python\n") == "python"
    assert bk.mongo_tool("mongodump") == "mongodump"
    with pytest.raises(ValueError, match="neither mongodump"):
        bk.mongo_tool("none")
    assert bk.mongo_dump("python", "dev_user") == ["python3", bk.MONGO_SCRIPT, "dump", "dev_user", bk.MONGO_DUMP_DIR,
                                                   bk.CLIENT_FILES["mongodb"]]
    assert bk.mongo_restore("python", "dev_user")[2] == "restore"
    for argv in (bk.mongo_dump("mongodump", "dev_user"), bk.mongo_restore("mongodump", "dev_user")):
        script = argv[2]
        # The password goes from the container's 0600 file into a 0600 config file, never onto a command line.
        assert "umask 077" in script and '--config "$conf"' in script and "--password" not in script
        assert argv[3:] == ["sh", "dev_user", bk.MONGO_DUMP_DIR]
    assert "--drop" in bk.mongo_restore("mongodump", "u")[2]
    assert "--nsExclude='admin.*'" in bk.mongo_restore("mongodump", "u")[2]
    assert 'rm -rf "$2/$db"' in bk.mongo_dump("mongodump", "u")[2]


def test_mongo_tools_config_file_is_quoted_yaml(tmp_path):
    """The shell prologue writes `password: "<file content>"` with mode 0600 (run here against a fake file)."""
    script = bk._MONGO_TOOLS_CONF.replace(bk.WORK_DIR, str(tmp_path))
    (tmp_path / "mongodb-password").write_text("0123456789\n")
    subprocess.run(["/bin/sh", "-c", script], check=True, env=bk.conf_env({"conf_dir": str(tmp_path)}))
    conf = tmp_path / "mongo-tools.yaml"
    assert conf.read_text() == 'password: "0123456789"\n'
    assert conf.stat().st_mode & 0o777 == 0o600


def test_restore_order_puts_vault_first_whatever_its_method():
    arts = [{"component": "mongodb", "method": "mongodump"}, {"component": "vault", "method": "volume_tar"},
            {"component": "alertmanager", "method": "volume_tar"}]
    assert [a["component"] for a in bk.restore_order(arts, ["vault"])] == ["vault", "mongodb", "alertmanager"]
    # What goes first is what the registry says is the Vault server, not the name "vault".
    assert [a["component"] for a in bk.restore_order(arts, ["mongodb"])] == ["mongodb", "vault", "alertmanager"]


def test_mongo_script_helpers():
    bson = pytest.importorskip("bson")
    from bson import json_util
    docs = [bson.encode({"v": "before", "n": 1}), bson.encode({"v": "x" * 300})]
    assert list(md.bson_documents(io.BytesIO(b"".join(docs)))) == docs
    with pytest.raises(ValueError, match="truncated"):
        list(md.bson_documents(io.BytesIO(docs[0][:-3])))
    # Metadata as the script writes it (canonical extended JSON), read back as the restore reads it.
    meta = json_util.loads(json_util.dumps({
        "collectionName": "c", "type": "collection", "options": {"capped": True, "size": 4096},
        "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    {"v": 2, "key": {"b": 1, "a": -1}, "name": "b_1_a_-1", "unique": True}]},
        json_options=json_util.CANONICAL_JSON_OPTIONS))
    assert md.index_specs(meta) == [([("b", 1), ("a", -1)], {"name": "b_1_a_-1", "unique": True})]
    assert md.collection_options(meta) == {"capped": True, "size": 4096}
    assert md.SKIP == bk.MONGO_SKIP


def test_mongo_script_usage():
    assert md.main(["x"]) == 2


def test_tar_of_a_volume_round_trips_through_the_check(tmp_path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in ("alertmanager", "alertmanager/silences"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE if "/" not in name else tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(b""))
    data.seek(0)
    with tarfile.open(fileobj=data, mode="r:") as tar:
        assert bk.tar_problem(tar.getnames(), "alertmanager") is None


@pytest.mark.parametrize("tls", [True, False])
def test_mongodump_and_mongorestore_invocations(tmp_path, tls):
    """The upstream image's path, with stand-ins for the tools that record what they were given: the password only in
    the 0600 --config file (removed afterwards), TLS with the container's CA when it has one, the server's own
    databases removed from the dump and excluded from the restore."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("mongodump", "mongorestore"):
        (fake / tool).write_text('#!/bin/sh\necho "$*" > "%s/%s.args"\n'
                                 'while [ $# -gt 0 ]; do [ "$1" = --config ] && cp "$2" "%s/%s.conf"; '
                                 '[ "$1" = --out ] && mkdir -p "$2/admin" "$2/local" "$2/app"; shift; done\n'
                                 % (tmp_path, tool, tmp_path, tool))
        (fake / tool).chmod(0o755)
    work, conf = tmp_path / "work", tmp_path / "etc"
    work.mkdir()
    conf.mkdir()
    (conf / "mongodb-password").write_text("S3cretPassw0rd\n")
    if tls:
        (conf / "mongodb-ca.crt").write_text("ca")
    env = dict(bk.conf_env({"conf_dir": str(conf)}), PATH="%s:/usr/bin:/bin" % fake)
    for argv in (bk.mongo_dump("mongodump", "dev_user"), bk.mongo_restore("mongodump", "dev_user")):
        argv = [a.replace(bk.WORK_DIR, str(work)) for a in argv]
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    for tool in ("mongodump", "mongorestore"):
        args = (tmp_path / (tool + ".args")).read_text()
        assert "S3cretPassw0rd" not in args and "--username dev_user --authenticationDatabase admin" in args
        assert ("--tls --tlsCAFile=%s/mongodb-ca.crt" % conf in args) == tls
        assert (tmp_path / (tool + ".conf")).read_text() == 'password: "S3cretPassw0rd"\n'
    assert "--drop" in (tmp_path / "mongorestore.args").read_text()
    assert "--nsExclude=admin.*" in (tmp_path / "mongorestore.args").read_text()
    assert sorted(p.name for p in (work / "dump").iterdir()) == ["app"]
    assert not (work / "mongo-tools.yaml").exists()


def test_the_pymongo_script_reads_the_directory_the_commands_are_given():
    # _mongo_dump.py runs alone in the container (it cannot import _backup): the same variable, written twice.
    from ansible_collections.colima_services.devenv.plugins.module_utils import _mongo_dump as md

    assert md.CONF_ENV == bk.CONF_ENV and bk.conf_env({"conf_dir": "/etc/x"}) == {bk.CONF_ENV: "/etc/x"}
    commands = (bk.REDIS_BGSAVE, bk.mysql_list(), bk.mongo_dump("mongodump", "u"))
    assert all("/usr/local/etc" not in part for argv in commands for part in argv)


def test_the_client_files_are_named_once_and_the_roles_take_them_from_there():
    """The roles write the client files under the names _backup reads (the client_file filter), never typing them."""
    from ansible_collections.colima_services.devenv.plugins.filter.service import client_file

    assert {c: client_file(c) for c in bk.CLIENT_FILES} == bk.CLIENT_FILES
    root = os.path.join(os.path.dirname(__file__), *[".."] * 4, "roles")
    for dirpath, _, files in os.walk(root):
        for name in files:
            text = open(os.path.join(dirpath, name)).read()
            for typed in bk.CLIENT_FILES.values():
                assert "/" + typed not in text and "'%s'" % typed not in text and '"%s"' % typed not in text, (
                    "%s types %s: use the client_file filter" % (os.path.join(dirpath, name), typed))
