"""backup, restore, backups, verify: playbooks/backup.yml and restore.yml, the manifest's checks of
module_utils/_backup.py, and optional encryption at rest with age (pyrage, a passphrase: never on argv)."""

import getpass
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

from devenv_cli import FAILURE, OK, USAGE
from devenv_cli.run import CliError, emit_json, failure_tail, playbook

SUFFIX = ".tar.age"


def _backup_lib():
    from ansible_collections.colima_services.devenv.plugins.module_utils import _backup
    return _backup


# ---- the passphrase ------------------------------------------------------------------------------------------
def passphrase(args, confirm=False):
    """From --passphrase-file (a file, or - for stdin), else asked at the terminal. Never from argv or env."""
    source = getattr(args, "passphrase_file", None)
    if source == "-":
        value = sys.stdin.readline().rstrip("\n")
    elif source:
        try:
            with open(source) as handle:
                value = handle.readline().rstrip("\n")
        except OSError as exc:
            raise CliError("Cannot read the passphrase file %s: %s" % (source, exc.strerror), USAGE) from exc
    elif sys.stdin.isatty():
        value = getpass.getpass("Backup passphrase: ")
        if confirm and getpass.getpass("Again: ") != value:
            raise CliError("The passphrases differ; nothing was encrypted", USAGE)
    else:
        raise CliError("An encrypted backup needs its passphrase: --passphrase-file FILE (or - for stdin), or run "
                       "it in a terminal to be asked", USAGE)
    if len(value) < 12:
        raise CliError("The passphrase is shorter than 12 characters; choose a longer one", USAGE)
    return value


# ---- encryption ----------------------------------------------------------------------------------------------
def _age():
    try:
        import pyrage
    except ImportError as exc:
        raise CliError("Encryption needs pyrage: pip install -r requirements.txt -c constraints.txt") from exc
    return pyrage


