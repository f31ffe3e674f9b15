# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Backup and restore, one class per registry backup method, looked up in METHODS; used by the backup and restore
actions (which stay thin).

A method has three steps: backup (one or more artefacts), check (before anything of any component changes: every
precondition of its restore) and restore (it completes, or raises; the runner in restore_item then puts the
component's state from just before back, from a rollback copy made with the same method, unless the method says
it never changes anything before it has succeeded: in_place = False).

Every command runs inside the service's own container (docker exec, with a deadline and a description of what it
does) with the credentials the container already holds; no secret is ever an argument or part of a message. The
pure logic (commands, manifest, names) is in module_utils/_backup.py.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tarfile
import tempfile

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st
from ansible_collections.colima_services.devenv.plugins.module_utils._files import atomic_open, sha256_file
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from ansible_collections.colima_services.devenv.plugins.plugin_utils._plan import is_a

# The script that dumps and restores MongoDB with pymongo where the image has no database tools; uploaded into the
# container, never imported here.
MONGO_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils",
                            "_mongo_dump.py")

# Deadlines (s) of the commands run in the containers: quick questions, and dumps or restores of data.
QUICK, LONG = 60, 1800


class Fail(Exception):
    """A backup or restore step failed; the message says what and what to do."""


class Session(object):
    """What every method needs: the engine, the settings, the plan, Vault's URL and keys directory."""

    def __init__(self, engine, settings, plan, vault_url, vault_dir):
        self.engine, self.settings, self.plan = engine, settings, plan
        self.vault_url, self.vault_dir = (vault_url or "").rstrip("/"), vault_dir or ""

    # ---- containers ----------------------------------------------------------------------------
    def container(self, component):
        """The running container of a component, inspected; fails naming it when it is missing or stopped."""
        name = self.settings["container_prefix"] + component
        info = self.engine.container(name)
        if not info or not (info.get("State") or {}).get("Running"):
            raise Fail("%s: container %s is %s. Bring it up first (run its role, or site.yml), then run this again."
                       % (component, name, "missing" if not info else (info.get("State") or {}).get("Status")))
        return info

    @staticmethod
    def name(info):
        return info["Name"].lstrip("/")

    @staticmethod
    def user(info):
        return info["Config"].get("User") or ""

    def exec(self, info, argv, what, timeout=QUICK):
        """stdout of argv run in the container within timeout s; Fail naming what it was doing otherwise."""
        try:
            return self.engine.exec_ok(self.name(info), argv, what, user=self.user(info),
                                       env=bk.conf_env(self.settings), timeout=timeout)
        except dk.ExecError as exc:
            raise Fail(str(exc)) from None

    def workdir(self, info):
        self.exec(info, ["/bin/sh", "-c", 'rm -rf "$1" && mkdir -m 0700 "$1"', "sh", bk.WORK_DIR],
                  "making the private work directory %s" % bk.WORK_DIR)

    def cleanup(self, info):
        try:
            self.engine.exec_run(self.name(info), ["rm", "-rf", bk.WORK_DIR], "removing the work directory",
                                 user=self.user(info), timeout=QUICK)
        except dk.DockerError:
            pass

    def owner(self, info):
        """(uid, gid) the container runs as, for files written into it: from its User when numeric, else asked."""
        uid, _, gid = (info["Config"].get("User") or "0").partition(":")
        if uid.isdigit() and (gid.isdigit() or not gid):
            return uid, gid or uid
        found = to_text(self.exec(info, ["/bin/sh", "-c", "id -u; id -g"], "reading the user's uid and gid")).split()
        return found[0], found[1]

    def put(self, info, local, target):
        with open(local, "rb") as handle:
            content = handle.read()
        uid, gid = self.owner(info)
        self.engine.put_file(info["Id"], target, content, mode=0o600, uid=uid, gid=gid)

    def wait_healthy(self, name, check=None, after="the restore"):
        """Until Docker says healthy (or running without a healthcheck) and check(inspect) is true."""
        timeout = self.settings.get("health_timeout", 120)
        try:
            return self.engine.wait_healthy(name, float(timeout), check=check, give_up_on_exit=False)
        except dk.NotHealthy:
            raise Fail("%s did not become healthy again within %s s after %s; look at its logs (docker logs %s) and "
                       "run its role to repair it" % (name, timeout, after, name)) from None

    def stopped(self, info, component, after):
        """A context that stops the container and always starts it again (and waits until it is healthy)."""
        return _Stopped(self, info, component, after)

    # ---- Vault ---------------------------------------------------------------------------------
    def vault_token(self):
        path = os.path.join(self.vault_dir, "root-token")
        try:
            with open(path) as handle:
                return handle.read().strip()
        except (IOError, OSError) as exc:
            raise Fail("vault: the root token %s cannot be read (%s); the raft snapshot needs it"
                       % (path, exc.strerror)) from exc

    def vault_call(self, path, token, method="GET", data=None, timeout=120):
        url = self.vault_url + "/v1/" + path
        try:
            return open_url(url, method=method, data=data, timeout=timeout, headers={"X-Vault-Token": token},
                            validate_certs=True)
        except HTTPError as exc:
            body = to_text(exc.read() or b"")[:300]
            raise Fail("vault: %s %s answered %s: %s" % (method, path, exc.code, body)) from None
        except (URLError, OSError) as exc:
            raise Fail("vault: %s does not answer: %s" % (url, getattr(exc, "reason", exc))) from exc

    def vault_health(self, token):
        health = json.loads(self.vault_call("sys/health?standbyok=true&sealedcode=200&uninitcode=200", token).read())
        if health.get("sealed"):
            raise Fail("vault: sealed; unseal it (run playbooks/vault.yml), then run this again")
        return health

    def vault_storage(self, token):
        """'raft' or 'file': Vault's storage, from its answer to sys/storage/raft/configuration."""
        try:
            response = open_url(self.vault_url + "/v1/sys/storage/raft/configuration", timeout=30,
                                headers={"X-Vault-Token": token}, validate_certs=True)
            status, body = response.getcode(), ""
        except HTTPError as exc:
            status, body = exc.code, to_text(exc.read() or b"")
        except (URLError, OSError) as exc:
            raise Fail("vault: %s does not answer: %s" % (self.vault_url, getattr(exc, "reason", exc))) from exc
        try:
            return bk.vault_storage(status, body)
        except ValueError as exc:
            raise Fail("vault: %s" % exc) from None

    def vault_check(self, component):
        """For a Vault server, an extra health check: unsealed (after a restart it unseals itself with its keys)."""
        if not is_a(self.plan.get(component), "vault_server"):
            return None
        token = self.vault_token()

        def unsealed(_info):
            try:
                return not json.loads(self.vault_call("sys/health?standbyok=true&sealedcode=200", token,
                                                      timeout=5).read()).get("sealed")
            except (Fail, ValueError):
                return False
        return unsealed

    def credential(self, component, default):
        """The user name the component's Vault secret holds (the dump and restore run as it)."""
        return ((self.plan.get(component, {}).get("vault") or {}).get("data") or {}).get("username") or default


