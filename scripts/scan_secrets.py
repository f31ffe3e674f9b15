#!/usr/bin/env python3
"""Looks for every secret where it must never be: the containers' spec (docker inspect: env, command,
labels, healthcheck), their logs, the process list (now, and any samples of it taken during a run), any log
files given, and a backup directory. The secrets: every generated value Vault holds (passwords, keys, tokens),
the unseal keys and root token in keys.json, each AppRole secret_id in approles/, and with --services-dir each
service's TLS private key (tls.key) of the host-side copies. The host-side copies themselves hold secrets by
design; they are checked to be readable by their owner only.

  scripts/scan_secrets.py [--vault-dir ~/.config/vault] [--url http://127.0.0.1:8200] [--prefix dev-]
                          [--services-dir <devenv_home>/services] [--backup-dir DIR] [LOG ...]

Reads the secrets with the root token in <vault-dir>/root-token. Prints how many secrets were
looked for, where each one was found (by secret path and field, never the value), and exits 1 when
any was found, or when a host-side copy is readable by others than its owner.

A backup's vault/keys.json is a copy of the keys made on purpose (devenv_backup_vault_keys): it is not a place
the keys must not be, and is left out.
"""
import argparse
import gzip
import json
import os
import stat
import subprocess
import sys

import hvac


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vault-dir", default=os.path.expanduser("~/.config/vault"))
    parser.add_argument("--url", default="http://127.0.0.1:8200")
    parser.add_argument("--prefix", default="dev-")
    parser.add_argument("--services-dir", help="host-side copies: their tls.key files are secrets too, and every "
                        "file there must be readable by its owner only")
    parser.add_argument("--backup-dir", help="a backup directory to look into (gzip files are read uncompressed)")
    parser.add_argument("logs", nargs="*")
    args = parser.parse_args()

    client = hvac.Client(url=args.url, token=open(os.path.join(args.vault_dir, "root-token")).read().strip())
    secrets = {}
    for name in client.secrets.kv.v2.list_secrets(path="", mount_point="secret")["data"]["keys"]:
        data = client.secrets.kv.v2.read_secret_version(path=name, mount_point="secret",
                                                        raise_on_deleted_version=True)["data"]["data"]
        for field, value in data.items():
            # The generated values (passwords, keys, tokens), not names such as dev_user or dev_database.
            if isinstance(value, str) and any(word in field for word in ("password", "secret", "token", "key")):
                secrets["secret/%s %s" % (name, field)] = value

    keys_file = os.path.join(args.vault_dir, "keys.json")
    if os.path.exists(keys_file):
        with open(keys_file) as handle:
            keys = json.load(handle)
        for index, key in enumerate(keys.get("keys_base64", []) + keys.get("keys", [])):
            secrets["keys.json unseal key %d" % index] = key
        secrets["keys.json root_token"] = keys["root_token"]
    approles = os.path.join(args.vault_dir, "approles")
    for name in sorted(os.listdir(approles)) if os.path.isdir(approles) else []:
        with open(os.path.join(approles, name)) as handle:
            secrets["approles/%s secret_id" % name] = json.load(handle)["secret_id"]

    secrets.update(tls_keys(args.services_dir))
    loose = loose_files(args.services_dir)

    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "name=^" + args.prefix],
                           check=True, capture_output=True, text=True).stdout.split()
    places = {}
    for container in names:
        places["inspect " + container] = subprocess.run(["docker", "inspect", container],
                                                        capture_output=True, text=True).stdout
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
        places["logs " + container] = logs.stdout + logs.stderr
    places["ps"] = subprocess.run(["ps", "auxww"], capture_output=True, text=True).stdout
    for path in args.logs:
        places["file " + path] = open(path, errors="replace").read()
    places.update(backup_places(args.backup_dir))

    found = [(where, label) for label, value in secrets.items() for where, text in places.items() if value in text]
    print("looked for %d secrets in %d places (%d containers)" % (len(secrets), len(places), len(names)))
    for where, label in found:
        print("FOUND %s in %s" % (label, where))
    for path, mode in loose:
        print("READABLE BY OTHERS %s (mode %o): host-side copies must be 0600" % (path, mode))
    return 1 if found or loose else 0


def files_under(top):
    for root, _dirs, files in os.walk(top or ""):
        for name in sorted(files):
            yield os.path.join(root, name)


def tls_keys(services_dir):
    """{label: first line of the key} of every private key (PEM) among the host-side copies (tls.key, and the
    key block of a combined PEM). A leak shows that line whatever the line breaks around it became."""
    keys = {}
    for path in files_under(services_dir):
        with open(path, errors="replace") as handle:
            text = handle.read()
        begin = text.find("PRIVATE KEY-----")
        if begin < 0 or text.rfind("-----BEGIN", 0, begin) < 0:
            continue
        lines = text[begin:].splitlines()[1:2]
        if lines and len(lines[0].strip()) >= 32:
            keys["private key %s" % os.path.relpath(path, services_dir)] = lines[0].strip()
    return keys


def loose_files(services_dir):
    """(path, mode) of the host-side copies that others than their owner may read."""
    loose = []
    for path in files_under(services_dir):
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if mode & 0o077:
            loose.append((path, mode))
    return loose


def backup_places(backup_dir):
    places = {}
    for path in files_under(backup_dir):
        if os.path.basename(path) == "keys.json" and os.path.basename(os.path.dirname(path)) == "vault":
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        places["backup " + os.path.relpath(path, backup_dir)] = data.decode("latin-1")
    return places


if __name__ == "__main__":
    sys.exit(main())
