#!/usr/bin/env python3
"""Benchmark: forming a 3-master Redis Cluster with the redis_cluster module vs `redis-cli --cluster
create`, on the same kind of fresh nodes (redis-server processes on loopback ports, cluster bus =
port + 10000), in the same run; then the module's no-op re-run. Each time runs until every node
reports cluster_state:ok. Prints figures; asserts nothing.

The module is timed in-process (its main(), no Ansible start-up; add ~1.5 s for a playbook task).
Usage: .venv/bin/python scripts/bench_redis.py [--runs 5]
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import pathlib  # noqa: E402

import redis  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from test_redis_cluster import PASSWORD, Nodes  # noqa: E402

from ansible_collections.colima_services.devenv.plugins.modules import redis_cluster  # noqa: E402


def all_ok(ports):
    while True:
        states = [redis.Redis(port=p, password=PASSWORD, decode_responses=True).cluster("info")["cluster_state"]
                  for p in ports]
        if all(s == "ok" for s in states):
            return
        time.sleep(0.05)


def module(ports):
    args = dict(nodes=[{"address": "127.0.0.1:%d" % p} for p in ports], password=PASSWORD, timeout=60)
    out = io.StringIO()
    start = time.monotonic()
    with patch_module_args(args), redirect_stdout(out):
        try:
            redis_cluster.main()
        except SystemExit:
            pass
    all_ok(ports)
    elapsed = time.monotonic() - start
    result = json.loads(out.getvalue())
    if result.get("failed"):
        sys.exit("module failed: %s" % result["msg"])
    return elapsed, result["changed"]


def redis_cli(ports):
    env = dict(os.environ, REDISCLI_AUTH=PASSWORD)
    start = time.monotonic()
    subprocess.run(["redis-cli", "--cluster", "create"] + ["127.0.0.1:%d" % p for p in ports]
                   + ["--cluster-replicas", "0", "--cluster-yes"], env=env, check=True, capture_output=True)
    all_ok(ports)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    figures = {"module: form 3 fresh nodes": [], "redis-cli --cluster create": [], "module: no-op re-run": []}
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            nodes = Nodes(pathlib.Path(tmp))
            try:
                ports = nodes.start(3)
                elapsed, changed = module(ports)
                figures["module: form 3 fresh nodes"].append(elapsed)
                elapsed, changed_again = module(ports)
                figures["module: no-op re-run"].append(elapsed)
                assert changed and not changed_again
                ports = nodes.start(3)
                figures["redis-cli --cluster create"].append(redis_cli(ports))
            finally:
                nodes.stop_all()
        print("run %d: %s" % (run + 1, ", ".join("%s %.3f s" % (k, v[-1]) for k, v in figures.items())))
    for name, values in figures.items():
        print("%-28s median %.3f s  min %.3f s  max %.3f s  (%d runs)"
              % (name, statistics.median(values), min(values), max(values), len(values)))


if __name__ == "__main__":
    main()
