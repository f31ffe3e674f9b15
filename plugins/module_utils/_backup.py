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
# The commands below find the files the roles put into a container (roles/*/vars/main.yml, all under
# devenv_conf_dir) in the directory this variable of their exec's environment names: conf_env(settings).
CONF_ENV = "DEVENV_CONF"
PG_SOCKET = "/var/run/postgresql"
WORK_DIR = "/tmp/devenv-backup"

# The registry's backup methods (devenv_components.<c>.backup.method), besides none.
METHODS = ("raft_snapshot", "pg_dump", "mysqldump", "redis_rdb", "rabbitmq_definitions", "mongodump", "volume_tar")

# Databases that are the server's own, never dumped.
PG_SKIP = ("postgres", "template0", "template1")
MYSQL_SKIP = ("information_schema", "performance_schema", "mysql", "sys")

# The client files the roles write into the container's conf directory (devenv_conf_dir; the client_file filter
# gives the roles these names) and the commands here, status and `devenv shell` read: root's option file, a node's
# config with its password, the admin password. Named here only.
CLIENT_FILES = {"mysql": "mysql-client.cnf", "redis": "redis.conf", "mongodb": "mongodb-password"}

# Redis: the password is read from the node's own config file inside the container, into the environment of
# this shell only (never on a command line).
REDIS_AUTH = ("REDISCLI_AUTH=$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' \"$%s/%s\"); "
               "export REDISCLI_AUTH; " % (CONF_ENV, CLIENT_FILES["redis"]))

