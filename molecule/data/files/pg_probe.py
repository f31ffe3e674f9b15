"""Test-only probe of the molecule data scenario (PostgreSQL, PgBouncer). Password in PG_PASSWORD; prints one JSON
object.

  connect HOST PORT USER DB CA [sslmode]   connect to 127.0.0.1:PORT, verifying the certificate for HOST
                                           (psycopg hostaddr); report the version, TLS, and whether USER
                                           is a superuser
  write PORT USER DB CA VALUE              insert VALUE into devenv_probe (created if missing)
  read PORT USER DB CA                     the values in devenv_probe
  pools PORT USER CA                       SHOW POOLS on PgBouncer's admin console (simple query protocol)
"""
import json
import os
import sys

import psycopg


def connect(host, port, user, db, ca, sslmode="verify-full", password=None):
    return psycopg.connect(host=host, hostaddr="127.0.0.1", port=int(port), user=user, dbname=db,
                           password=password if password is not None else os.environ["PG_PASSWORD"],
                           sslmode=sslmode, sslrootcert=ca, connect_timeout=5)


def main(command, args):
    if command == "connect":
        host, port, user, db, ca = args[:5]
        sslmode = args[5] if len(args) > 5 else "verify-full"
        password = os.environ.get("PG_WRONG_PASSWORD")
        try:
            with connect(host, port, user, db, ca, sslmode, password) as conn:
                version = conn.execute("SELECT version()").fetchone()[0]
                tls = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
                superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
                return {"ok": True, "version": version, "ssl": tls[0], "tls_version": tls[1], "superuser": superuser}
        except psycopg.OperationalError as exc:
            return {"ok": False, "error": str(exc).strip().splitlines()[-1]}
    if command == "pools":
        port, user, ca = args[:3]
        with psycopg.connect(host="pgbouncer", hostaddr="127.0.0.1", port=int(port), user=user, dbname="pgbouncer",
                             password=os.environ["PG_PASSWORD"], sslmode="verify-full", sslrootcert=ca,
                             autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cur = conn.cursor()
            cur.execute("SHOW POOLS")
            names = [d.name for d in cur.description]
            return {"pools": [dict(zip(names, row, strict=True)) for row in cur.fetchall()]}
    port, user, db, ca = args[:4]
    with connect("postgres", port, user, db, ca) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS devenv_probe (value text)")
        if command == "write":
            conn.execute("INSERT INTO devenv_probe VALUES (%s)", (args[4],))
        return {"values": [r[0] for r in conn.execute("SELECT value FROM devenv_probe ORDER BY value")]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
