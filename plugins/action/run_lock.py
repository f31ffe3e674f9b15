# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.run_lock: one run at a time per instance (module_utils/_runlock.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.colima_services.devenv.plugins.module_utils import _fastpath, _runlock


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("path", "wait", "instance"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        path, instance = os.path.expanduser(str(args.get("path") or "")), args.get("instance") or "default"
        if not path:
            raise AnsibleActionFail("run_lock needs a path")
        try:
            wait = float(args.get("wait", 10))
        except (TypeError, ValueError):
            raise AnsibleActionFail("devenv_run_lock_wait must be a number of seconds, got %r"
                                    % args.get("wait")) from None
        # Workers are forked by the ansible-playbook process: it is the run the lock belongs to.
        owner = os.getppid()
        result.update(changed=False, path=path, pid=owner)
        if _runlock.held_by_this_run(path, owner):
            result.update(msg="This run already holds the lock of instance '%s'." % instance,
                          holder=_runlock.read_holder(path))
            return result
        holder = subprocess.Popen(
            [sys.executable, _runlock.__file__, path, str(owner), str(wait)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, cwd="/",
            universal_newlines=True)
        word = (holder.stdout.readline() or "").strip().partition(" ")[0]
        holder.stdout.close()
        if word == "ok":
            # This run may change the instance: the fast path's record of the last complete run no longer holds.
            _fastpath.forget(os.path.dirname(path))
            result.update(msg="Took the lock of instance '%s' for this run (ansible-playbook pid %d)."
                              % (instance, owner), holder=_runlock.read_holder(path))
            return result
        holder.wait()
        if word == "busy":
            taken = _runlock.read_holder(path) or {}
            result.update(failed=True, holder=taken, msg=(
                "Another run of instance '%s' holds its lock (%s): %s. Nothing was changed. Wait for that run to end, "
                "or stop it (kill -INT %s), then run again; devenv_run_lock_wait (%gs) sets how long a run waits."
                % (instance, path, _runlock.describe(taken), taken.get("pid", "<pid>"), wait)))
            return result
        result.update(failed=True, msg="Could not take the lock %s of instance '%s' (the lock holder exited with %s). "
                                       "Check that devenv_home is a writable directory."
                                       % (path, instance, holder.returncode))
        return result
