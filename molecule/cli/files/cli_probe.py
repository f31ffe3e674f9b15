#!/usr/bin/env python3
"""Probes for the cli scenario, with secrets read from stdin (never argv).

  cli_probe.py pg           stdin: a devenv creds --json document; connects with its host postgres URL
                            (sslmode=verify-full) and prints {user, database, ssl, answer}
  cli_probe.py pg-exec SQL  same connection, runs SQL (statements split on ;, no secret in them), prints the first
                            column of the last statement's first row
  cli_probe.py listen PORT  holds 127.0.0.1:PORT listening until killed; prints its pid
  cli_probe.py alter FILE   flips one byte in the middle of FILE
"""

import json
import os
import socket
import sys
import time


def connect():
    import psycopg
    doc = json.loads(sys.stdin.read())
    return psycopg.connect(doc["urls"]["host"]["postgres"], connect_timeout=10)


def main(argv):
    if argv[0] == "pg":
        with connect() as conn:
            info = conn.info
            row = conn.execute("select current_user, current_database(), ssl, version from pg_stat_ssl "
                               "where pid = pg_backend_pid()").fetchone()
            print(json.dumps({"user": row[0], "database": row[1], "ssl": row[2], "tls": row[3],
                              "sslmode": info.get_parameters().get("sslmode")}))
    elif argv[0] == "pg-exec":
        with connect() as conn:
            for statement in [part for part in argv[1].split(";") if part.strip()]:
                cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description else None
            conn.commit()
            print(row[0] if row else "")
    elif argv[0] == "listen":
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(argv[1])))
        sock.listen(1)
        print(os.getpid(), flush=True)
        while True:
            time.sleep(60)
    elif argv[0] == "alter":
        with open(argv[1], "r+b") as handle:
            size = handle.seek(0, 2)
            handle.seek(size // 2)
            byte = handle.read(1)
            handle.seek(size // 2)
            handle.write(bytes([byte[0] ^ 0xFF]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
