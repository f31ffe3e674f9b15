#!/usr/bin/env python3
"""Raw HTTP requests to the Docker API filter (dev-docker-proxy), each with the answer it must give.

  filter_table.py ADDRESS PORT CONTAINER    prints {"checked": N, "wrong": [...], "answers": [...]}; exit 1 if wrong

ADDRESS:PORT is the filter on the network; CONTAINER a container of this instance (for inspect and logs). Requests
are written byte for byte (no client normalises them): methods, encoded and dotted paths, absolute URIs, pipelining,
ambiguous framing. The answer is the status line of each response on the connection, in order.
"""

import json
import re
import socket
import sys

READ = "200"
DENY = "403"
BAD = "400"


def table(name):
    """(label, raw request bytes, expected statuses in order). '%s' in a path is the container's name."""
    def req(method, target, version="HTTP/1.1", headers=(), body=""):
        lines = ["%s %s %s" % (method, target % {"c": name}, version), "Host: docker"]
        lines += list(headers)
        if body:
            lines.append("Content-Length: %d" % len(body))
        return "\r\n".join(lines) + "\r\n\r\n" + body

    close = ("Connection: close",)
    rows = [
        # What the Docker provider, cAdvisor and Alloy read.
        ("ping", req("GET", "/_ping", headers=close), [READ]),
        ("ping, versioned", req("GET", "/v1.41/_ping", headers=close), [READ]),
        ("ping, HEAD", req("HEAD", "/_ping", headers=close), [READ]),
        ("version", req("GET", "/v1.41/version", headers=close), [READ]),
        ("info", req("GET", "/info", headers=close), [READ]),
        ("list containers", req("GET", "/v1.41/containers/json?all=1", headers=close), [READ]),
        ("inspect a container", req("GET", "/v1.41/containers/%(c)s/json", headers=close), [READ]),
        ("a container's logs", req("GET", "/v1.41/containers/%(c)s/logs?stdout=1&tail=1", headers=close), [READ]),
        ("list networks", req("GET", "/v1.41/networks", headers=close), [READ]),
        ("events (HTTP/1.0: the engine closes after its headers only when asked; a time window ends it)",
         req("GET", "/v1.41/events?since=0&until=1", headers=close), [READ]),
        # Every other method, on allowed paths too.
        ("create a container", req("POST", "/v1.41/containers/create",
                                   headers=(*close, "Content-Type: application/json"), body='{"Image":"busybox"}'),
         [DENY]),
        ("remove a container", req("DELETE", "/v1.41/containers/%(c)s?force=1", headers=close), [DENY]),
        ("PUT an archive", req("PUT", "/v1.41/containers/%(c)s/archive?path=/", headers=close), [DENY]),
        ("OPTIONS", req("OPTIONS", "/_ping", headers=close), [DENY]),
        ("PATCH", req("PATCH", "/v1.41/containers/%(c)s/json", headers=close), [DENY]),
        ("lower-case get", req("get", "/_ping", headers=close), [DENY]),
        ("CONNECT", "CONNECT docker:2375 HTTP/1.1\r\nHost: docker:2375\r\nConnection: close\r\n\r\n", [DENY]),
        # GET on what reads secrets or files, or writes.
        ("read a container's files (archive)", req("GET", "/v1.41/containers/%(c)s/archive?path=/", headers=close),
         [DENY]),
        ("export a container", req("GET", "/v1.41/containers/%(c)s/export", headers=close), [DENY]),
        ("images", req("GET", "/v1.41/images/json", headers=close), [DENY]),
        ("volumes", req("GET", "/v1.41/volumes", headers=close), [DENY]),
        ("disk usage", req("GET", "/v1.41/system/df", headers=close), [DENY]),
        ("swarm secrets", req("GET", "/v1.41/secrets", headers=close), [DENY]),
        ("exec inspect", req("GET", "/v1.41/exec/abc/json", headers=close), [DENY]),
        ("attach (websocket)", req("GET", "/v1.41/containers/%(c)s/attach/ws", headers=close), [DENY]),
        # Paths that normalise to something else.
        ("dot-dot to the root", req("GET", "/containers/../json", headers=close), [DENY]),
        ("dot-dot to images", req("GET", "/v1.41/containers/%(c)s/../../images/json", headers=close), [DENY]),
        ("dot segment", req("GET", "/v1.41/containers/./json", headers=close), [DENY]),
        ("encoded dots", req("GET", "/v1.41/containers/%%2e%%2e/images/json", headers=close), [DENY]),
        ("encoded slash", req("GET", "/v1.41/containers/%(c)s%%2Farchive/json", headers=close), [DENY]),
        ("encoded letters", req("GET", "/v1.41/containers/%%6Aso%%6E", headers=close), [DENY]),
        ("double slash", req("GET", "//containers/json", headers=close), [DENY]),
        ("upper case", req("GET", "/CONTAINERS/JSON", headers=close), [DENY]),
        ("trailing slash", req("GET", "/v1.41/containers/json/", headers=close), [DENY]),
        # Absolute URIs: judged by their path, like any other request.
        ("absolute URI, allowed path", req("GET", "http://docker/v1.41/containers/json", headers=close), [READ]),
        ("absolute URI, denied path", req("GET", "http://docker/v1.41/containers/%(c)s/archive?path=/", headers=close),
         [DENY]),
        ("absolute URI, other scheme", req("GET", "unix:///var/run/docker.sock/v1.41/images/json", headers=close),
         [DENY]),
        # Pipelining: each request on a kept-alive connection is judged on its own.
        ("pipelined GET then POST", req("GET", "/_ping") + req("POST", "/v1.41/containers/create", headers=close,
                                                                     body='{"Image":"busybox"}'), [READ, DENY]),
        ("pipelined GET then archive", req("GET", "/_ping") + req("GET", "/v1.41/containers/%(c)s/archive?path=/",
                                                                        headers=close), [READ, DENY]),
        # Ambiguous framing: the filter answers the first request and closes the connection; what follows it is never
        # read as a request.
        ("smuggling: both Content-Length and chunked",
         ("GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
          "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
         [READ]),
        ("HTTP/0.9", "GET /_ping\r\n", [BAD]),
    ]
    return rows


def statuses(address, port, raw, timeout=10):
    sock = socket.create_connection((address, int(port)), timeout=timeout)
    sock.sendall(raw.encode("latin-1"))
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    sock.close()
    # A body without a final newline (the engine's "OK") runs into the next status line: search, not split.
    return [m.decode() for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


def main(argv):
    address, port, name = argv[:3]
    rows = table(name)
    answers, wrong = [], []
    for label, raw, expected in rows:
        got = statuses(address, port, raw)
        ok = got == expected
        answers.append({"request": label, "expected": expected, "got": got})
        if not ok:
            wrong.append(answers[-1])
    print(json.dumps({"checked": len(rows), "wrong": wrong, "answers": answers}))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