class _Stopped(object):
    def __init__(self, session, info, component, after):
        self.s, self.info, self.component, self.after = session, info, component, after

    def __enter__(self):
        self.s.engine.stop(self.info["Id"], timeout=30)
        return self

    def __exit__(self, kind, exc, tb):
        self.s.engine.start(self.info["Id"])
        try:
            self.s.wait_healthy(self.s.name(self.info), self.s.vault_check(self.component), self.after)
        except Fail:
            if kind is None:
                raise
        return False


class Artefacts(object):
    """Where a backup writes: files 0600 (atomically) under directory, and their manifest entries."""

    def __init__(self, directory):
        self.directory, self.entries = directory, []

    def save(self, component, info, method, relpath, writer, **extra):
        path = os.path.join(self.directory, relpath)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with atomic_open(path, mode=0o600) as handle:
            writer(handle)
        image = info["Config"].get("Image")
        entry = {"component": component, "method": method, "file": relpath, "size": os.path.getsize(path),
                 "sha256": sha256_file(path),
                 "versions": {"image": image, "tag": st.version_of(image, None)} if image else {}}
        entry.update(extra)
        self.entries.append(entry)
        return entry


def _bytes(data):
    return lambda handle: handle.write(data)


class Method(object):
    """One backup method. in_place: its restore changes the live data before it knows it succeeded (the runner
    then keeps a rollback copy); False when the restore builds the new state aside and swaps it in."""

    in_place = True

    def backup(self, s, component, info, out):
        raise NotImplementedError

    def check(self, s, item, info, local):
        """Every precondition of the restore, before anything changes; raises Fail."""

    def restore(self, s, item, info, local):
        raise NotImplementedError


