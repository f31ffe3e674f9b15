"""Test-only probe of the molecule data scenario (MySQL). Password in MYSQL_PASSWORD; prints one JSON object.

  connect HOST PORT USER DB CA [plain]   connect to HOST:PORT verifying the certificate for HOST
                                         (or with TLS disabled: plain), report version and TLS version
  write PORT USER DB CA VALUE            insert VALUE into devenv_probe (created if missing), over TLS
  read PORT USER DB CA                   the values in devenv_probe
"""
import json
import os
import sys

import pymysql


def connect(host, port, user, db, ca, plain=False):
    tls = {"ssl_disabled": True} if plain else {"ssl_ca": ca, "ssl_verify_cert": True, "ssl_verify_identity": True}
    return pymysql.connect(host=host, port=int(port), user=user, database=db, password=os.environ["MYSQL_PASSWORD"],
                           connect_timeout=5, autocommit=True, **tls)


def main(command, args):
    if command == "connect":
        host, port, user, db, ca = args[:5]
        try:
            conn = connect(host, port, user, db, ca, plain=args[5:] == ["plain"])
        except pymysql.err.OperationalError as exc:
            return {"ok": False, "error": str(exc)}
        with conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = cur.fetchone()[0]
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            return {"ok": True, "version": version, "tls_version": cur.fetchone()[1]}
    port, user, db, ca = args[:4]
    with connect("localhost", port, user, db, ca) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS devenv_probe (value VARCHAR(64))")
        if command == "write":
            cur.execute("INSERT INTO devenv_probe VALUES (%s)", (args[4],))
        cur.execute("SELECT value FROM devenv_probe ORDER BY value")
        return {"values": [r[0] for r in cur.fetchall()]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
