#!/usr/bin/env python3
"""The apps scenario's client: real HTTPS requests, TLS verified against the Vault root CA.

  apps_probe.py contract CA URL            every route of the contract on one app, real data written and read back
  apps_probe.py paths CA OPENAPI URL...    every app's /openapi.json has the document's paths and methods
  apps_probe.py down CA URL SERVICE T      SERVICE is stopped: its health check and its route answer 503 within T s
  apps_probe.py wait CA URL PATH CODE T    poll URL+PATH until it answers CODE (T s at most)
  apps_probe.py stream CA URL SECONDS CONTAINER AT
                                           requests for SECONDS through URL; CONTAINER is stopped (docker stop) AT s
                                           in; counts the failures and the replicas that answered before and after
URL is https://HOST:PORT; HOST is sent as SNI and Host header, the connection goes to 127.0.0.1:PORT.
Prints one JSON object; exits 1 with the failures named.
"""

import http.client
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import yaml

SERVICE_ROUTE = {"postgres": "/examples/database/postgres/query", "mysql": "/examples/database/mysql/query",
                 "mongodb": "/examples/database/mongodb/query", "redis": "/examples/cache/probe-down",
                 "rabbitmq": "/examples/messaging/queue/probe-down/info", "vault": "/examples/vault/secret/postgresql"}


class Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, with the URL's host as SNI and Host (api.localhost through the edge)."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Client:
    def __init__(self, ca, url, timeout=60):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port or 443, timeout
        self.context = ssl.create_default_context(cafile=ca)
        self.conn = None

    def request(self, method, path, body=None):
        """(status, JSON or text, seconds); a new connection after any error."""
        start = time.perf_counter()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = Conn(self.host, self.port, timeout=self.timeout, context=self.context)
            try:
                data = json.dumps(body).encode() if body is not None else None
                self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.conn.close()
                self.conn = None
                if attempt:  # a keep-alive connection closed by the server: retried once on a new one
                    raise exc
        if resp.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        text = raw.decode("utf-8", "replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
        return resp.status, payload, time.perf_counter() - start


def expect(failures, what, cond, got=None):
    if not cond:
        failures.append("%s (got %s)" % (what, json.dumps(got, default=str)[:400]))


def contract(ca, url):
    c, f, out = Client(ca, url), [], {}
    st, root, _ = c.request("GET", "/")
    expect(f, "GET / names the app and links",
           st == 200 and root.get("name") and root.get("version") and root.get("links"), root)
    st, docs, _ = c.request("GET", "/docs")
    expect(f, "GET /docs is Swagger UI", st == 200 and "swagger" in str(docs).lower(), st)
    st, body, _ = c.request("GET", "/health/")
    expect(f, "GET /health/ is healthy", st == 200 and body.get("status") == "healthy", body)
    st, body, _ = c.request("GET", "/health/all")
    expect(f, "GET /health/all is 200 and healthy", st == 200 and body.get("status") == "healthy", body)
    services = sorted((body.get("services") or {}) if isinstance(body, dict) else [])
    expect(f, "/health/all checks every service", services == sorted(SERVICE_ROUTE), services)
    for name in SERVICE_ROUTE:
        st, body, _ = c.request("GET", "/health/" + name)
        expect(f, "GET /health/%s is healthy" % name, st == 200 and body.get("status") == "healthy", body)
        if name in ("postgres", "mysql"):
            expect(f, "%s is reached over TLS" % name, str(body.get("tls", "")).startswith("TLS"), body)
    # Vault: the app's own AppRole reads what its policy allows, masked; nothing else.
    st, body, _ = c.request("GET", "/examples/vault/secret/postgresql")
    expect(f, "secret/postgresql: key names, password masked", st == 200 and "password" in body.get("keys", [])
           and body["data"]["password"] == "********" and body["data"].get("username"), body)
    st, body, _ = c.request("GET", "/examples/vault/secret/postgresql/username")
    expect(f, "secret/postgresql/username is readable",
           st == 200 and body.get("value") and not body.get("masked"), body)
    st, body, _ = c.request("GET", "/examples/vault/secret/mysql/password")
    expect(f, "secret/mysql/password is masked",
           st == 200 and body.get("value") == "********" and body.get("masked"), body)
    st, body, _ = c.request("GET", "/examples/vault/secret/traefik")
    expect(f, "secret/traefik is refused (403): not the app's",
           st == 403 and body["error"]["code"] == "forbidden", body)
    st, body, _ = c.request("GET", "/examples/vault/secret/postgresql/nope")
    expect(f, "a missing field is 404 in the error shape", st == 404 and body["error"]["request_id"], body)
    # Databases: a real round trip each, with timing.
    for db in ("postgres", "mysql", "mongodb"):
        st, body, _ = c.request("GET", "/examples/database/%s/query" % db)
        expect(f, "%s query round trip" % db, st == 200 and body.get("round_trip_ms") is not None, body)
    st1, first, _ = c.request("GET", "/examples/database/mongodb/query")
    st2, second, _ = c.request("GET", "/examples/database/mongodb/query")
    expect(f, "mongodb: the document written is read back (its counter grows)", st1 == st2 == 200 and
           second["document"]["queries"] == first["document"]["queries"] + 1, [first, second])
    # Cache through the cluster: keys on different slots (so on different masters), TTL, delete.
    keys = ["probe-%s-%d" % (uuid.uuid4().hex[:8], i) for i in range(6)]
    for key in keys:
        st, body, _ = c.request("POST", "/examples/cache/" + key, {"value": "v-" + key, "ttl": 300})
        expect(f, "POST cache %s" % key, st == 200 and body.get("stored"), body)
        st, body, _ = c.request("GET", "/examples/cache/" + key)
        expect(f, "GET cache %s reads it back with its TTL" % key, st == 200 and body.get("value") == "v-" + key
               and 0 < (body.get("ttl") or 0) <= 300, body)
    st, body, _ = c.request("POST", "/examples/cache/" + keys[0], {"value": "forever"})
    st, body, _ = c.request("GET", "/examples/cache/" + keys[0])
    expect(f, "a value without TTL never expires",
           st == 200 and body.get("ttl") is None and body["value"] == "forever", body)
    st, body, _ = c.request("DELETE", "/examples/cache/" + keys[0])
    expect(f, "DELETE cache", st == 200 and body.get("deleted") is True, body)
    st, body, _ = c.request("GET", "/examples/cache/" + keys[0])
    expect(f, "a deleted key is 404", st == 404 and body["error"]["code"] == "not_found", body)
    st, body, _ = c.request("POST", "/examples/cache/" + keys[1], {"value": "x", "ttl": 0})
    expect(f, "a TTL of 0 is refused (422)", st == 422 and body["error"]["code"] == "invalid_request", body)
    # Messaging: publish, then the queue counts it; bad input is 422.
    queue = "probe-" + uuid.uuid4().hex[:8]
    for n in (1, 2):
        st, body, _ = c.request("POST", "/examples/messaging/publish", {"queue": queue, "message": "hello %d" % n})
        expect(f, "publish %d" % n, st == 200 and body.get("published"), body)
    st, body, _ = c.request("GET", "/examples/messaging/queue/%s/info" % queue)
    expect(f, "the queue holds both messages", st == 200 and body.get("messages") == 2, body)
    st, body, _ = c.request("GET", "/examples/messaging/queue/no-such-queue-%s/info" % queue)
    expect(f, "a missing queue is 404", st == 404, body)
    for bad in ({"queue": queue}, {"queue": "bad queue!", "message": "x"},
                {"queue": queue, "message": "x", "extra": 1}):
        st, body, _ = c.request("POST", "/examples/messaging/publish", bad)
        expect(f, "publish %s is refused (422)" % bad, st == 422 and body["error"]["details"], body)
    # The Redis Cluster.
    st, body, _ = c.request("GET", "/redis/cluster/info")
    expect(f, "cluster info: state ok", st == 200 and body["info"].get("cluster_state") == "ok", body)
    st, body, _ = c.request("GET", "/redis/cluster/nodes")
    expect(f, "cluster nodes: 3 masters",
           st == 200 and len([n for n in body["nodes"] if "master" in str(n.get("flags"))]) == 3, body)
    st, body, _ = c.request("GET", "/redis/cluster/slots")
    expect(f, "cluster slots cover 0..16383",
           st == 200 and sum(s["end"] - s["start"] + 1 for s in body["slots"]) == 16384, body)
    st, body, _ = c.request("GET", "/redis/nodes/redis-2/info")
    expect(f, "node info of redis-2", st == 200 and body["info"].get("redis_version"), body)
    st, body, _ = c.request("GET", "/redis/nodes/redis-9/info")
    expect(f, "an unknown node is 404", st == 404, body)
    st, body, _ = c.request("GET", "/no/such/route")
    expect(f, "an unknown route is 404 in the error shape", st == 404 and body["error"]["code"] == "not_found", body)
    st, text, _ = c.request("GET", "/metrics")
    for needle in ('http_requests_total{method="GET",route="/examples/cache/{key}",status="200"}',
                   "http_request_duration_seconds_bucket", 'dependency_up{dependency="postgres"} 1.0'):
        expect(f, "/metrics has %s" % needle, st == 200 and needle in text, st)
    out.update(app=root.get("name"), replica=root.get("replica"), failures=f)
    return out


def paths(ca, document, urls):
    with open(document, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    want = dict((p, sorted(m for m in ops if m in ("get", "post", "put", "patch", "delete")))
                for p, ops in doc["paths"].items())
    f, out = [], {"document": sorted(want)}
    for url in urls:
        st, spec, _ = Client(ca, url).request("GET", "/openapi.json")
        have = dict((p, sorted(ops)) for p, ops in (spec.get("paths") or {}).items()) if st == 200 else {}
        expect(f, "%s/openapi.json has the document's paths and methods" % url, have == want,
               {"missing": sorted(set(want) - set(have)), "extra": sorted(set(have) - set(want)),
                "methods": [p for p in want if p in have and have[p] != want[p]]})
        ids = sorted(op.get("operationId") for ops in (spec.get("paths") or {}).values() for op in ops.values())
        out[url] = {"paths": len(have), "operation_ids": ids}
    id_sets = [out[u]["operation_ids"] for u in urls]
    expect(f, "every app has the same operationIds", all(i == id_sets[0] for i in id_sets), id_sets)
    out["failures"] = f
    return out


def down(ca, url, service, limit):
    """The service is stopped: its check and its route answer 503 within the limit (no hang), the others stay 200."""
    c, f = Client(ca, url, timeout=limit + 10), []
    deadline, st = time.time() + 30, None
    while time.time() < deadline:  # a pool may still hold a connection that works for a moment
        st, body, took = c.request("GET", "/health/" + service)
        expect(f, "/health/%s answered within %s s" % (service, limit), took <= limit, took)
        if st == 503:
            break
        time.sleep(0.5)
    expect(f, "/health/%s turns 503 unhealthy" % service, st == 503 and body.get("status") == "unhealthy", body)
    timings = []
    for _ in range(3):
        st, body, took = c.request("GET", SERVICE_ROUTE[service])
        timings.append(round(took, 3))
        expect(f, "%s answers 503 within %s s" % (SERVICE_ROUTE[service], limit), st == 503 and took <= limit
               and body["error"]["code"] == "dependency_unavailable", [st, took, body])
    st, body, _ = c.request("GET", "/health/all")
    expect(f, "/health/all is 503 and names %s unhealthy" % service, st == 503
           and body["services"][service]["status"] == "unhealthy", body)
    others = [s for s in SERVICE_ROUTE if s != service and body["services"][s]["status"] != "healthy"]
    expect(f, "the other services stay healthy", not others or service == "vault", others)
    return {"service": service, "route_seconds": timings, "failures": f}


def wait(ca, url, path, code, limit):
    c, start, last = Client(ca, url), time.time(), None
    while time.time() - start < limit:
        try:
            st, last, _ = c.request("GET", path)
            if st == code:
                return {"path": path, "status": st, "after_s": round(time.time() - start, 1), "failures": []}
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    return {"path": path,
            "failures": ["%s did not answer %s within %s s (last: %s)" % (path, code, limit, str(last)[:300])]}


def stream(ca, url, seconds, container, at):
    """Sequential requests on 4 connections in parallel; one replica is stopped at `at` s."""
    results, lock, stop_at = [], threading.Lock(), time.time() + at
    end = time.time() + seconds

    def worker():
        c = Client(ca, url, timeout=60)
        while time.time() < end:
            t = time.time()
            try:
                st, body, took = c.request("GET", "/")
                replica = body.get("replica") if isinstance(body, dict) else None
            except OSError as exc:
                st, replica, took = str(exc), None, time.time() - t
            with lock:
                results.append((t, st, replica, took))
            time.sleep(0.01)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, stop_at - time.time()))
    stopped = time.time()
    subprocess.run(["docker", "stop", container], check=True, capture_output=True)
    stop_done = time.time()
    for t in threads:
        t.join()
    failures = [r for r in results if r[1] != 200]
    before = sorted(set(r[2] for r in results if r[0] < stopped and r[1] == 200))
    after = sorted(set(r[2] for r in results if r[0] > stop_done and r[1] == 200))
    f = []
    expect(f, "no request failed while a replica stopped", not failures, failures[:10])
    expect(f, "every replica answered before", len(before) >= 3, before)
    gone = container.split("-apps-", 1)[-1]
    expect(f, "the stopped replica answers no more, the others do", len(after) >= 2 and gone not in after, after)
    return {"requests": len(results), "failed": len(failures), "replicas_before": before, "replicas_after": after,
            "stop_took_s": round(stop_done - stopped, 1), "max_latency_s": round(max(r[3] for r in results), 3),
            "failures": f}


def main(argv):
    cmd, ca = argv[0], argv[1]
    if cmd == "contract":
        out = contract(ca, argv[2])
    elif cmd == "paths":
        out = paths(ca, argv[2], argv[3:])
    elif cmd == "down":
        out = down(ca, argv[2], argv[3], float(argv[4]))
    elif cmd == "wait":
        out = wait(ca, argv[2], argv[3], int(argv[4]), float(argv[5]))
    elif cmd == "stream":
        out = stream(ca, argv[2], float(argv[3]), argv[4], float(argv[5]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out, indent=1, default=str))
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