def _write_private(path, data):
    """0600, written under a temporary name and renamed."""
    tmp = path + ".part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def encrypt_dir(directory, secret):
    """<directory>.tar.age (age, scrypt passphrase), then the plain directory is removed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(directory, arcname=os.path.basename(directory.rstrip("/")))
    out = directory.rstrip("/") + SUFFIX
    _write_private(out, _age().passphrase.encrypt(buffer.getvalue(), secret))
    shutil.rmtree(directory)
    return out


def decrypt_to(path, secret, into):
    """The backup directory of an encrypted backup, unpacked under into (a 0700 directory)."""
    age = _age()
    with open(path, "rb") as handle:
        blob = handle.read()
    try:
        plain = age.passphrase.decrypt(blob, secret)
    except age.DecryptError:
        raise CliError("%s does not open with this passphrase (wrong passphrase, or not an age file)" % path) from None
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not (m.isfile() or m.isdir()) or os.path.isabs(m.name)
               or ".." in m.name.split("/")]
        tops = set(m.name.split("/")[0] for m in members)
        if bad or len(tops) != 1:
            raise CliError("%s holds an unexpected layout (%s); nothing was restored"
                           % (path, ", ".join(bad[:3]) or "not one directory"))
        tar.extractall(into, members=members, filter="data")
    return os.path.join(into, tops.pop())


# ---- verify --------------------------------------------------------------------------------------------------
def check_dir(directory):
    """(manifest or None, problems): the checks a restore makes before it changes anything."""
    lib = _backup_lib()
    try:
        with open(os.path.join(directory, lib.MANIFEST)) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        return None, ["%s has no readable %s (%s): not a backup made by devenv backup" % (directory, lib.MANIFEST,
                                                                                          exc)]
    files = set()
    for base, _, names in os.walk(directory):
        for name in names:
            files.add(os.path.relpath(os.path.join(base, name), directory).replace(os.sep, "/"))
    from ansible_collections.colima_services.devenv.plugins.module_utils._files import sha256_file
    return manifest, lib.check_manifest(manifest, files, lambda rel: sha256_file(os.path.join(directory, rel)))


class Opened:
    """A backup given by the user, as a directory: as is, or decrypted into a 0700 scratch directory (removed)."""

    def __init__(self, ctx, path, args):
        self.path, self.args, self.ctx, self.scratch = os.path.abspath(os.path.expanduser(path)), args, ctx, None

    def __enter__(self):
        if os.path.isdir(self.path):
            return self.path
        if not os.path.isfile(self.path):
            raise CliError("No backup at %s (list them: devenv backups)" % self.path, USAGE)
        secret = passphrase(self.args)
        parent = os.path.dirname(self.path)
        self.scratch = tempfile.mkdtemp(prefix=".open-", dir=parent if os.access(parent, os.W_OK) else None)
        try:
            return decrypt_to(self.path, secret, self.scratch)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def verify(ctx, args):
    with Opened(ctx, args.backup, args) as directory:
        manifest, problems = check_dir(directory)
    doc = {"backup": args.backup, "ok": not problems, "problems": problems,
           "artefacts": len((manifest or {}).get("artefacts") or []), "format": (manifest or {}).get("format")}
    if args.json:
        emit_json(doc)
    elif problems:
        print("NOT OK %s:\n  %s" % (args.backup, "\n  ".join(problems)))
    else:
        print("ok %s: format %s, %d artefacts, every sha256 matches" % (args.backup, doc["format"], doc["artefacts"]))
    return OK if not problems else FAILURE


# ---- backup, restore, list -----------------------------------------------------------------------------------
def _entries(directory):
    try:
        return set(os.listdir(directory))
    except OSError:
        return set()


def backup(ctx, args):
    root = ctx.plan()["backup_dir"]
    secret = passphrase(args, confirm=True) if args.encrypt else None
    before = _entries(root)
    rc, output = playbook(ctx, "backup.yml", {"devenv_backup_vault_keys": True} if args.vault_keys else None)
    if rc != 0:
        print(failure_tail(output), file=sys.stderr)
        raise CliError("devenv backup failed (exit %s); a backup without manifest.json is incomplete" % rc)
    made = sorted(n for n in _entries(root) - before if os.path.isfile(os.path.join(root, n, "manifest.json")))
    if not made:
        raise CliError("backup.yml ran but no new backup appeared in %s" % root)
    path = os.path.join(root, made[-1])
    if secret:
        path = encrypt_dir(path, secret)
    print(path)
    return OK


def restore(ctx, args):
    with Opened(ctx, args.backup, args) as directory:
        _, problems = check_dir(directory)
        if problems:
            raise CliError("Refused, nothing changed: %s" % "; ".join(problems))
        rc, output = playbook(ctx, "restore.yml", {"backup": directory})
    if rc != 0:
        print(failure_tail(output), file=sys.stderr)
        raise CliError("restore failed (exit %s)" % rc)
    print("restored %s" % args.backup)
    return OK


def list_backups(ctx, args):
    root = ctx.plan()["backup_dir"]
    rows = []
    for name in sorted(_entries(root)):
        path = os.path.join(root, name)
        if name.endswith(SUFFIX) and os.path.isfile(path):
            rows.append({"path": path, "encrypted": True, "size": os.path.getsize(path), "components": None})
        elif os.path.isfile(os.path.join(path, "manifest.json")):
            with open(os.path.join(path, "manifest.json")) as handle:
                manifest = json.load(handle)
            size = sum(a.get("size", 0) for a in manifest.get("artefacts") or [])
            rows.append({"path": path, "encrypted": False, "size": size, "created": manifest.get("created"),
                         "components": sorted(set(a["component"] for a in manifest.get("artefacts") or []))})
    if args.json:
        emit_json({"backup_dir": root, "backups": rows})
        return OK
    if not rows:
        print("no backups in %s (make one: devenv backup)" % root)
    for row in rows:
        print("%-70s %10d bytes  %s" % (row["path"], row["size"],
                                        "encrypted" if row["encrypted"] else ", ".join(row["components"])))
    return OK
