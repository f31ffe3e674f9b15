#!/usr/bin/python3
# Local recipe only: a small MongoDB exporter with percona/mongodb_exporter's command line and metric names,
# for the part this collection uses. The upstream image (percona/mongodb-exporter) runs the real one; Debian's
# prometheus-mongodb-exporter (mgo driver) cannot talk to MongoDB 6.0 and later (no legacy opcodes).
#
# Same interface as percona's, so that the exporters role's start script works on either image:
#   --web.listen-address=[HOST]:PORT   --mongodb.uri=URI   MONGODB_USER / MONGODB_PASSWORD in the environment
#   (other --collector.* / --compatible-mode flags are accepted and ignored)
# Metrics (percona's names): mongodb_up; from serverStatus mongodb_ss_connections{conn_type},
# mongodb_ss_opcounters{legacy_op_type}, mongodb_ss_uptime, mongodb_ss_mem_resident, mongodb_ss_mem_virtual,
# mongodb_ss_network_bytesIn/bytesOut.
import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pymongo import MongoClient
from pymongo.errors import PyMongoError

def parse(argv):
    parser = argparse.ArgumentParser(prog="mongodb_exporter")
    parser.add_argument("--web.listen-address", dest="listen", default=":9216")
    parser.add_argument("--web.telemetry-path", dest="path", default="/metrics")
    parser.add_argument("--mongodb.uri", dest="uri", default=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017"))
    parser.add_argument("--mongodb.user", dest="user", default=os.environ.get("MONGODB_USER"))
    parser.add_argument("--mongodb.password", dest="password", default=os.environ.get("MONGODB_PASSWORD"))
    args, _ignored = parser.parse_known_args(argv)
    return args


def escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(lines, name, value, labels=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    text = ",".join('%s="%s"' % (k, escape(v)) for k, v in sorted((labels or {}).items()))
    lines.append("%s%s %s" % (name, "{%s}" % text if text else "", float(value)))


def collect(client):
    """The exposition text: mongodb_up 0 when the server does not answer (the MongoDBDown alert reads it)."""
    lines = ["# TYPE mongodb_up gauge"]
    try:
        status = client.admin.command("serverStatus")
    except PyMongoError as exc:
        print("mongodb_exporter: %s" % exc, file=sys.stderr)
        lines.append("mongodb_up 0")
        return lines
    lines.append("mongodb_up 1")
    for kind, value in sorted((status.get("connections") or {}).items()):
        sample(lines, "mongodb_ss_connections", value, {"conn_type": kind})
    for kind, value in sorted((status.get("opcounters") or {}).items()):
        sample(lines, "mongodb_ss_opcounters", value, {"legacy_op_type": kind})
    sample(lines, "mongodb_ss_uptime", status.get("uptime"))
    for kind in ("resident", "virtual"):
        sample(lines, "mongodb_ss_mem_" + kind, (status.get("mem") or {}).get(kind))
    for kind in ("bytesIn", "bytesOut"):
        sample(lines, "mongodb_ss_network_" + kind, (status.get("network") or {}).get(kind))
    return lines


def main(argv):
    args = parse(argv)
    credentials = {"username": args.user, "password": args.password, "authSource": "admin"} if args.user else {}
    client = MongoClient(args.uri, serverSelectionTimeoutMS=3000, connect=False, **credentials)
    host, _, port = args.listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # http.server's name
            if self.path.split("?")[0] != args.path:
                self.send_error(404)
                return
            body = ("\n".join(collect(client)) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    print("mongodb_exporter (local recipe): listening on %s" % args.listen, file=sys.stderr)
    ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
