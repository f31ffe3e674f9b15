# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Actions for colima_services.devenv.backup and .restore (restore.py subclasses this one).

Everything runs in this process through the Docker API: the dump commands run inside the service's own
container (docker exec) with the credentials the container already holds (PostgreSQL's local socket, MySQL's
0600 option file, the Redis node's config file, RabbitMQ's Erlang cookie, MongoDB's password file), write into a
private directory there, and the artefact is read back through the archive endpoint. Vault's raft snapshot goes
through its API with the root token read from the keys directory; Vault on file storage (the HashiCorp flavor) and
the components whose data is only in named volumes are copied volume by volume while the container is stopped.
No secret is ever an argument of a command or part of the result. The logic without I/O is in
module_utils/_backup.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st
from ansible_collections.colima_services.devenv.plugins.module_utils._files import atomic_open, sha256_file  # noqa: F401
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from ansible_collections.colima_services.devenv.plugins.plugin_utils._plan import is_a


class _Fail(Exception):
    pass


# The script that dumps and restores MongoDB with pymongo where the image has no database tools; uploaded into the
# container, never imported here.
MONGO_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "_mongo_dump.py")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "vault_dir", "dest", "vault_keys", "components"))

    # ---- shared -----------------------------------------------------------------------------
    def _connect(self, settings):
        self._s = settings
        try:
            self._engine = dk.Engine(settings, timeout=300)
        except dk.EngineUnavailable as exc:
            raise AnsibleActionFail(str(exc))

    def _container(self, component):
        """The running container of a component, inspected; fails naming it when it is missing or stopped."""
        name = self._s["container_prefix"] + component
        info = self._engine.container(name)
        if not info or not (info.get("State") or {}).get("Running"):
            raise _Fail("%s: container %s is %s. Bring it up first (run its role, or site.yml), then run this again."
                        % (component, name, "missing" if not info else (info.get("State") or {}).get("Status")))
        return info

    def _exec(self, info, argv, what, timeout=1800):
        try:
            return self._engine.exec_ok(info["Id"], argv, what, user=info["Config"].get("User") or "", timeout=timeout)
        except dk.ExecError as exc:
            raise _Fail(str(exc))

    def _workdir(self, info):
        self._exec(info, ["/bin/sh", "-c", 'rm -rf "$1" && mkdir -m 0700 "$1"', "sh", bk.WORK_DIR], "mkdir")

    def _cleanup(self, info):
        try:
            self._engine.exec_run(info["Id"], ["rm", "-rf", bk.WORK_DIR], "removing the work directory",
                                  user=info["Config"].get("User") or "", timeout=120)
        except dk.DockerError:
            pass

    def _vault_token(self, vault_dir):
        path = os.path.join(vault_dir, "root-token")
        try:
            with open(path) as handle:
                return handle.read().strip()
        except (IOError, OSError) as exc:
            raise _Fail("vault: the root token %s cannot be read (%s); the raft snapshot needs it" % (path, exc.strerror))

    def _vault_call(self, url, token, method="GET", data=None, timeout=120):
        try:
            return open_url(url, method=method, data=data, timeout=timeout, headers={"X-Vault-Token": token},
                            validate_certs=True)
        except HTTPError as exc:
            body = to_text(exc.read() or b"")[:300]
            raise _Fail("vault: %s %s answered %s: %s" % (method, url.split("/v1/", 1)[-1], exc.code, body))
        except (URLError, OSError) as exc:
            raise _Fail("vault: %s does not answer: %s" % (url, getattr(exc, "reason", exc)))

    def _wait_healthy(self, name, extra_check=None, after="the restore"):
        """Until Docker says healthy (or running without a healthcheck) and extra_check() is true."""
        try:
            return self._engine.wait_healthy(name, float(self._s.get("health_timeout", 120)), check=extra_check,
                                             give_up_on_exit=False)
        except dk.NotHealthy:
            pass
        raise _Fail("%s did not become healthy again within %s s after %s; look at its logs (docker logs %s) and run its "
                    "role to repair it" % (name, self._s.get("health_timeout"), after, name))

    def _stop(self, info):
        self._engine.stop(info["Id"], timeout=30)

    def _start(self, info, after, extra_check=None):
        """Start the container again and wait until it is healthy (and extra_check() is true)."""
        self._engine.start(info["Id"])
        self._wait_healthy(info["Name"].lstrip("/"), extra_check, after)

    def _vault_storage(self, token):
        """'raft' or 'file': Vault's storage, from its answer to sys/storage/raft/configuration."""
        try:
            response = open_url(self._vault_url + "/v1/sys/storage/raft/configuration", timeout=30,
                                headers={"X-Vault-Token": token}, validate_certs=True)
            status, body = response.getcode(), ""
        except HTTPError as exc:
            status, body = exc.code, to_text(exc.read() or b"")
        except (URLError, OSError) as exc:
            raise _Fail("vault: %s does not answer: %s" % (self._vault_url, getattr(exc, "reason", exc)))
        try:
            return bk.vault_storage(status, body)
        except ValueError as exc:
            raise _Fail("vault: %s" % exc)

    def _collection_version(self):
        """This collection's version: galaxy.yml in a checkout, MANIFEST.json once installed."""
        root = self._s.get("collection_root") or ""
        try:
            with open(os.path.join(root, "MANIFEST.json")) as handle:
                return json.load(handle)["collection_info"]["version"]
        except (IOError, OSError, ValueError, KeyError):
            pass
        try:
            with open(os.path.join(root, "galaxy.yml")) as handle:
                for line in handle:
                    if line.startswith("version:"):
                        return line.split(":", 1)[1].strip()
        except (IOError, OSError):
            pass
        return "unknown"

    # ---- backup -----------------------------------------------------------------------------
    def _save(self, directory, relpath, writer):
        """Write one artefact (0600, atomically: a temporary name, then rename); returns (size, sha256)."""
        path = os.path.join(directory, relpath)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with atomic_open(path, mode=0o600) as handle:
            writer(handle)
        return os.path.getsize(path), sha256_file(path)

    def _fetch(self, info, path):
        return lambda handle: self._engine.get_file(info["Id"], path, handle)

    def _fetch_tar(self, info, path):
        """A writer of the archive endpoint's tar of a directory (works on a stopped container)."""
        return lambda handle: self._engine.get_archive(info["Id"], path, handle)

    @staticmethod
    def _owner(info):
        """(uid, gid) the container runs as, for files written into it (gid: the uid's when the user names none)."""
        uid, _, gid = (info["Config"].get("User") or "0").partition(":")
        uid = uid if uid.isdigit() else "0"
        return uid, gid if gid.isdigit() else uid

    def _backup_volumes(self, component, info, record, extra=None):
        """volume_tar: stop the container, one tar per named volume (by its mount path), start it, wait until healthy."""
        mounts = bk.volume_mounts(info, self._s.get("volume_prefix") or "")
        if not mounts:
            raise _Fail("%s: its container mounts no named volume, so volume_tar has nothing to copy" % component)
        self._stop(info)
        try:
            for mount in mounts:
                entry = {"volume": mount["name"], "path": mount["path"]}
                entry.update(extra or {})
                record(bk.artefact_name(component, "volume_tar", mount["name"]), self._fetch_tar(info, mount["path"]),
                       entry, method="volume_tar")
        finally:
            self._start(info, "the backup", self._vault_check(component))

    def _vault_check(self, component):
        """For Vault, an extra health check: unsealed (after a restart it unseals itself with the keys it holds)."""
        if not is_a(self._plan.get(component), "vault_server"):
            return None
        token = self._vault_token(self._vault_dir)

        def unsealed(_info):
            try:
                return not json.loads(self._vault_call(self._vault_url + "/v1/sys/health?standbyok=true&sealedcode=200",
                                                       token, timeout=5).read()).get("sealed")
            except (_Fail, ValueError):
                return False
        return unsealed

    def _mongo_tool(self, info):
        """mongodump or python (this container's way to dump and restore); uploads the script for python."""
        try:
            tool = bk.mongo_tool(to_text(self._exec(info, bk.MONGO_TOOL, "looking for mongodump or pymongo")))
        except ValueError as exc:
            raise _Fail("mongodb: %s" % exc)
        if tool == "python":
            with open(MONGO_SCRIPT, "rb") as handle:
                script = handle.read()
            uid, gid = self._owner(info)
            self._engine.put_file(info["Id"], bk.MONGO_SCRIPT, script, mode=0o600, uid=uid, gid=gid)
        return tool

    def _mongo_user(self, component):
        return ((self._plan[component].get("vault") or {}).get("data") or {}).get("username") or "dev_user"

    def _backup_one(self, item, directory):
        component, method = item["component"], item["method"]
        info = self._container(component)
        version = st.version_of(info["Config"].get("Image"), None)
        out = []

        def record(relpath, writer, extra=None, method=method):
            size, digest = self._save(directory, relpath, writer)
            entry = {"component": component, "method": method, "file": relpath, "size": size, "sha256": digest,
                     "versions": {"image": info["Config"].get("Image"), "tag": version}}
            entry.update(extra or {})
            out.append(entry)

        if method == "raft_snapshot":
            token = self._vault_token(self._vault_dir)
            health = json.loads(self._vault_call(self._vault_url + "/v1/sys/health", token).read())
            if health.get("sealed"):
                raise _Fail("vault: sealed; unseal it (run playbooks/vault.yml) before a backup")
            if self._vault_storage(token) == "file":
                # No snapshot on file storage: the volume, copied while Vault is stopped; it unseals itself again.
                self._backup_volumes(component, info, record, {"storage": "file", "versions": {
                    "image": info["Config"].get("Image"), "server": health.get("version")}})
                return out
            response = self._vault_call(self._vault_url + "/v1/sys/storage/raft/snapshot", token, timeout=600)
            record(bk.artefact_name(component, method), lambda h: h.write(response.read()),
                   {"versions": {"image": info["Config"].get("Image"), "server": health.get("version")}})
            return out
        if method == "volume_tar":
            # Through the archive endpoint only: no command runs in the container (some images have no shell).
            self._backup_volumes(component, info, record)
            return out
        self._workdir(info)
        try:
            if method == "pg_dump":
                user = ((self._plan[component].get("vault") or {}).get("data") or {}).get("username") or "postgres"
                listing = to_text(self._exec(info, bk.pg_list(user), "listing the databases"))
                for db in bk.databases(listing, bk.PG_SKIP):
                    target = "%s/%s.dump" % (bk.WORK_DIR, db)
                    self._exec(info, bk.pg_dump(user, db, target), "pg_dump %s" % db)
                    record(bk.artefact_name(component, method, db), self._fetch(info, target),
                           {"database": db, "user": user})
            elif method == "mysqldump":
                listing = to_text(self._exec(info, bk.mysql_list(), "listing the databases"))
                dbs = bk.databases(listing, bk.MYSQL_SKIP)
                if dbs:
                    target = bk.WORK_DIR + "/dump.sql"
                    self._exec(info, bk.mysql_dump(dbs, target), "mysqldump")
                    record(bk.artefact_name(component, method), self._fetch(info, target), {"databases": dbs})
            elif method == "redis_rdb":
                rdb = to_text(self._exec(info, bk.REDIS_BGSAVE, "BGSAVE")).strip()
                if rdb == "replica":
                    return out  # a replica holds its master's data: one RDB per master
                record(bk.artefact_name(component, method), self._fetch(info, rdb))
            elif method == "rabbitmq_definitions":
                target = bk.WORK_DIR + "/definitions.json"
                self._exec(info, bk.RABBITMQ_EXPORT + [target], "export_definitions")
                record(bk.artefact_name(component, method), self._fetch(info, target))
            elif method == "mongodump":
                tool = self._mongo_tool(info)
                summary = json.loads(to_text(self._exec(info, bk.mongo_dump(tool, self._mongo_user(component)),
                                                        "dumping MongoDB with %s" % tool)).strip().splitlines()[-1])
                record(bk.artefact_name(component, method), self._fetch_tar(info, bk.MONGO_DUMP_DIR),
                       {"tool": "mongodump" if tool == "mongodump" else "pymongo",
                        "layout": "mongodump directory", "documents": summary.get("databases")})
            else:
                raise _Fail("%s: unknown backup method %r in the registry (devenv_components.%s.backup.method); use one of "
                            "%s, or none" % (component, method, component, ", ".join(bk.METHODS)))
        finally:
            self._cleanup(info)
        return out

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        self._plan, self._vault_url = args.get("plan") or {}, (args.get("vault_url") or "").rstrip("/")
        self._vault_dir = args.get("vault_dir") or ""
        return self._run(result, args)

    def _run(self, result, args):
        items = [dict(b, component=c) for c, b in ((n, self._plan[n]["backup"]) for n in sorted(self._plan))
                 if self._plan[c].get("enabled", True) and b.get("method", "none") != "none"]
        only = args.get("components")
        if only:
            items = [i for i in items if i["component"] in only]
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        directory = os.path.join(args["dest"], stamp)
        planned = ["%s: %s" % (i["component"], i["method"]) for i in items]
        result.update(changed=False, dir=directory, planned=planned)
        if self._task.check_mode:
            result["msg"] = "would write %s with %s" % (directory, ", ".join(planned))
            return result
        self._connect(args.get("settings") or {})
        artefacts = []
        try:
            os.makedirs(args["dest"], mode=0o700, exist_ok=True)
            os.mkdir(directory, 0o700)
            result["changed"] = True
            for item in items:
                artefacts.extend(self._backup_one(item, directory))
            if args.get("vault_keys"):
                # Without the keys that sealed it, the snapshot (and the vault_data volume) can never be opened.
                keys = os.path.join(self._vault_dir, "keys.json")
                size, digest = self._save(directory, "vault/keys.json", lambda h: h.write(open(keys, "rb").read()))
                artefacts.append({"component": "vault", "method": "vault_keys", "file": "vault/keys.json",
                                  "size": size, "sha256": digest, "versions": {}})
            data = bk.manifest(stamp, (self._s.get("labels") or {}).get(self._s.get("label_prefix", "") + ".instance"),
                               self._collection_version(), artefacts, args.get("vault_keys"))
            self._save(directory, bk.MANIFEST, lambda h: h.write(json.dumps(data, indent=2, sort_keys=True).encode()))
        except (_Fail, dk.ExecError) as exc:
            result.update(failed=True, msg="Backup failed; %s is incomplete and has no manifest (a restore refuses it): %s"
                                           % (directory, exc))
            return result
        except dk.DockerError as exc:
            result.update(failed=True, msg="Backup failed: the Docker engine answered: %s" % exc)
            return result
        finally:
            self._engine.close()
        result.update(artefacts=[dict((k, a[k]) for k in ("component", "method", "file", "size", "sha256"))
                                 for a in artefacts],
                      msg="Backup written to %s: %s" % (directory, ", ".join(
                          "%s (%s, %d bytes)" % (a["file"], a["method"], a["size"]) for a in artefacts)))
        return result
