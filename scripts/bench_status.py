#!/usr/bin/env python3
"""Benchmark of `ansible-playbook playbooks/status.yml` against an environment that runs. Prints figures;
asserts nothing.

Runs the status playbook N times (after one warm-up run) with the inventory arguments given and prints
min/median/max wall-clock seconds, with the exit code of each run (0: every enabled component healthy).

Usage: .venv/bin/python scripts/bench_status.py [--runs 10] [-- <ansible-playbook arguments, e.g. -i inventory>]
Example against the ops scenario while it is converged (molecule converge -s ops):
  .venv/bin/python scripts/bench_status.py --runs 10 -- -i ~/.ansible/tmp/molecule.*.ops/inventory
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("extra", nargs="*", help="arguments for ansible-playbook (after --)")
    args = parser.parse_args()
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    argv = [playbook, os.path.join(ROOT, "playbooks", "status.yml"), *args.extra]
    env = dict(os.environ, ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg")))
    subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)  # warm-up (caches, page cache)
    times, codes = [], []
    for _ in range(args.runs):
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)
        times.append(time.monotonic() - start)
        codes.append(proc.returncode)
    print("status.yml over %d runs: min %.2f s, median %.2f s, max %.2f s; exit codes %s"
          % (len(times), min(times), statistics.median(times), max(times), sorted(set(codes))))


if __name__ == "__main__":
    main()
