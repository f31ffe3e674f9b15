#!/usr/bin/env python3
"""Benchmark of `ansible-playbook site.yml`. Prints figures; asserts nothing.

On its own instance (names bench-*, network bench-services on 172.30.90.0/24, host ports moved by
5300, below the ephemeral range and clear of every Molecule scenario's ports so that it can run beside
`make test`, Vault files under its state directory), so it never touches a real
environment. In one run, for each profile asked for (default: full, then the default profile):

0. the floor: an empty playbook (one debug task) on the same machine, in the same run,
1. cold converge with the images present (the instance's containers, volumes, network and files
   removed before each run),
2. no-op re-run, with its ratio to the floor,
3. re-run after one template change (postgres_max_connections alternates between two values, so
   every run changes dev-postgres's postgresql.conf); it also reports which containers restarted.

With two profiles it also prints what each extra container costs on the no-op path.

Each line gives min/median/max seconds over the runs, the task results (ok + skipped from the recap),
changed, and the number of module executions (every Python module process the run started, counted
by a wrapper around the interpreter). The instance is removed at the end unless --keep.

Usage: .venv/bin/python scripts/bench_converge.py [--runs 3] [--cold-runs 3] [--profile full --profile standard]
                                                  [--keep]
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
    "devenv_host_port_offset": 5300,
    "devenv_vault_dir": HOME + "/vault-config",
}


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False).stdout.split()


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


FLOOR_PLAYBOOK = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.debug: {msg: floor}
"""


def converge(counter, extra=None, playbook="site.yml"):
    """One playbook run: (seconds, task results, changed, module executions)."""
    open(counter, "w").close()
    variables = dict(EXTRA, ansible_python_interpreter=counter + ".python", **(extra or {}))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook,
                           "-e", json.dumps(variables)], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (playbook, proc.stdout[-4000:]))
    recap = dict(item.split("=") for item in
                 [line for line in proc.stdout.splitlines() if "changed=" in line][-1].split(":", 1)[1].split())
    with open(counter) as handle:
        modules = sum(1 for _ in handle)
    return elapsed, int(recap["ok"]) + int(recap["skipped"]), int(recap["changed"]), modules


def report(name, runs, note=""):
    times = [r[0] for r in runs]
    print("%-30s min %6.1f s  median %6.1f s  max %6.1f s  | tasks %s  changed %s  modules %s%s"
          % (name, min(times), statistics.median(times), max(times), "/".join(str(r[1]) for r in runs),
             "/".join(str(r[2]) for r in runs), "/".join(str(r[3]) for r in runs), note), flush=True)
    return statistics.median(times)


def main():
    sys.path.insert(0, os.path.join(ROOT, "collections"))  # the checkout as ansible_collections.colima_services.devenv
    from ansible_collections.colima_services.devenv.plugins.filter.registry import PROFILES

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--profile", action="append", choices=PROFILES,
                        help="profiles to measure, in order (default: full, then core, the default profile)")
    parser.add_argument("--keep", action="store_true", help="leave the instance running at the end")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-converge-")
    counter = os.path.join(workdir, "modules")
    with open(counter + ".python", "w") as handle:  # counts each module process, then runs it
        handle.write("#!/bin/sh\necho x >> %s\nexec %s \"$@\"\n" % (counter, sys.executable))
    os.chmod(counter + ".python", 0o755)
    floor_book = os.path.join(workdir, "floor.yml")
    with open(floor_book, "w") as handle:
        handle.write(FLOOR_PLAYBOOK)
    noop = {}
    try:
        floor = report("floor (one debug task)", [converge(counter, playbook=floor_book) for _ in range(args.runs)])
        for profile in args.profile or ["full", "core"]:
            print("-- profile %s" % profile, flush=True)
            extra = {"devenv_profile": profile}
            # Builds or pulls what is missing, so that the cold runs below find every image present.
            report("first converge (images)", [converge(counter, extra)])
            cold = []
            for _ in range(args.cold_runs):
                destroy()
                cold.append(converge(counter, extra))
            report("cold (images present)", cold)
            containers = len(docker("ps", "-q", "--filter", "label=" + LABEL))
            median = report("no-op re-run", [converge(counter, extra) for _ in range(args.runs)])
            noop[profile] = (median, containers)
            print("%-30s %d containers, %.1fx the floor" % ("", containers, median / floor), flush=True)
            changed, restarted = [], set()
            for run in range(args.runs):
                before = started_at()
                changed.append(converge(counter, dict(extra, postgres_max_connections=101 + run % 2)))
                after = started_at()
                restarted |= set(name for name in after if after[name] != before.get(name))
            converge(counter, extra)  # back to the inventory's value
            report("one template changed", changed, "  restarted: %s" % (", ".join(sorted(restarted)) or "none"))
        if len(noop) == 2:
            (t1, c1), (t2, c2) = sorted(noop.values(), key=lambda v: v[1])
            if c2 > c1:
                print("no-op cost per extra container: %.2f s (%d -> %d containers)" % ((t2 - t1) / (c2 - c1), c1, c2))
    finally:
        if not args.keep:
            destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