# BGSAVE (retried while an AOF rewrite runs), wait for it, check it succeeded; prints the RDB's path.
REDIS_BGSAVE = ["/bin/sh", "-c", REDIS_AUTH + """
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
REDIS_RESTORE = ["/bin/sh", "-c", REDIS_AUTH + """
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

REDIS_CLUSTER_STATE = ["/bin/sh", "-c", REDIS_AUTH + "redis-cli -p 6379 cluster info | tr -d '\\r' | sed -n 's/^cluster_state://p'"]


def pg_list(user):
    return ["psql", "-h", PG_SOCKET, "-U", user, "-d", "postgres", "-Atc",
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' "
            "ORDER BY 1"]


def pg_dump(user, database):
    """The custom-format dump on stdout (streamed out; nothing is staged in the container)."""
    return ["pg_dump", "-h", PG_SOCKET, "-U", user, "-Fc", database]


# A restore never drops the live database first: pg_restore fills a new one (<db>__restore, owned by the live
# database's owner), and only when it succeeded does that one take the live one's name, in one transaction
# (the live one's sessions are closed first); the old one is dropped afterwards. psql's :"var" quotes the names.
_PSQL = ("PGOPTIONS='-c client_min_messages=warning' "
         'psql -h "$1" -U "$2" -d postgres -v ON_ERROR_STOP=1 -q -v db="$3" -v aside="$3__restore" '
         '-v old="$3__replaced" -f - >/dev/null')
_DROP_ASIDE = """DROP DATABASE IF EXISTS :"aside" WITH (FORCE);\n"""


def pg_restore_aside(user, database, path):
    """Restore the dump at path into the new database <database>__restore (removed again when pg_restore fails)."""
    return ["/bin/sh", "-c", "set -e\n" + _PSQL + " <<'SQL'\n" + _DROP_ASIDE
            + """SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0', :'aside',
  coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db'), current_user)) \\gexec
SQL
if ! pg_restore -h "$1" -U "$2" -d "$3__restore" --exit-on-error "$4"; then
  """ + _PSQL + " <<'SQL'\n" + _DROP_ASIDE + """SQL
  exit 1
fi
""", "sh", PG_SOCKET, user, database, path]


def pg_swap(user, database):
    """<database>__restore takes <database>'s name in one transaction (retried while a session lingers)."""
    return ["/bin/sh", "-c", """i=0
until """ + _PSQL + """ <<'SQL'
DROP DATABASE IF EXISTS :"old" WITH (FORCE);
BEGIN;
SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid();
SELECT format('ALTER DATABASE %I RENAME TO %I', :'db', :'old') FROM pg_database WHERE datname = :'db' \\gexec
ALTER DATABASE :"aside" RENAME TO :"db";
COMMIT;
DROP DATABASE IF EXISTS :"old" WITH (FORCE);
SQL
do
  i=$((i+1)); [ $i -lt 5 ] || exit 1; sleep 1
done
""", "sh", PG_SOCKET, user, database]


def _mysql_tool(dump):
    # MariaDB names its tools mariadb-dump/mariadb, MySQL mysqldump/mysql; the option file holds root's password.
    first, second = ("mariadb-dump", "mysqldump") if dump else ("mariadb", "mysql")
    return '$(command -v %s || command -v %s) --defaults-extra-file="$%s/%s"' % (first, second, CONF_ENV,
                                                                                      CLIENT_FILES["mysql"])


def mysql_client():
    """The MySQL/MariaDB client with root's option file, for a shell inside the container (devenv shell mysql)."""
    return _mysql_tool(False)


def mysql_list():
    return ["/bin/sh", "-c", _mysql_tool(False) + " -NBe 'SHOW DATABASES'"]


def mysql_dump(databases):
    """The SQL dump of the databases on stdout (streamed out; nothing is staged in the container)."""
    return ["/bin/sh", "-c", _mysql_tool(True)
            + ' --single-transaction --routines --events --triggers --add-drop-database --databases "$@"',
            "sh", *databases]


def mysql_restore(path):
    return ["/bin/sh", "-c", _mysql_tool(False) + ' <"$1"', "sh", path]


RABBITMQ_EXPORT = ["/bin/sh", "-c", 'rabbitmqctl -q export_definitions "$1" >/dev/null', "sh"]
# Definitions are additive on import: reset the node first, so that what was declared after the backup is gone.
RABBITMQ_RESTORE = ["/bin/sh", "-c",
                    'set -e; rabbitmqctl -q stop_app; rabbitmqctl -q reset; rabbitmqctl -q start_app; '
                    'rabbitmqctl -q await_startup; rabbitmqctl -q import_definitions "$1"', "sh"]


# MongoDB: one artefact format for both images, mongodump's directory layout (<db>/<collection>.bson and
# .metadata.json) in a tar, made by mongodump where the image has it (upstream), else by _mongo_dump.py with the
# image's python3 and pymongo (local recipe). The server's own databases are left out (users live in admin and are
# managed by the mongodb role). The password is never an argument: mongodump reads it from a 0600 YAML file
# (--config, tools >= 100.3) written from the container's own 0600 password file; the script reads that file itself.
MONGO_SKIP = ("admin", "config", "local")
MONGO_PASSWORD = "$%s/%s" % (CONF_ENV, CLIENT_FILES["mongodb"])
MONGO_CA = "$%s/mongodb-ca.crt" % CONF_ENV
MONGO_DUMP_DIR = WORK_DIR + "/dump"
MONGO_SCRIPT = WORK_DIR + "/mongo_dump.py"
# Prints the tool this container has: mongodump (with mongorestore), python (pymongo), or none.
MONGO_TOOL = ["/bin/sh", "-c",
              "if command -v mongodump >/dev/null 2>&1 && command -v mongorestore >/dev/null 2>&1; then "
              "echo mongodump; "
              "elif command -v python3 >/dev/null 2>&1 && python3 -c 'import pymongo' >/dev/null 2>&1; then "
              "echo python; "
              "else echo none; fi"]

_MONGO_TOOLS_CONF = (
    'set -e; umask 077; conf="%(work)s/mongo-tools.yaml"; '
    # Quoted: a YAML value of digits alone would not be a string.
    "{ printf 'password: \"'; tr -d '\\r\\n' <\"%(pw)s\"; printf '\"\\n'; } >\"$conf\"; "
    'tls=""; if [ -e "%(ca)s" ]; then tls="--tls --tlsCAFile=%(ca)s"; fi; '
    % {"work": WORK_DIR, "pw": MONGO_PASSWORD, "ca": MONGO_CA})


# The tools' common options: the admin user ($1) with the password from the config file, TLS when there is a CA.
_MONGO_LOGIN = ('--quiet --config "$conf" --host localhost --port 27017 --username "$1" --authenticationDatabase admin '
                '$tls')


def conf_env(settings):
    """The exec environment the commands above need: where the roles put the container's files."""
    return {CONF_ENV: settings["conf_dir"]}


def _mongo_argv(tool, mode, user, tools_command):
    """The pymongo script's MODE, or TOOLS_COMMAND in a shell that wrote the 0600 config file (removed after it)."""
    if tool == "python":
        return ["python3", MONGO_SCRIPT, mode, user, MONGO_DUMP_DIR, CLIENT_FILES["mongodb"]]
    return ["/bin/sh", "-c", _MONGO_TOOLS_CONF + tools_command, "sh", user, MONGO_DUMP_DIR]


def mongo_dump(tool, user):
    """argv that writes MONGO_DUMP_DIR (mongodump's layout, without admin/config/local) as the admin user."""
    return _mongo_argv(tool, "dump", user,
                       'mongodump %s --out "$2"; rm -f "$conf"; for db in %s; do rm -rf "$2/$db"; done; '
                       'echo \'{"tool": "mongodump"}\'' % (_MONGO_LOGIN, " ".join(MONGO_SKIP)))


def mongo_restore(tool, user):
    """argv that restores MONGO_DUMP_DIR like mongorestore --drop (each collection in it replaced), never the users."""
    return _mongo_argv(tool, "restore", user,
                       'mongorestore %s --drop %s --dir "$2"; rm -f "$conf"'
                       % (_MONGO_LOGIN, " ".join("--nsExclude='%s.*'" % db for db in MONGO_SKIP)))


def mongo_tool(output):
    """The tool named by MONGO_TOOL's output; fails saying what the image lacks."""
    tool = (output or "").strip()
    if tool not in ("mongodump", "python"):
        raise ValueError("the container has neither mongodump and mongorestore (MongoDB database tools >= 100.3) nor "
                         "python3 with pymongo; use the upstream mongo image or the local recipe images/mongodb")
    return tool


# Volumes (volume_tar): each named volume the container mounts, read and written through Docker's archive endpoint
# while the container is stopped (a consistent copy). Before the restore the volume is emptied by a short-lived helper
# container from the component's own image (its /bin/sh, as root, with the stopped container's volumes), so that what
# was written after the backup is gone, not merged.
EMPTY_DIR = ["/bin/sh", "-c", 'set -e; cd "$1"; rm -rf -- * .[!.]* ..?*; [ -z "$(ls -A)" ]', "sh"]


def volume_mounts(info, volume_prefix=""):
    """[{volume, name, path}] of the named volumes in a container's inspect, by path; name without the prefix."""
    out = []
    for mount in (info or {}).get("Mounts") or []:
        if mount.get("Type") != "volume" or not mount.get("Name"):
            continue
        name = mount["Name"]
        short = name[len(volume_prefix):] if volume_prefix and name.startswith(volume_prefix) else name
        out.append({"volume": name, "name": short, "path": mount["Destination"]})
    return sorted(out, key=lambda m: m["path"])


def tar_problem(names, top):
    """Why a tar's member names do not all lie in the directory top (the archive endpoint's layout), else None."""
    for name in names:
        clean = name[2:] if name.startswith("./") else name
        parts = clean.rstrip("/").split("/")
        if clean.startswith("/") or ".." in parts or parts[0] != top:
            return "member %r is not inside %s/" % (name, top)
    return None


# Vault: OpenBao (the default flavor) uses raft storage and is backed up with a raft snapshot; HashiCorp Vault uses
# file storage here (roles/vault/templates/server.hcl.j2), which has no snapshot, so its volume is copied instead.
RAFT_NOT_IN_USE = "raft storage is not in use"


def vault_storage(status, body):
    """'raft' or 'file' from Vault's answer to GET sys/storage/raft/configuration (status code, body text).

    Anything else (sealed, no permission, no answer) is no evidence either way: ValueError, nothing is guessed.
    """
    if status == 200:
        return "raft"
    if status in (400, 500) and RAFT_NOT_IN_USE in (body or ""):
        return "file"
    raise ValueError("Vault's sys/storage/raft/configuration answered %s (%s): cannot tell its storage"
                     % (status, (body or "").strip()[:200]))


def databases(listing, skip):
    """Names from a one-per-line listing, without the server's own."""
    return [line.strip() for line in listing.splitlines() if line.strip() and line.strip() not in skip]


def artefact_name(component, method, item=None):
    suffix = {"pg_dump": ".dump", "mysqldump": ".sql", "redis_rdb": ".rdb", "rabbitmq_definitions": ".json",
              "raft_snapshot": ".snap", "mongodump": ".tar", "volume_tar": ".tar"}[method]
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


def restore_order(artefacts, first, components=None):
    """The components in first (the Vault server: the others' credentials live there) first, then the rest in
    manifest order; optionally only some."""
    chosen = [a for a in artefacts if not components or a["component"] in components]
    return sorted(chosen, key=lambda a: a["component"] not in first)


# Backup directories: <UTC timestamp>[-<n>], written as .<name>.part and renamed when complete.
_NAME = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")


def backup_names(stamp, taken):
    """Candidate names for a backup made at stamp, the first not in taken (names present, .part ones included)."""
    n = 1
    while True:
        name = stamp if n == 1 else "%s-%d" % (stamp, n)
        if name not in taken and ".%s.part" % name not in taken:
            yield name
        n += 1


def part_name(name):
    return ".%s.part" % name


def expired(names, keep):
    """The complete backups (names of directories that hold a manifest) beyond the newest keep; none when keep is 0."""
    if not keep:
        return []
    ordered = sorted((m.group(1), int(m.group(2) or 1), n) for n, m in ((n, _NAME.match(n)) for n in names) if m)
    return [n for _s, _i, n in ordered[:-keep]] if len(ordered) > keep else []
