#!/usr/bin/env python3
"""Benchmark the reference API: direct on the app port, and through the edge with 1, 2 and 4 replicas.

  scripts/bench_api.py [--duration 10] [--connections 64] [--threads 2] [--replicas 1,2,4]

Runs against the apps Molecule scenario (converge it first: molecule converge -s apps); for each replica count it
converges the scenario again with -e apps_replicas=N (molecule converge -s apps -- -e ...). wrk (Debian's package)
drives each route; a Lua hook reports p50/p95/p99 and the non-2xx count. Routes: /health/ (the app alone),
GET /examples/cache/{key} (one Redis Cluster read), GET /examples/database/postgres/query (a PostgreSQL round trip).
Prints one table and a JSON line: requests/s, p50/p95/p99 (ms), non-2xx and socket errors per run, the edge's
throughput as a share of the direct one, the scaling from 1 replica, and each app container's memory.
No timing is asserted: the figures depend on the machine."""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFSET = 4500  # molecule/apps/molecule.yml
DIRECT = "https://127.0.0.1:%d" % (8443 + OFFSET)
EDGE = "https://127.0.0.1:%d" % (443 + OFFSET)
PREFIX = "mol-apps-"
CA = os.path.expanduser("~/.local/share/colima-services/molecule-apps/vault-config/ca/root-ca.pem")
KEY = "bench-key"
ROUTES = [("health", "/health/"), ("cache", "/examples/cache/" + KEY), ("db", "/examples/database/postgres/query")]

LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "seconds": %.3f, "p50": %.3f, "p95": %.3f, "p99": %.3f, ' ..
    '"non2xx": %d, "socket_errors": %d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def converge(replicas, edge_limit):
    """The apps scenario with N replicas, and the edge's rate limit (traefik_rate_limit, 100/s per router by default,
    one budget for every client on loopback) raised to edge_limit: else it, not the edge, is what wrk measures."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    limit = json.dumps({"traefik_rate_limit": {"average": edge_limit, "burst": edge_limit}})
    cmd = ["molecule", "converge", "-s", "apps", "--", "-e", "apps_replicas=%d" % replicas, "-e", limit]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit("converge with %d replicas failed:\n%s" % (replicas, (out.stdout + out.stderr)[-3000:]))


def prime():
    """The cache key the cache route reads (written once through the app)."""
    context = ssl.create_default_context(cafile=CA)
    request = urllib.request.Request(DIRECT + "/examples/cache/" + KEY, data=json.dumps({"value": "x" * 64}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, context=context, timeout=10) as resp:
        assert resp.status == 200


def wrk(url, host, args, script):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", "%ds" % args.duration,
           "--timeout", "5s", "-s", script] + (["-H", "Host: " + host] if host else []) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(row for row in out.splitlines() if row.startswith("BENCH "))
    result = json.loads(line[6:])
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    return result


def memory():
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines()
                if line.startswith(PREFIX + "reference-api") or line.startswith(PREFIX + "api-first"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--current", type=int, metavar="N",
                        help="no converge: benchmark the scenario as it runs, with N replicas (direct on replica 1)")
    parser.add_argument("--edge-limit", type=int, default=1000000, metavar="N",
                        help="the edge's rate limit while it is measured (requests/s and burst; default 1000000, so "
                             "that the limit of 100/s does not cap it); with --current, the scenario's own applies")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(LUA)
    runs, mem = [], {}
    try:
        counts = [args.current] if args.current else [int(n) for n in args.replicas.split(",")]
        for index, replicas in enumerate(counts):
            if not args.current:
                converge(replicas, args.edge_limit)
            prime()
            if index == 0:
                for name, path in ROUTES:
                    runs.append(dict(wrk(DIRECT + path, None, args, handle.name), route=name, via="direct", replicas=1))
            for name, path in ROUTES:
                runs.append(dict(wrk(EDGE + path, "api.localhost", args, handle.name), route=name, via="edge",
                                 replicas=replicas))
            mem[replicas] = memory()
    finally:
        os.unlink(handle.name)
    direct = dict((r["route"], r["rps"]) for r in runs if r["via"] == "direct")
    one = dict((r["route"], r["rps"]) for r in runs if r["via"] == "edge" and r["replicas"] == 1)
    print("%-7s %-6s %8s %9s %8s %8s %8s %7s %7s %9s %9s" % ("route", "via", "replicas", "req/s", "p50 ms", "p95 ms",
                                                            "p99 ms", "non2xx", "sockerr", "vs direct", "vs 1 rep"))
    for r in runs:
        r["edge_share"] = round(r["rps"] / direct[r["route"]], 2)
        r["scaling"] = round(r["rps"] / one[r["route"]], 2) if r["via"] == "edge" and one.get(r["route"]) else None
        print("%-7s %-6s %8d %9.1f %8.1f %8.1f %8.1f %7d %7d %9.2f %9s" % (
            r["route"], r["via"], r["replicas"], r["rps"], r["p50"], r["p95"], r["p99"], r["non2xx"],
            r["socket_errors"], r["edge_share"], r["scaling"] if r["scaling"] is not None else "-"))
    for replicas, usage in mem.items():
        print("memory with %d replica(s): %s" % (replicas, ", ".join("%s %s" % kv for kv in sorted(usage.items()))))
    print("edge rate limit: %s" % ("the scenario's own" if args.current else "%d/s, burst %d" % (args.edge_limit,
                                                                                                   args.edge_limit)))
    print(json.dumps({"runs": runs, "memory": mem, "connections": args.connections, "duration_s": args.duration,
                      "edge_limit": None if args.current else args.edge_limit}))


if __name__ == "__main__":
    main()
