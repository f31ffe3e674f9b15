"""Test-only probe of the molecule data scenario (MongoDB). Password in MONGO_PASSWORD; prints one JSON object.

  connect HOST PORT USER CA [plain]   connect to 127.0.0.1:PORT as USER (authSource admin), over TLS verifying
                                      the certificate for the name HOST (HOST is resolved to 127.0.0.1 in this
                                      process only, so the real TLS client checks that name), or without TLS
  write PORT USER DB CA VALUE         insert VALUE into DB.devenv_probe (TLS, as localhost)
  read PORT USER DB CA                the values in DB.devenv_probe
"""
import json
import os
import socket
import sys

from pymongo import MongoClient
from pymongo.errors import PyMongoError

_getaddrinfo = socket.getaddrinfo


def resolve_to_loopback(name):
    """Make NAME resolve to 127.0.0.1 (the published port), as psycopg's hostaddr does for PostgreSQL."""
    def getaddrinfo(host, *args, **kwargs):
        return _getaddrinfo("127.0.0.1" if host == name else host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo


def client(host, port, user, ca, tls=True):
    # The server is local and up: a refused connection (TLS, requireTLS) fails after this timeout.
    resolve_to_loopback(host)
    options = {"tls": True, "tlsCAFile": ca} if tls else {"tls": False}
    return MongoClient(host, int(port), username=user, password=os.environ["MONGO_PASSWORD"], authSource="admin",
                       serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, directConnection=True, **options)


def main(command, args):
    if command == "connect":
        host, port, user, ca = args[:4]
        tls = not (len(args) > 4 and args[4] == "plain")
        try:
            with client(host, port, user, ca, tls) as conn:
                status = conn.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"]
                version = conn.admin.command("buildInfo")["version"]
                return {"ok": True, "users": status, "version": version, "tls": tls}
        except PyMongoError as exc:
            return {"ok": False, "error": str(exc).splitlines()[0][:300], "code": getattr(exc, "code", None)}
    port, user, db, ca = args[:4]
    with client("localhost", port, user, ca) as conn:
        collection = conn[db].devenv_probe
        if command == "write":
            collection.insert_one({"value": args[4]})
        return {"values": sorted(d["value"] for d in collection.find({}, {"_id": 0, "value": 1}))}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
