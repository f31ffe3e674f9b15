# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Pure logic of backup and restore (no I/O): the manifest, its checks, and the commands run in the containers.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

# The manifest's format: a restore refuses another major version (the artefacts' layout may differ).
FORMAT = "1.0"
MANIFEST = "manifest.json"
# Where the roles put what the commands below use inside the containers (roles/*/vars/main.yml).
CONF_DIR = "/usr/local/etc"
PG_SOCKET = "/var/run/postgresql"
WORK_DIR = "/tmp/devenv-backup"

# Databases that are the server's own, never dumped.
PG_SKIP = ("postgres", "template0", "template1")
MYSQL_SKIP = ("information_schema", "performance_schema", "mysql", "sys")

# Redis: the password is read from the node's own config file inside the container, into the environment of
# this shell only (never on a command line).
_REDIS_AUTH = ("REDISCLI_AUTH=$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' %s/redis.conf); export REDISCLI_AUTH; "
               % CONF_DIR)

# BGSAVE (retried while an AOF rewrite runs), wait for it, check it succeeded; prints the RDB's path.
REDIS_BGSAVE = ["/bin/sh", "-c", _REDIS_AUTH + """
set -e
[ "$(redis-cli -p 6379 info replication | tr -d '\\r' | sed -n 's/^role://p')" = master ] || { echo replica; exit 0; }
i=0
until redis-cli -p 6379 bgsave | grep -q 'started'; do i=$((i+1)); [ $i -lt 300 ] || exit 3; sleep 0.2; done
sleep 0.1
while redis-cli -p 6379 info persistence | grep -q '^rdb_bgsave_in_progress:1'; do sleep 0.1; done
redis-cli -p 6379 info persistence | grep -q '^rdb_last_bgsave_status:ok' || exit 4
echo "$(redis-cli -p 6379 config get dir | sed -n 2p)/$(redis-cli -p 6379 config get dbfilename | sed -n 2p)"
"""]

# Restore one node from the RDB at $1: with AOF on (the default), the RDB becomes the base of a new AOF manifest
# (Redis 7 ignores an RDB when AOF is on); with AOF off it becomes the dump file, and the save on shutdown is
# turned off so that it is not overwritten. The caller restarts the container afterwards.
REDIS_RESTORE = ["/bin/sh", "-c", _REDIS_AUTH + """
set -e
rdb="$1"
dir=$(redis-cli -p 6379 config get dir | sed -n 2p)
if [ "$(redis-cli -p 6379 config get appendonly | sed -n 2p)" = yes ]; then
  aofdir="$dir/$(redis-cli -p 6379 config get appenddirname | sed -n 2p)"
  aof=$(redis-cli -p 6379 config get appendfilename | sed -n 2p)
  redis-cli -p 6379 config set appendonly no >/dev/null
  rm -rf "$aofdir.restore" && mkdir "$aofdir.restore"
  mv "$rdb" "$aofdir.restore/$aof.1.base.rdb"
  printf 'file %s seq 1 type b\\n' "$aof.1.base.rdb" >"$aofdir.restore/$aof.manifest"
  rm -rf "$aofdir" && mv "$aofdir.restore" "$aofdir"
else
  redis-cli -p 6379 config set save '' >/dev/null
  mv "$rdb" "$dir/$(redis-cli -p 6379 config get dbfilename | sed -n 2p)"
fi
""", "sh"]

REDIS_CLUSTER_STATE = ["/bin/sh", "-c", _REDIS_AUTH + "redis-cli -p 6379 cluster info | tr -d '\\r' | sed -n 's/^cluster_state://p'"]


def pg_list(user):
    return ["psql", "-h", PG_SOCKET, "-U", user, "-d", "postgres", "-Atc",
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' "
            "ORDER BY 1"]


def pg_dump(user, database, path):
    return ["pg_dump", "-h", PG_SOCKET, "-U", user, "-Fc", "-f", path, database]


