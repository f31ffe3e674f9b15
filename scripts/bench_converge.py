#!/usr/bin/env python3
"""Benchmark of `ansible-playbook site.yml`. Prints figures; asserts nothing.

On its own instance (names bench-*, network bench-services on 172.30.90.0/24, host ports moved by
30000, Vault files under its state directory), so it never touches a real environment:

1. cold converge with the images present (the instance's containers, volumes, network and files
   removed before each run),
2. no-op re-run,
3. re-run after one template change (postgres_max_connections alternates between two values, so
   every run changes dev-postgres's postgresql.conf); it also reports which containers restarted.

Each line gives min/median/max seconds over the runs, the task results (ok + skipped from the recap),
changed, and the number of module executions (every Python module process the run started, counted
by a wrapper around the interpreter). The instance is removed at the end unless --keep.

Usage: .venv/bin/python scripts/bench_converge.py [--runs 3] [--cold-runs 3] [--keep]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE = "bench-converge"
HOME = os.path.expanduser("~/.local/share/colima-services/" + INSTANCE)
LABEL = "io.colima-services.instance=" + INSTANCE
EXTRA = {
    "devenv_instance": INSTANCE,
    "devenv_container_prefix": "bench-",
    "devenv_volume_prefix": "bench_",
    "devenv_network_name": "bench-services",
    "devenv_network_subnet": "172.30.90.0/24",
    "devenv_network_gateway": "172.30.90.1",
    "devenv_host_port_offset": 30000,
    "devenv_vault_dir": HOME + "/vault-config",
}


def docker(*args):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=False).stdout.split()


def destroy():
    containers = docker("ps", "-aq", "--filter", "label=" + LABEL)
    if containers:
        docker("rm", "-f", *containers)
    for volume in docker("volume", "ls", "-q", "--filter", "label=" + LABEL):
        docker("volume", "rm", "-f", volume)
    for network in docker("network", "ls", "-q", "--filter", "label=" + LABEL):
        docker("network", "rm", network)
    shutil.rmtree(HOME, ignore_errors=True)


def started_at():
    out = {}
    for cid in docker("ps", "-q", "--filter", "label=" + LABEL):
        name, started = subprocess.run(["docker", "inspect", "-f", "{{.Name}} {{.State.StartedAt}}", cid],
                                       capture_output=True, text=True, check=True).stdout.split()
        out[name.lstrip("/")] = started
    return out


def converge(counter, extra=None):
    """One site.yml run: (seconds, task results, changed, module executions)."""
    open(counter, "w").close()
    variables = dict(EXTRA, ansible_python_interpreter=counter + ".python", **(extra or {}))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "site.yml",
                           "-e", json.dumps(variables)], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("site.yml failed:\n" + proc.stdout[-4000:])
    recap = dict(item.split("=") for item in
                 [line for line in proc.stdout.splitlines() if "changed=" in line][-1].split(":", 1)[1].split())
    with open(counter) as handle:
        modules = sum(1 for _ in handle)
    return elapsed, int(recap["ok"]) + int(recap["skipped"]), int(recap["changed"]), modules


def report(name, runs, note=""):
    times = [r[0] for r in runs]
    print("%-22s min %6.1f s  median %6.1f s  max %6.1f s  | tasks %s  changed %s  modules %s%s"
          % (name, min(times), statistics.median(times), max(times), "/".join(str(r[1]) for r in runs),
             "/".join(str(r[2]) for r in runs), "/".join(str(r[3]) for r in runs), note), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the instance running at the end")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-converge-")
    counter = os.path.join(workdir, "modules")
    with open(counter + ".python", "w") as handle:  # counts each module process, then runs it
        handle.write("#!/bin/sh\necho x >> %s\nexec %s \"$@\"\n" % (counter, sys.executable))
    os.chmod(counter + ".python", 0o755)
    try:
        cold = []
        for _ in range(args.cold_runs):
            destroy()
            cold.append(converge(counter))
        report("cold (images present)", cold)
        report("no-op re-run", [converge(counter) for _ in range(args.runs)])
        changed, restarted = [], set()
        for run in range(args.runs):
            before = started_at()
            changed.append(converge(counter, {"postgres_max_connections": 101 + run % 2}))
            after = started_at()
            restarted |= set(name for name in after if after[name] != before.get(name))
        converge(counter)  # back to the inventory's value
        report("one template changed", changed, "  restarted: %s" % (", ".join(sorted(restarted)) or "none"))
    finally:
        if not args.keep:
            destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
