#!/usr/bin/env python3
"""Looks for every secret where it must never be: the containers' spec (docker inspect: env, command,
labels, healthcheck), their logs, the process list, and any log files given. The secrets: every
generated value Vault holds (passwords, keys, tokens), the unseal keys and root token in keys.json,
and each AppRole secret_id in approles/.

  scripts/scan_secrets.py [--vault-dir ~/.config/vault] [--url http://127.0.0.1:8200] [--prefix dev-] [LOG ...]

Reads the secrets with the root token in <vault-dir>/root-token. Prints how many secrets were
looked for, where each one was found (by secret path and field, never the value), and exits 1 when
any was found.
"""
import argparse
import json
import os
import subprocess
import sys

import hvac


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vault-dir", default=os.path.expanduser("~/.config/vault"))
    parser.add_argument("--url", default="http://127.0.0.1:8200")
    parser.add_argument("--prefix", default="dev-")
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

    found = [(where, label) for label, value in secrets.items() for where, text in places.items() if value in text]
    print("looked for %d secrets in %d places (%d containers)" % (len(secrets), len(places), len(names)))
    for where, label in found:
        print("FOUND %s in %s" % (label, where))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
