#!/usr/bin/env python3
"""HTTPS and HTTP requests to the edge on 127.0.0.1 with a chosen SNI / Host, as a browser would send them.

  edge_probe.py get PORT HOST PATH CA [--plain] [--auth-env VAR]   one request; prints JSON
      {status, headers (lower-case names), body (first 4000 chars), names (DNS names of the served certificate)}
      TLS is verified against CA with HOST as the expected name (a failure exits 1 with the reason).
      --plain: plain HTTP (no TLS). --auth-env: basic auth "user:password" read from that environment variable.
  edge_probe.py burst PORT HOST PATH CA COUNT THREADS               COUNT requests at once; prints {status: count}
  edge_probe.py burst-hosts PORT HOST*W,HOST PATH CA COUNT THREADS  the same, spread over hosts (W: weight, default 1)
      in turn; prints {host: {status: count}}
  edge_probe.py wait PORT HOST PATH CA STATUS TIMEOUT               repeat get until STATUS answers; prints the tries
"""

import base64
import collections
import concurrent.futures
import http.client
import json
import os
import socket
import ssl
import sys
import time


def request(port, host, path, ca, plain=False, auth=None, timeout=10):
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
    names = []
    if not plain:
        ctx = ssl.create_default_context(cafile=ca)  # verify-full: chain to the Vault root and the host name
        sock = ctx.wrap_socket(sock, server_hostname=host)
        cert = sock.getpeercert()
        names = [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Connection: close", "User-Agent: devenv-edge-probe"]
    if auth:
        lines.append("Authorization: Basic %s" % base64.b64encode(auth.encode()).decode())
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    body = resp.read().decode("utf-8", "replace")
    out = {"status": resp.status, "headers": dict((k.lower(), v) for k, v in resp.getheaders()),
           "body": body[:4000], "names": names}
    sock.close()
    return out


def main(argv):
    cmd = argv[0]
    if cmd == "get":
        port, host, path, ca = argv[1:5]
        auth = os.environ[argv[argv.index("--auth-env") + 1]] if "--auth-env" in argv else None
        try:
            print(json.dumps(request(port, host, path, ca, plain="--plain" in argv, auth=auth)))
        except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
            print("request to %s%s failed: %s" % (host, path, exc))
            return 1
        return 0
    if cmd == "burst":
        port, host, path, ca, count, threads = argv[1:7]

        def one(_):
            try:
                return request(port, host, path, ca)["status"]
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                return "error: %s" % exc
        with concurrent.futures.ThreadPoolExecutor(int(threads)) as pool:
            counts = collections.Counter(pool.map(one, range(int(count))))
        print(json.dumps(dict((str(k), v) for k, v in counts.items())))
        return 0
    if cmd == "burst-hosts":
        port, hosts, path, ca, count, threads = argv[1:7]
        turn = []
        for item in hosts.split(","):
            name, _, weight = item.partition("*")
            turn += [name] * int(weight or 1)

        def one_of(i):
            host = turn[i % len(turn)]
            try:
                return host, request(port, host, path, ca)["status"]
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                return host, "error: %s" % exc
        result = collections.defaultdict(collections.Counter)
        with concurrent.futures.ThreadPoolExecutor(int(threads)) as pool:
            for host, status in pool.map(one_of, range(int(count))):
                result[host][str(status)] += 1
        print(json.dumps(dict((host, dict(counts)) for host, counts in result.items())))
        return 0
    if cmd == "wait":
        port, host, path, ca, status, timeout = argv[1:7]
        deadline, tries, last = time.time() + float(timeout), 0, None
        start = time.time()
        while time.time() < deadline:
            tries += 1
            try:
                last = request(port, host, path, ca)["status"]
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                last = str(exc)
            if str(last) == status:
                print(json.dumps({"tries": tries, "seconds": round(time.time() - start, 1)}))
                return 0
            time.sleep(0.5)
        print("%s%s did not answer %s within %ss; last answer: %s" % (host, path, status, timeout, last))
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