class VolumeTar(Method):
    """Each named volume, read and written through the archive endpoint while the container is stopped."""

    def backup(self, s, component, info, out, **extra):
        mounts = bk.volume_mounts(info, s.settings.get("volume_prefix") or "")
        if not mounts:
            raise Fail("%s: its container mounts no named volume, so volume_tar has nothing to copy" % component)
        with s.stopped(info, component, "the backup"):
            for mount in mounts:
                out.save(component, info, "volume_tar", bk.artefact_name(component, "volume_tar", mount["name"]),
                         lambda h, p=mount["path"]: s.engine.get_archive(info["Id"], p, h),
                         volume=mount["name"], path=mount["path"], **extra)

    def check(self, s, item, info, local):
        path = item.get("path") or ""
        if path not in [m["path"] for m in bk.volume_mounts(info)]:
            raise Fail("%s: its container has no named volume at %r (where the backup's %s came from)"
                       % (item["component"], path, item["file"]))
        check_tar(item["component"], local, path.rstrip("/").rsplit("/", 1)[-1])
        if s.engine.stat(info["Id"], "/bin/sh") is None:
            raise Fail("%s: its image has no /bin/sh to empty the volume with before the restore. Restore %s by hand "
                       "(docker volume rm and recreate, then docker cp)" % (item["component"], path))

    def restore(self, s, item, info, local):
        path = item["path"]
        with s.stopped(info, item["component"], "the restore"):
            # A short-lived helper from the same image (its /bin/sh, root, no network) with the container's volumes,
            # labelled like the environment's containers (a reset removes one left behind).
            code = s.engine.run_helper(s.name(info) + "-restore-helper", info["Image"], [*bk.EMPTY_DIR, path],
                                       labels=s.settings.get("labels"), volumes_from=[info["Id"]])
            if code != 0:
                raise Fail("emptying %s in %s failed (helper container exit %s)" % (path, s.name(info), code))
            with open(local, "rb") as handle:
                s.engine.put_archive(info["Id"], path.rstrip("/").rsplit("/", 1)[0] or "/", handle)


class RaftSnapshot(Method):
    """Vault's raft snapshot through its API; on file storage (no snapshot) its volume instead (volume_tar)."""

    def backup(self, s, component, info, out):
        token = s.vault_token()
        health = s.vault_health(token)
        versions = {"image": info["Config"].get("Image"), "server": health.get("version")}
        if s.vault_storage(token) == "file":
            VolumeTar().backup(s, component, info, out, storage="file", versions=versions)
            return
        response = s.vault_call("sys/storage/raft/snapshot", token, timeout=600)
        out.save(component, info, "raft_snapshot", bk.artefact_name(component, "raft_snapshot"),
                 lambda h: shutil.copyfileobj(response, h), versions=versions)

    def check(self, s, item, info, local):
        s.vault_health(s.vault_token())

    def restore(self, s, item, info, local):
        with open(local, "rb") as handle:
            # Not -force: Vault refuses a snapshot taken with other unseal keys instead of sealing itself.
            s.vault_call("sys/storage/raft/snapshot", s.vault_token(), method="POST", data=handle.read(), timeout=600)
        s.wait_healthy(s.name(info), s.vault_check(item["component"]))


class PgDump(Method):
    """One custom-format dump per database, streamed out of pg_dump; restored into a new database that replaces
    the old one only when pg_restore succeeded."""

    in_place = False

    def backup(self, s, component, info, out):
        user = s.credential(component, "postgres")
        listing = to_text(s.exec(info, bk.pg_list(user), "listing the PostgreSQL databases"))
        for db in bk.databases(listing, bk.PG_SKIP):
            data = s.exec(info, bk.pg_dump(user, db), "pg_dump of database %s" % db, timeout=LONG)
            out.save(component, info, "pg_dump", bk.artefact_name(component, "pg_dump", db), _bytes(data),
                     database=db, user=user)

    def restore(self, s, item, info, local):
        user, db = item.get("user") or "postgres", item["database"]
        s.workdir(info)
        try:
            target = "%s/%s" % (bk.WORK_DIR, os.path.basename(item["file"]))
            s.put(info, local, target)
            s.exec(info, bk.pg_restore_aside(user, db, target), "pg_restore of %s into a new database" % db,
                   timeout=LONG)
            s.exec(info, bk.pg_swap(user, db), "swapping the restored database %s in" % db)
        finally:
            s.cleanup(info)


