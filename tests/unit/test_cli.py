"""The devenv command (devenv_cli/): argument parsing, exit codes, client URLs, backup verify and encryption on
real files (the live commands run in Molecule `cli`)."""

import hashlib
import io
import json
import os
import sys
from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup

# The checkout, for devenv_cli.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from devenv_cli import FAILURE, OK, USAGE, backups, clients, lifecycle
from devenv_cli import main as cli
from devenv_cli.run import CliError, Context

COMMANDS = ["up", "down", "reset", "status", "describe", "creds", "logs", "shell", "open", "backup", "restore",
            "backups", "verify", "trust", "doctor"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help_with_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == OK
    assert "exit codes: 0 ok, 1 failure, 2 bad usage, 3 not healthy" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["nosuch"], ["status", "--bogus"], ["creds"], ["up", "--profile", "huge"],
                                  ["trust", "--store", "nowhere"], ["verify"]])
def test_bad_usage_exits_2(argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == USAGE


def test_parsing():
    parser = cli.build_parser()
    args = parser.parse_args(["-i", "a.yml", "-i", "b.yml", "up", "--profile", "full", "mysql", "mongodb"])
    assert args.inventory == ["a.yml", "b.yml"] and args.profile == "full" and args.components == ["mysql", "mongodb"]
    args = parser.parse_args(["shell", "postgres", "--", "-c", "select 1"])
    assert args.component == "postgres" and args.client_args == ["-c", "select 1"] and not args.raw
    args = parser.parse_args(["status", "--watch", "--interval", "2"])
    assert args.watch and args.interval == 2 and not args.json
    args = parser.parse_args(["backup", "--encrypt", "--passphrase-file", "-"])
    assert args.encrypt and args.passphrase_file == "-"


def _ctx(plan):
    ctx = Context()
    ctx._plan = plan
    return ctx


def test_up_components_enable_on_top_of_the_inventory_overrides_and_unknown_ones_are_bad_usage():
    ctx = _ctx({"plan": {"mysql": {}, "postgres": {}}, "overrides": {"postgres": {"ports": {"postgres": {"host": 1}}}}})
    assert lifecycle._enable(ctx, ["mysql"]) == {"postgres": {"ports": {"postgres": {"host": 1}}},
                                                 "mysql": {"enabled": True}}
    with pytest.raises(CliError) as exc:
        lifecycle._enable(ctx, ["mysql", "nosuch"])
    assert exc.value.code == USAGE and "nosuch" in str(exc.value)


def test_the_summary_is_read_from_the_run_output():
    output = "\n".join([
        "TASK [colima_services.devenv.devenv : Show what runs and what was skipped] *****",
        "ok: [localhost] => ",
        "    msg: |-",
        "        component  status    address",
        "        vault      deployed  https://vault.localhost, api 127.0.0.1:8200",
        "",
        "PLAY RECAP *********************************************************************",
        "localhost                  : ok=3    changed=2    unreachable=0    failed=0    skipped=0"])
    assert lifecycle._summary(output) == ["component  status    address",
                                          "vault      deployed  https://vault.localhost, api 127.0.0.1:8200"]
    from devenv_cli.run import recap
    assert recap(output) == (2, 0)


def test_urls_quote_the_credentials_and_verify_the_server():
    secret = {"username": "dev_admin", "password": "p@ss:w/rd?", "database": "dev_database"}
    link = clients.url("postgres", "localhost", 5432, secret, "/home/u/.config/vault/ca/root-ca.pem")
    parts = urlsplit(link)
    assert parts.scheme == "postgresql" and parts.hostname == "localhost" and parts.port == 5432
    assert unquote(parts.password) == "p@ss:w/rd?" and parts.username == "dev_admin" and parts.path == "/dev_database"
    assert "sslmode=verify-full" in parts.query and "sslrootcert=/home/u/.config/vault/ca/root-ca.pem" in parts.query
    assert clients.url("tls", "localhost", 6390, {"password": "x"}, "/ca.pem").startswith("rediss://:x@localhost:6390")
    assert clients.url("api", "localhost", 8200, {"password": "x"}, "/ca.pem") == "http://localhost:8200"
    assert clients.url("metrics", "localhost", 1, {}, "/ca.pem") is None


def test_shell_uses_the_client_of_the_first_port_that_has_one():
    argv = clients.shell_argv({"postgres": {}}, {"username": "dev_admin", "database": "dev_database"})
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["dev_admin", "dev_database"]
    assert "redis-cli -c" in clients.shell_argv({"redis": {}, "tls": {}}, {})[2]
    assert clients.shell_argv({"docker": {}}, {}) == ["sh"]


# ---- backups on real files ----------------------------------------------------------------------------------
def _backup_dir(tmp_path):
    directory = tmp_path / "20260101T000000Z"
    (directory / "postgres").mkdir(parents=True)
    data = b"PGDMP" + os.urandom(4096)
    (directory / "postgres" / "dev_database.dump").write_bytes(data)
    artefacts = [{"component": "postgres", "method": "pg_dump", "file": "postgres/dev_database.dump",
                  "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]
    (directory / "manifest.json").write_text(json.dumps(_backup.manifest("2026-01-01T00:00:00Z", "t", "0.2.0",
                                                                         artefacts)))
    return directory


def test_verify_accepts_a_backup_and_refuses_an_altered_or_foreign_one(tmp_path, capsys):
    directory = _backup_dir(tmp_path)
    assert cli.main(["verify", str(directory)]) == OK
    dump = directory / "postgres" / "dev_database.dump"
    data = bytearray(dump.read_bytes())
    data[100] ^= 0xFF
    dump.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli.main(["verify", str(directory), "--json"]) == FAILURE
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and "postgres/dev_database.dump does not match its sha256" in doc["problems"][0]
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps(dict(manifest, format="2.0")))
    assert cli.main(["verify", str(directory)]) == FAILURE
    (directory / "manifest.json").unlink()
    assert cli.main(["verify", str(directory)]) == FAILURE
    assert cli.main(["verify", str(tmp_path / "nothing-here")]) == USAGE


def test_an_encrypted_backup_opens_only_with_its_passphrase(tmp_path, capsys, monkeypatch):
    directory = _backup_dir(tmp_path)
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text("correct horse battery staple\n")
    wrong.write_text("not the passphrase at all\n")
    sealed = backups.encrypt_dir(str(directory), "correct horse battery staple")
    assert sealed.endswith(".tar.age") and not directory.exists()
    assert oct(os.stat(sealed).st_mode & 0o777) == "0o600"
    with open(sealed, "rb") as handle:
        blob = handle.read()
    assert blob.startswith(b"age-encryption.org/v1") and b"PGDMP" not in blob
    assert cli.main(["verify", sealed, "--passphrase-file", str(right)]) == OK
    capsys.readouterr()
    assert cli.main(["verify", sealed, "--passphrase-file", str(wrong)]) == FAILURE
    assert "does not open with this passphrase" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery staple\n"))
    assert cli.main(["verify", sealed, "--passphrase-file", "-"]) == OK
    # No terminal and no passphrase file: bad usage, never a passphrase from argv or the environment.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["verify", sealed]) == USAGE
    # Nothing decrypted is left beside it.
    assert sorted(os.listdir(tmp_path)) == sorted(["right", "wrong", os.path.basename(sealed)])


def test_a_short_passphrase_is_refused(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc\n")

    class Args:
        passphrase_file = str(short)

    with pytest.raises(CliError) as exc:
        backups.passphrase(Args())
    assert exc.value.code == USAGE


def test_a_missing_ansible_playbook_is_a_message_not_a_traceback(monkeypatch, capsys):
    from devenv_cli import run
    monkeypatch.setattr(run, "tool", lambda name: "/nonexistent/ansible-playbook")
    assert cli.main(["describe"]) == FAILURE
    err = capsys.readouterr().err
    assert "Cannot run /nonexistent/ansible-playbook" in err and "pip install -r requirements.txt" in err