def pg_restore(user, database, path):
    """Drop the database (closing its connections), then recreate it from the dump with its owner."""
    ident = '"%s"' % database.replace('"', '""')
    return ["/bin/sh", "-c",
            'set -e; psql -h "$1" -U "$2" -d postgres -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS $3 WITH (FORCE)"; '
            'pg_restore -h "$1" -U "$2" -d postgres --create --exit-on-error "$4"',
            "sh", PG_SOCKET, user, ident, path]


def _mysql_tool(dump):
    # MariaDB names its tools mariadb-dump/mariadb, MySQL mysqldump/mysql; the option file holds root's password.
    first, second = ("mariadb-dump", "mysqldump") if dump else ("mariadb", "mysql")
    return '$(command -v %s || command -v %s) --defaults-extra-file=%s/mysql-client.cnf' % (first, second, CONF_DIR)


def mysql_list():
    return ["/bin/sh", "-c", _mysql_tool(False) + " -NBe 'SHOW DATABASES'"]


def mysql_dump(databases, path):
    return ["/bin/sh", "-c", 'out="$1"; shift; ' + _mysql_tool(True)
            + ' --single-transaction --routines --events --triggers --add-drop-database --databases "$@" >"$out"',
            "sh", path] + list(databases)


def mysql_restore(path):
    return ["/bin/sh", "-c", _mysql_tool(False) + ' <"$1"', "sh", path]


RABBITMQ_EXPORT = ["/bin/sh", "-c", 'rabbitmqctl -q export_definitions "$1" >/dev/null', "sh"]
# Definitions are additive on import: reset the node first, so that what was declared after the backup is gone.
RABBITMQ_RESTORE = ["/bin/sh", "-c",
                    'set -e; rabbitmqctl -q stop_app; rabbitmqctl -q reset; rabbitmqctl -q start_app; '
                    'rabbitmqctl -q await_startup; rabbitmqctl -q import_definitions "$1"', "sh"]


def databases(listing, skip):
    """Names from a one-per-line listing, without the server's own."""
    return [line.strip() for line in listing.splitlines() if line.strip() and line.strip() not in skip]


def artefact_name(component, method, item=None):
    suffix = {"pg_dump": ".dump", "mysqldump": ".sql", "redis_rdb": ".rdb", "rabbitmq_definitions": ".json",
              "raft_snapshot": ".snap", "mongodump": ".archive.gz", "volume_tar": ".tar"}[method]
    return "%s/%s%s" % (component, item or component, suffix)


def manifest(created, instance, collection_version, artefacts, vault_keys=False):
    return {"format": FORMAT, "created": created, "instance": instance, "collection_version": collection_version,
            "vault_keys_included": bool(vault_keys), "artefacts": artefacts}


def check_manifest(data, directory_files, sha256_of):
    """Problems that forbid a restore, before anything changes: format, missing or altered files.

    directory_files: the relative paths present in the backup directory; sha256_of(path) -> hex digest.
    """
    problems = []
    fmt = str((data or {}).get("format", ""))
    if not re.match(r"^\d+\.\d+$", fmt):
        return ["the manifest has no format version (is this a backup made by playbooks/backup.yml?)"]
    if fmt.split(".")[0] != FORMAT.split(".")[0]:
        return ["the manifest's format %s is not compatible with this collection's %s (major version %s); restore it "
                "with the collection version that made it (%s)" % (fmt, FORMAT, FORMAT.split(".")[0],
                                                                    data.get("collection_version", "unknown"))]
    for item in data.get("artefacts") or []:
        path = item.get("file", "")
        if not path or os.path.isabs(path) or ".." in path.split("/"):
            problems.append("artefact %r has an unsafe path" % path)
        elif path not in directory_files:
            problems.append("%s is missing" % path)
        elif sha256_of(path) != item.get("sha256"):
            problems.append("%s does not match its sha256 in the manifest (altered or truncated)" % path)
    return problems


def restore_order(artefacts, components=None):
    """Vault first (the others' credentials live there), then the rest in manifest order; optionally only some."""
    chosen = [a for a in artefacts if not components or a["component"] in components]
    return sorted(chosen, key=lambda a: (a["method"] != "raft_snapshot",))