class MysqlDump(Method):
    """Every user database in one SQL dump, streamed out of mysqldump (mariadb-dump)."""

    def backup(self, s, component, info, out):
        listing = to_text(s.exec(info, bk.mysql_list(), "listing the MySQL databases"))
        dbs = bk.databases(listing, bk.MYSQL_SKIP)
        if dbs:
            data = s.exec(info, bk.mysql_dump(dbs), "mysqldump of %s" % ", ".join(dbs), timeout=LONG)
            out.save(component, info, "mysqldump", bk.artefact_name(component, "mysqldump"), _bytes(data),
                     databases=dbs)

    def restore(self, s, item, info, local):
        s.workdir(info)
        try:
            target = "%s/%s" % (bk.WORK_DIR, os.path.basename(item["file"]))
            s.put(info, local, target)
            s.exec(info, bk.mysql_restore(target), "loading the SQL dump", timeout=LONG)
        finally:
            s.cleanup(info)


class RedisRdb(Method):
    """A master's RDB (a replica holds its master's data: none); restored as the node's data, then a restart."""

    def backup(self, s, component, info, out):
        rdb = to_text(s.exec(info, bk.REDIS_BGSAVE, "BGSAVE", timeout=LONG)).strip()
        if rdb != "replica":
            out.save(component, info, "redis_rdb", bk.artefact_name(component, "redis_rdb"),
                     lambda h: s.engine.get_file(info["Id"], rdb, h))

    def restore(self, s, item, info, local):
        s.workdir(info)
        try:
            target = "%s/%s" % (bk.WORK_DIR, os.path.basename(item["file"]))
            s.put(info, local, target)
            s.exec(info, [*bk.REDIS_RESTORE, target], "placing the RDB")
        finally:
            s.cleanup(info)
        s.engine.restart(info["Id"], timeout=10)
        s.wait_healthy(s.name(info))


class RabbitmqDefinitions(Method):
    """The definitions (users, vhosts, queues, policies); the node is reset before the import."""

    def backup(self, s, component, info, out):
        s.workdir(info)
        try:
            target = bk.WORK_DIR + "/definitions.json"
            s.exec(info, [*bk.RABBITMQ_EXPORT, target], "export_definitions", timeout=LONG)
            out.save(component, info, "rabbitmq_definitions", bk.artefact_name(component, "rabbitmq_definitions"),
                     lambda h: s.engine.get_file(info["Id"], target, h))
        finally:
            s.cleanup(info)

    def restore(self, s, item, info, local):
        s.workdir(info)
        try:
            target = "%s/%s" % (bk.WORK_DIR, os.path.basename(item["file"]))
            s.put(info, local, target)
            s.exec(info, [*bk.RABBITMQ_RESTORE, target], "resetting the node and import_definitions", timeout=LONG)
        finally:
            s.cleanup(info)
        s.wait_healthy(s.name(info))


class Mongodump(Method):
    """mongodump's directory layout in a tar (mongodump, or the pymongo script where the image has no tools)."""

    def _tool(self, s, info):
        try:
            tool = bk.mongo_tool(to_text(s.exec(info, bk.MONGO_TOOL, "looking for mongodump or pymongo")))
        except ValueError as exc:
            raise Fail("mongodb: %s" % exc) from exc
        if tool == "python":
            with open(MONGO_SCRIPT, "rb") as handle:
                script = handle.read()
            uid, gid = s.owner(info)
            s.engine.put_file(info["Id"], bk.MONGO_SCRIPT, script, mode=0o600, uid=uid, gid=gid)
        return tool

    def backup(self, s, component, info, out):
        s.workdir(info)
        try:
            tool = self._tool(s, info)
            printed = to_text(s.exec(info, bk.mongo_dump(tool, s.credential(component, "dev_user")),
                                     "dumping MongoDB with %s" % tool, timeout=LONG)).strip()
            summary = json.loads(printed.splitlines()[-1])
            out.save(component, info, "mongodump", bk.artefact_name(component, "mongodump"),
                     lambda h: s.engine.get_archive(info["Id"], bk.MONGO_DUMP_DIR, h),
                     tool="mongodump" if tool == "mongodump" else "pymongo", layout="mongodump directory",
                     documents=summary.get("databases"))
        finally:
            s.cleanup(info)

    def check(self, s, item, info, local):
        check_tar(item["component"], local, bk.MONGO_DUMP_DIR.rsplit("/", 1)[-1])

    def restore(self, s, item, info, local):
        s.workdir(info)
        try:
            tool = self._tool(s, info)
            with open(local, "rb") as handle:
                s.engine.put_archive(info["Id"], bk.WORK_DIR, handle)
            s.exec(info, bk.mongo_restore(tool, s.credential(item["component"], "dev_user")),
                   "restoring MongoDB with %s" % tool, timeout=LONG)
        finally:
            s.cleanup(info)


