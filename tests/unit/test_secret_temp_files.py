"""Temp files that hold secrets (issue 22, item 17): private (0600), never a fixed name, and gone however the
step that reads them ends. The PostgreSQL entrypoint's initialisation block runs here for real (sh, with a stand-in
initdb that records what it was given and fails, as a full disk or a bad locale would)."""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "roles", "postgres", "templates", "devenv-postgres.sh.j2")


def init_block():
    """The template's `if [ ! -s "$PGDATA/PG_VERSION" ]` block, rendered with the default (empty) locale."""
    with open(TEMPLATE) as handle:
        text = handle.read()
    match = re.search(r'^if \[ ! -s "\$PGDATA/PG_VERSION" \]; then\n.*?^fi\n', text, re.S | re.M)
    assert match, "the initialisation block moved: update this test"
    return match.group(0).replace("{{ postgres_locale | quote }}", "''")


@pytest.mark.parametrize("initdb_rc", [0, 1])
def test_the_initdb_password_file_is_private_and_never_left_behind(tmp_path, initdb_rc):
    conf, bin_dir, tmp, shared_tmp = tmp_path / "conf", tmp_path / "bin", tmp_path / "tmp", tmp_path / "shared"
    for d in (conf, bin_dir, tmp, shared_tmp):
        d.mkdir()
    (conf / "postgres-admin.env").write_text("admin_user=dev_admin\nadmin_password=s3cret-initdb\n")
    seen = tmp_path / "seen"
    (bin_dir / "initdb").write_text(
        "#!/bin/sh\nfor a in \"$@\"; do case $a in --pwfile=*) f=${a#--pwfile=};; esac; done\n"
        "stat -c '%%a %%s' \"$f\" > %s; echo \"$f\" >> %s\nexit %d\n" % (seen, seen, initdb_rc))
    (bin_dir / "initdb").chmod(0o755)
    script = "set -eu\numask 022\nconf=%s\nadmin=dev_admin\nPGDATA=%s\n%s" % (conf, tmp_path / "data", init_block())
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), TMPDIR=str(tmp))
    proc = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, cwd=str(shared_tmp))
    assert proc.returncode == initdb_rc, proc.stderr
    mode_size, path = seen.read_text().splitlines()
    assert mode_size == "600 %d" % len("s3cret-initdb\n")
    assert os.path.dirname(path) == str(tmp) and os.path.basename(path) != ".pwfile"
    assert os.listdir(tmp) == [], "the password file stayed behind"
