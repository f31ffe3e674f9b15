# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.backup: one artefact per enabled component by its registry backup method.

The methods (one class each, looked up by name) are in plugins/plugin_utils/_backup_methods.py; the pure logic
(commands, names, manifest) in module_utils/_backup.py. The backup is written as <dest>/.<name>.part and renamed to
<dest>/<name> (the UTC timestamp, with -2, -3... when taken) only when it is complete, with its manifest; a failed
backup leaves nothing behind. devenv_backup_keep (keep) removes the oldest complete backups beyond that number.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import json
import os
import shutil

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup as bk
from ansible_collections.colima_services.devenv.plugins.module_utils._files import FileError, atomic_write
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _backup_methods as bm
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk


def connect(settings):
    try:
        return dk.Engine(settings, timeout=300)
    except dk.EngineUnavailable as exc:
        raise AnsibleActionFail(str(exc)) from None


def collection_version(root):
    """This collection's version: MANIFEST.json once installed, galaxy.yml in a checkout."""
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


def claim(dest, stamp):
    """(name, part directory): the first free name for stamp, claimed by creating its .part directory."""
    os.makedirs(dest, mode=0o700, exist_ok=True)
    for name in bk.backup_names(stamp, set(os.listdir(dest))):
        part = os.path.join(dest, bk.part_name(name))
        try:
            os.mkdir(part, 0o700)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue  # another backup claimed it a moment ago
            raise
        if os.path.exists(os.path.join(dest, name)):
            os.rmdir(part)
            continue
        return name, part


def prune(dest, keep, current):
    """Remove the complete backups beyond the newest keep (never the current one); the names removed."""
    names = [n for n in os.listdir(dest) if os.path.isfile(os.path.join(dest, n, bk.MANIFEST))]
    gone = [n for n in bk.expired(names, keep) if n != current]
    for name in gone:
        shutil.rmtree(os.path.join(dest, name))
    return gone


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "vault_dir", "dest", "vault_keys", "components", "keep"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        plan = args.get("plan") or {}
        items = [(c, plan[c]["backup"]["method"]) for c in sorted(plan)
                 if plan[c].get("enabled", True) and (plan[c].get("backup") or {}).get("method", "none") != "none"]
        if args.get("components"):
            items = [i for i in items if i[0] in args["components"]]
        dest = os.path.abspath(os.path.expanduser(str(args["dest"])))
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        planned = ["%s: %s" % i for i in items]
        result.update(changed=False, planned=planned)
        if self._task.check_mode:
            result["msg"] = "would write %s/%s with %s" % (dest, stamp, ", ".join(planned))
            return result
        settings = args.get("settings") or {}
        engine = connect(settings)
        session = bm.Session(engine, settings, plan, args.get("vault_url"), args.get("vault_dir"))
        part = None
        try:
            name, part = claim(dest, stamp)
            out = bm.Artefacts(part)
            for component, method in items:
                bm.backup_component(session, component, method, out)
            if args.get("vault_keys"):
                # Without the keys that sealed it, the snapshot (and the vault_data volume) can never be opened.
                with open(os.path.join(session.vault_dir, "keys.json"), "rb") as handle:
                    keys = handle.read()
                out.save("vault", {"Config": {}}, "vault_keys", "vault/keys.json", lambda h: h.write(keys))
            data = bk.manifest(os.path.basename(name), (settings.get("labels") or {}).get(
                settings.get("label_prefix", "") + ".instance"),
                collection_version(settings.get("collection_root") or ""), out.entries, args.get("vault_keys"))
            atomic_write(os.path.join(part, bk.MANIFEST), json.dumps(data, indent=2, sort_keys=True).encode(), 0o600)
            directory = os.path.join(dest, name)
            os.rename(part, directory)
            part = None
            result.update(changed=True, dir=directory, pruned=prune(dest, int(args.get("keep") or 0), name))
        except (bm.Fail, dk.DockerError, FileError, OSError) as exc:
            what = "the Docker engine answered: %s" % exc if type(exc) is dk.DockerError else str(exc)
            result.update(failed=True, msg="Backup failed, nothing of it was kept: %s" % what)
            return result
        finally:
            if part:
                shutil.rmtree(part, ignore_errors=True)
            engine.close()
        result.update(artefacts=[dict((k, a[k]) for k in ("component", "method", "file", "size", "sha256"))
                                 for a in out.entries],
                      msg="Backup written to %s: %s%s" % (result["dir"], ", ".join(
                          "%s (%s, %d bytes)" % (a["file"], a["method"], a["size"]) for a in out.entries),
                          "; removed the older %s (devenv_backup_keep)" % ", ".join(result["pruned"])
                          if result["pruned"] else ""))
        return result
