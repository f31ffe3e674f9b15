# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""One run at a time per instance: an exclusive flock on <devenv_home>/run.lock, held for a whole
ansible-playbook run.

Private to this collection. Tasks run in forked workers, so a lock taken by a task would end with its
worker. Instead the first task starts a small holder process (this file, run as a script) in a session of
its own: it takes the lock, writes who holds it into the file, says "ok" on its stdout and then waits
until the ansible-playbook process is gone, however it ends (success, failure, Ctrl-C, kill -9); the
lock goes with the holder, since the kernel drops an flock when its last descriptor closes. A run that
finds the lock taken waits up to `wait` seconds, then fails naming the holder.

Only the Python standard library: the holder runs as `python _runlock.py PATH OWNER_PID WAIT`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import subprocess
import sys
import time

POLL = 0.2


def alive(pid):
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (IOError, OSError, IndexError):
        return True


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (IOError, OSError, IndexError, ValueError):
        pass
    try:
        out = subprocess.run(["ps", "-o", "ppid=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def ancestors(pid):
    """pid and every process above it, up to (not including) init."""
    chain = []
    while pid and pid > 1 and pid not in chain:
        chain.append(pid)
        pid = parent_of(pid)
    return chain


def read_holder(path):
    """What the holder wrote into the lock file ({} when nothing readable)."""
    try:
        with open(path) as handle:
            return json.loads(handle.read() or "{}")
    except (IOError, OSError, ValueError):
        return {}


def is_locked(path):
    """True when some process holds the lock now."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return True
    finally:
        os.close(fd)
    return False


def held_by_this_run(path, owner):
    """True when the lock is held for owner (this ansible-playbook) or for a run that started it (a playbook
    run from inside a locked run, as the verbose scan does, is part of that run)."""
    if not is_locked(path):
        return False
    return read_holder(path).get("pid") in ancestors(owner)


def describe(holder):
    if not holder.get("pid"):
        return "another process (it wrote no details)"
    return "ansible-playbook pid %s (lock holder pid %s, since %s)" % (
        holder.get("pid"), holder.get("holder", "?"), holder.get("since", "?"))


def acquire(fd, wait):
    deadline = time.time() + max(0.0, float(wait))
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (BlockingIOError, PermissionError):
            if time.time() >= deadline:
                return False
            time.sleep(POLL)


def hold(path, owner, wait, out=None):
    """The holder: take the lock (waiting up to wait seconds), report, then keep it while owner lives."""
    out = out or sys.stdout
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if not acquire(fd, wait):
        out.write("busy %s\n" % json.dumps(read_holder(path)))
        out.flush()
        return 1
    record = json.dumps({"pid": owner, "holder": os.getpid(),
                         "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)
    out.write("ok %s\n" % record)
    out.flush()
    out.close()
    while alive(owner):
        time.sleep(POLL)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(hold(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
