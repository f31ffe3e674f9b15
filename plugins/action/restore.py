# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.restore: a backup directory back into the running environment.

Checks the manifest (format major version) and every artefact's sha256 before anything changes; then restores
Vault first (raft snapshot through its API, or its volume on file storage), then each other artefact inside its own
container; a volume is emptied by a short-lived helper container and written back while its container is stopped.
Shares its Docker and Vault helpers with the backup action.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tarfile

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.colima_services.devenv.plugins.action.backup import ActionModule as BackupAction, _Fail, sha256_file
from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk


class ActionModule(BackupAction):
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "vault_dir", "backup", "components"))

    def _put(self, info, directory, relpath, target):
        with open(os.path.join(directory, relpath), "rb") as handle:
            content = handle.read()
        uid, gid = self._owner(info)
        self._engine.put_file(info["Id"], target, content, mode=0o600, uid=uid, gid=gid)

    def _put_tar(self, info, path, parent):
        """Extract a tar (the archive endpoint's own layout) into parent in the container (which may be stopped)."""
        with open(path, "rb") as handle:
            self._engine.put_archive(info["Id"], parent, handle)

    def _check_tar(self, component, path, top):
        try:
            with tarfile.open(path, "r:") as tar:
                problem = bk.tar_problem(tar.getnames(), top)
        except (tarfile.TarError, IOError, OSError) as exc:
            problem = "not a tar (%s)" % exc
        if problem:
            raise _Fail("%s: %s: %s; nothing of it was restored" % (component, os.path.basename(path), problem))

    def _empty_volume(self, info, path):
        """Empty a stopped container's volume at path: a helper container from the same image (its /bin/sh, as root,
        no network) with the container's volumes, removed afterwards. Labelled like the environment's containers, so
        that a reset removes one left behind."""
        name = info["Name"].lstrip("/") + "-restore-helper"
        code = self._engine.run_helper(name, info["Image"], bk.EMPTY_DIR + [path], labels=self._s.get("labels"),
                                       volumes_from=[info["Id"]])
        if code != 0:
            raise _Fail("emptying %s in %s failed (helper container exit %s)" % (path, info["Name"].lstrip("/"), code))

    def _restore_volume(self, component, info, item, directory):
        """volume_tar: the volume at the backup's path emptied and written back while the container is stopped."""
        path = item.get("path") or ""
        if path not in [m["path"] for m in bk.volume_mounts(info)]:
            raise _Fail("%s: its container has no named volume at %r (where the backup's %s came from); nothing of it was "
                        "restored" % (component, path, item["file"]))
        local = os.path.join(directory, item["file"])
        self._check_tar(component, local, path.rstrip("/").rsplit("/", 1)[-1])
        if self._engine.stat(info["Id"], "/bin/sh") is None:
            raise _Fail("%s: its image has no /bin/sh to empty the volume with before the restore; nothing of it was "
                        "restored. Restore %s by hand (docker volume rm and recreate, then docker cp)" % (component, path))
        self._stop(info)
        try:
            self._empty_volume(info, path)
            self._put_tar(info, local, path.rstrip("/").rsplit("/", 1)[0] or "/")
        finally:
            self._start(info, "the restore", self._vault_check(component))

    def _restore_one(self, item, directory):
        component, method = item["component"], item["method"]
        info = self._container(component)
        if method == "raft_snapshot":
            token = self._vault_token(self._vault_dir)
            with open(os.path.join(directory, item["file"]), "rb") as handle:
                # Not -force: Vault refuses a snapshot taken with other unseal keys instead of sealing itself.
                self._vault_call(self._vault_url + "/v1/sys/storage/raft/snapshot", token, method="POST",
                                 data=handle.read(), timeout=600)
            self._wait_healthy(info["Name"].lstrip("/"), self._vault_check(component))
            return
        if method == "vault_keys":
            return  # kept in the backup for the user; never written over the live keys
        if method == "volume_tar":
            self._restore_volume(component, info, item, directory)
            return
        if method == "mongodump":
            self._check_tar(component, os.path.join(directory, item["file"]), bk.MONGO_DUMP_DIR.rsplit("/", 1)[-1])
        self._workdir(info)
        try:
            target = "%s/%s" % (bk.WORK_DIR, os.path.basename(item["file"]))
            if method == "mongodump":
                tool = self._mongo_tool(info)
                self._put_tar(info, os.path.join(directory, item["file"]), bk.WORK_DIR)
                self._exec(info, bk.mongo_restore(tool, self._mongo_user(component)), "restoring MongoDB with %s" % tool)
                return
            self._put(info, directory, item["file"], target)
            if method == "pg_dump":
                self._exec(info, bk.pg_restore(item.get("user") or "postgres", item["database"], target),
                           "pg_restore %s" % item["database"])
            elif method == "mysqldump":
                self._exec(info, bk.mysql_restore(target), "restoring the SQL dump")
            elif method == "rabbitmq_definitions":
                self._exec(info, bk.RABBITMQ_RESTORE + [target], "import_definitions")
                self._wait_healthy(info["Name"].lstrip("/"))
            elif method == "redis_rdb":
                self._exec(info, bk.REDIS_RESTORE + [target], "placing the RDB")
                self._engine.restart(info["Id"], timeout=10)
                self._restarted.append(info["Name"].lstrip("/"))
            else:
                raise _Fail("%s: unknown backup method %r in the manifest; nothing of it was restored" % (component, method))
        finally:
            self._cleanup(info)

    def _cluster_ok(self, info):
        code, out, _err = self._engine.exec_run(info["Id"], bk.REDIS_CLUSTER_STATE, "reading the cluster state",
                                                user=info["Config"].get("User") or "", timeout=10)
        return code == 0 and to_text(out).strip() == "ok"

    def _run(self, result, args):
        directory = os.path.abspath(os.path.expanduser(str(args.get("backup") or "")))
        manifest_path = os.path.join(directory, bk.MANIFEST)
        try:
            with open(manifest_path) as handle:
                data = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            result.update(failed=True, msg="Nothing was restored: %s cannot be read as a backup manifest (%s). Give "
                                           "-e backup=<a directory written by playbooks/backup.yml>." % (manifest_path, exc))
            return result
        present = set()
        for root, _dirs, files in os.walk(directory):
            for name in files:
                present.add(os.path.relpath(os.path.join(root, name), directory))
        problems = bk.check_manifest(data, present, lambda rel: sha256_file(os.path.join(directory, rel)))
        if problems:
            result.update(failed=True, msg="Nothing was restored from %s: %s." % (directory, "; ".join(problems)))
            return result
        items = bk.restore_order(data.get("artefacts") or [], args.get("components"))
        missing = sorted(set(i["component"] for i in items if not self._plan.get(i["component"], {}).get("enabled")))
        if missing:
            result.update(failed=True, msg="Nothing was restored: the backup holds %s, which this environment does not "
                                           "run (enable them, or pick components with devenv_restore_components)."
                                           % ", ".join(missing))
            return result
        planned = ["%s (%s)" % (i["file"], i["method"]) for i in items]
        result.update(changed=False, dir=directory, planned=planned)
        if self._task.check_mode:
            result["msg"] = "checksums verified; would restore %s" % ", ".join(planned)
            return result
        self._connect(args.get("settings") or {})
        self._restarted = []
        try:
            for item in items:
                result["changed"] = True
                self._restore_one(item, directory)
            for name in self._restarted:
                self._wait_healthy(name, self._cluster_ok)
        except (_Fail, dk.ExecError) as exc:
            result.update(failed=True, msg="Restore failed part way (%s): %s" % (item["file"], exc))
            return result
        except dk.DockerError as exc:
            result.update(failed=True, msg="Restore failed: the Docker engine answered: %s" % exc)
            return result
        finally:
            self._engine.close()
        result["msg"] = "Restored from %s: %s" % (directory, ", ".join(planned))
        return result
