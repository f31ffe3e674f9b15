# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.restore: a backup directory back into the running environment.

Before anything changes: the manifest (format major version), every artefact's sha256, and every precondition of
every component's restore (its container running, its method's own checks). Then the Vault server first, then the
others; each restore completes or leaves its component as it was (plugins/plugin_utils/_backup_methods.py: a new
database swapped in only on success, or a rollback copy of the current state put back on failure).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.colima_services.devenv.plugins.action.backup import connect
from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils._files import sha256_file
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _backup_methods as bm
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from ansible_collections.colima_services.devenv.plugins.plugin_utils._plan import is_a


def read_backup(directory):
    """(manifest, problems): the manifest and what forbids a restore (format, missing or altered files)."""
    try:
        with open(os.path.join(directory, bk.MANIFEST)) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        return None, ["%s cannot be read as a backup manifest (%s). Give -e backup=<a directory written by "
                      "playbooks/backup.yml>" % (os.path.join(directory, bk.MANIFEST), exc)]
    present = set()
    for root, _dirs, files in os.walk(directory):
        for name in files:
            present.add(os.path.relpath(os.path.join(root, name), directory))
    return data, bk.check_manifest(data, present, lambda rel: sha256_file(os.path.join(directory, rel)))


def scratch_dir(near):
    """A private directory for the rollback copies, beside the backups (same disk), else in the temp directory."""
    try:
        return tempfile.mkdtemp(prefix=".restore-", dir=near)
    except OSError:
        return tempfile.mkdtemp(prefix="devenv-restore-")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "vault_dir", "backup", "components"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        plan = args.get("plan") or {}
        directory = os.path.abspath(os.path.expanduser(str(args.get("backup") or "")))
        data, problems = read_backup(directory)
        if problems:
            result.update(failed=True, msg="Nothing was restored from %s: %s." % (directory, "; ".join(problems)))
            return result
        first = [c for c in plan if is_a(plan[c], "vault_server")]
        items = bk.restore_order(data.get("artefacts") or [], first, args.get("components"))
        missing = sorted(set(i["component"] for i in items if not plan.get(i["component"], {}).get("enabled")))
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
        settings = args.get("settings") or {}
        engine = connect(settings)
        session = bm.Session(engine, settings, plan, args.get("vault_url"), args.get("vault_dir"))
        try:
            problems = []
            for item in items:
                try:
                    bm.check_item(session, item, directory)
                except (bm.Fail, dk.DockerError) as exc:
                    problems.append(str(exc))
            if problems:
                result.update(failed=True, msg="Nothing was restored from %s: %s" % (directory, "; ".join(problems)))
                return result
            done = []
            scratch = scratch_dir(os.path.dirname(directory))
            try:
                for item in items:
                    result["changed"] = True
                    bm.restore_item(session, item, directory, scratch)
                    done.append(item["file"])
                for component in sorted(set(i["component"] for i in items if is_a(plan[i["component"]], "redis_node"))):
                    session.wait_healthy(settings["container_prefix"] + component, bm.cluster_ok(session, component))
            except (bm.Fail, dk.DockerError) as exc:
                result.update(failed=True, msg="Restore failed at %s: %s. Restored before it: %s." % (
                    item["file"], exc, ", ".join(done) or "nothing"))
                return result
            finally:
                try:
                    os.rmdir(scratch)  # a rollback copy that could not be put back stays, named in the message
                except OSError:
                    pass
        finally:
            engine.close()
        result["msg"] = "Restored from %s: %s" % (directory, ", ".join(planned))
        return result