class VaultKeys(Method):
    """Vault's keys.json, kept in the backup for the user; never written over the live keys."""

    in_place = False

    def restore(self, s, item, info, local):
        return None


METHODS = {
    "raft_snapshot": RaftSnapshot(),
    "pg_dump": PgDump(),
    "mysqldump": MysqlDump(),
    "redis_rdb": RedisRdb(),
    "rabbitmq_definitions": RabbitmqDefinitions(),
    "mongodump": Mongodump(),
    "volume_tar": VolumeTar(),
    "vault_keys": VaultKeys(),
}


def method(component, name, where):
    """The method of that name; Fail naming the registry field (or the manifest) and the choices otherwise."""
    if name not in METHODS or (name == "vault_keys" and where != "the manifest"):
        raise Fail("%s: unknown backup method %r in %s; use one of %s, or none"
                   % (component, name, where, ", ".join(bk.METHODS)))
    return METHODS[name]


def cluster_ok(s, component):
    """A health check for a Redis Cluster node: its CLUSTER INFO says cluster_state:ok."""
    def check(info):
        try:
            code, out, _err = s.engine.exec_run(s.name(info), bk.REDIS_CLUSTER_STATE, "reading the cluster state",
                                                user=s.user(info), env=bk.conf_env(s.settings), timeout=10)
        except dk.DockerError:
            return False
        return code == 0 and to_text(out).strip() == "ok"
    return check


def check_tar(component, path, top):
    try:
        with tarfile.open(path, "r:") as tar:
            problem = bk.tar_problem(tar.getnames(), top)
    except (tarfile.TarError, IOError, OSError) as exc:
        problem = "not a tar (%s)" % exc
    if problem:
        raise Fail("%s: %s: %s" % (component, os.path.basename(path), problem))


def backup_component(s, component, method_name, out):
    method(component, method_name, "the registry (devenv_components.%s.backup.method)" % component).backup(
        s, component, s.container(component), out)


def check_item(s, item, directory):
    """Fail when the item cannot be restored now (its container, its method's preconditions)."""
    chosen = method(item["component"], item["method"], "the manifest")
    chosen.check(s, item, s.container(item["component"]), os.path.join(directory, item["file"]))


def restore_item(s, item, directory, scratch):
    """Restore one artefact; when it fails, put the component's state from just before back (in_place methods: a
    rollback copy made in scratch with the same method first). Fail says which of the two happened."""
    component, chosen = item["component"], METHODS[item["method"]]
    info = s.container(component)
    rollback, copy = None, None
    if chosen.in_place:
        copy = Artefacts(tempfile.mkdtemp(prefix="rollback-%s-" % component, dir=scratch))
        try:
            chosen.backup(s, component, info, copy)
        except (Fail, dk.DockerError) as exc:
            raise Fail("%s: no rollback copy of its current state could be made (%s); it was left as it was"
                       % (component, exc)) from exc
        rollback = [(e, os.path.join(copy.directory, e["file"])) for e in copy.entries if e["file"] == item["file"]]
        rollback = rollback[0] if rollback else None
    try:
        chosen.restore(s, item, s.container(component), os.path.join(directory, item["file"]))
    except (Fail, dk.DockerError) as exc:
        if not chosen.in_place:
            raise Fail("%s: %s; it was left as it was" % (component, exc)) from exc
        if rollback is None:
            raise Fail("%s: %s; there was nothing to roll back to (it held no such data before)"
                       % (component, exc)) from exc
        try:
            s.engine.start(info["Id"])
            chosen.restore(s, rollback[0], s.container(component), rollback[1])
        except (Fail, dk.DockerError) as again:
            raise Fail("%s: %s; rolling back failed too (%s): its state from before the restore is kept in %s"
                       % (component, exc, again, rollback[1])) from again
        shutil.rmtree(copy.directory, ignore_errors=True)
        raise Fail("%s: %s; it was rolled back to its state from before the restore" % (component, exc)) from exc
    if copy:
        shutil.rmtree(copy.directory, ignore_errors=True)
