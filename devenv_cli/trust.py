"""trust [--undo]: the Vault root CA into the system store (macOS keychain, update-ca-certificates,
update-ca-trust) and into the NSS databases of Chromium and Firefox, with sudo only for the system store."""

import glob
import os
import shutil
import subprocess

from devenv_cli import FAILURE, OK
from devenv_cli.run import CliError, emit_json

# The system stores, as data: how to add and remove one anchor file (the file name carries the instance).
SYSTEMS = [
    {"name": "macOS keychain", "detect": "/usr/bin/security",
     "add": [["security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain",
              "{ca}"]],
     "remove": [["security", "remove-trusted-cert", "-d", "{ca}"]]},
    {"name": "Debian/Ubuntu ca-certificates", "detect": "update-ca-certificates",
     "anchor": "/usr/local/share/ca-certificates/devenv-{instance}-root-ca.crt",
     "add": [["install", "-m", "0644", "{ca}", "{anchor}"], ["update-ca-certificates"]],
     "remove": [["rm", "-f", "{anchor}"], ["update-ca-certificates", "--fresh"]]},
    {"name": "Fedora/RHEL ca-trust", "detect": "update-ca-trust",
     "anchor": "/etc/pki/ca-trust/source/anchors/devenv-{instance}-root-ca.pem",
     "add": [["install", "-m", "0644", "{ca}", "{anchor}"], ["update-ca-trust"]],
     "remove": [["rm", "-f", "{anchor}"], ["update-ca-trust"]]},
]


def nickname(instance):
    return "devenv %s root CA" % instance


def nss_databases(home):
    """Chromium's (~/.pki/nssdb, made when missing) and every Firefox profile's (Linux and macOS)."""
    found = [os.path.join(home, ".pki", "nssdb")]
    for pattern in (".mozilla/firefox/*/cert9.db", "snap/firefox/common/.mozilla/firefox/*/cert9.db",
                    "Library/Application Support/Firefox/Profiles/*/cert9.db"):
        found += sorted(os.path.dirname(p) for p in glob.glob(os.path.join(home, pattern)))
    return found


def _run(argv, sudo=False):
    if sudo and os.geteuid() != 0:
        if not shutil.which("sudo"):
            return 1, "needs root and there is no sudo: run it as root"
        argv = ["sudo", *argv]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        return 127, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def system_store(ca, instance, undo):
    for store in SYSTEMS:
        if not shutil.which(store["detect"]) and not os.path.exists(store["detect"]):
            continue
        fields = {"ca": ca, "instance": instance, "anchor": store.get("anchor", "").format(instance=instance)}
        for step in store["remove" if undo else "add"]:
            argv = [part.format(**fields) for part in step]
            rc, out = _run(argv, sudo=True)
            if rc != 0:
                return {"store": store["name"], "ok": False, "did": " ".join(argv), "detail": out[-300:]}
        return {"store": store["name"], "ok": True, "did": "%s %s" % ("removed from" if undo else "added to",
                                                                       fields["anchor"] or store["name"])}
    return {"store": "system", "ok": False, "did": "nothing",
            "detail": "no known system store here (security, update-ca-certificates, update-ca-trust)"}


def nss_store(db, ca, instance, undo):
    certutil = shutil.which("certutil")
    if not certutil:
        return {"store": db, "ok": False, "did": "nothing", "detail": "certutil is missing: install libnss3-tools "
                "(Debian/Ubuntu), nss-tools (Fedora) or nss (Homebrew)"}
    name, target = nickname(instance), "sql:" + db
    present = subprocess.run([certutil, "-L", "-d", target, "-n", name], capture_output=True,
                             check=False).returncode == 0
    if undo:
        if not present:
            return {"store": db, "ok": True, "did": "nothing to remove"}
        rc, out = _run([certutil, "-D", "-d", target, "-n", name])
        return {"store": db, "ok": rc == 0, "did": "removed %r" % name, "detail": out}
    if not os.path.exists(os.path.join(db, "cert9.db")):
        os.makedirs(db, mode=0o700, exist_ok=True)
        rc, out = _run([certutil, "-N", "-d", target, "--empty-password"])
        if rc != 0:
            return {"store": db, "ok": False, "did": "could not create the database", "detail": out}
    if present:
        _run([certutil, "-D", "-d", target, "-n", name])  # replaced: the CA may be a new one after a reset
    rc, out = _run([certutil, "-A", "-d", target, "-n", name, "-t", "C,,", "-i", ca])
    return {"store": db, "ok": rc == 0, "did": "added %r" % name, "detail": out}


def trust(ctx, args):
    data = ctx.plan()
    ca = data["ca_file"]
    if not args.undo and not os.path.isfile(ca):
        raise CliError("No root CA at %s yet: run devenv up first (the vault role writes it)" % ca)
    steps = []
    if args.store in ("all", "system"):
        steps.append(system_store(ca, data["instance"], args.undo))
    if args.store in ("all", "nss"):
        steps += [nss_store(db, ca, data["instance"], args.undo) for db in nss_databases(os.path.expanduser("~"))]
    if args.json:
        emit_json({"ca_file": ca, "undo": args.undo, "steps": steps})
    else:
        for step in steps:
            print("%-4s %s: %s%s" % ("ok" if step["ok"] else "FAIL", step["store"], step["did"],
                                     "" if step["ok"] or not step.get("detail") else " (%s)" % step["detail"]))
        if not args.undo:
            print("Restart the browser to see it. Undo: devenv trust --undo")
    return OK if all(s["ok"] for s in steps) else FAILURE


