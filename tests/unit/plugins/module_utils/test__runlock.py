"""The run lock (issue 22, item 9): real processes and real ansible-playbook runs, no Docker needed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.colima_services.devenv.plugins.module_utils import _runlock
from conftest import ROOT

pytestmark = pytest.mark.playbook  # see pytest.ini

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def holder(path, owner, wait):
    proc = subprocess.Popen([sys.executable, _runlock.__file__, str(path), str(owner), str(wait)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    return proc, proc.stdout.readline().strip()


def wait_until(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_holder_keeps_the_lock_while_its_run_lives_and_frees_it_when_it_dies(tmp_path):
    path = tmp_path / "home" / "run.lock"
    run = subprocess.Popen(["sleep", "60"])
    try:
        first, said = holder(path, run.pid, 0)
        assert said.startswith("ok ") and json.loads(said[3:])["pid"] == run.pid
        assert oct(os.stat(path).st_mode & 0o777) == "0o600" and oct(os.stat(path.parent).st_mode & 0o777) == "0o700"
        assert _runlock.is_locked(str(path)) and _runlock.read_holder(str(path))["holder"] == first.pid

        started = time.time()
        second, said = holder(path, os.getpid(), 1)
        assert said.startswith("busy ") and json.loads(said[5:])["pid"] == run.pid
        assert 1 <= time.time() - started < 60 and second.wait(30) == 1
    finally:
        run.kill()
        run.wait()
    assert first.wait(5) == 0 and not _runlock.is_locked(str(path))
    third, said = holder(path, os.getpid(), 0)
    third.kill()
    assert said.startswith("ok ")


def test_a_run_started_inside_the_locked_run_is_part_of_it(tmp_path):
    path = tmp_path / "run.lock"
    me = os.getpid()
    first, said = holder(path, me, 0)
    try:
        assert said.startswith("ok ")
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getppid())"], capture_output=True, text=True)
        assert int(child.stdout) == me and me in _runlock.ancestors(me)
        assert _runlock.held_by_this_run(str(path), me)
        assert not _runlock.held_by_this_run(str(path), 1)
    finally:
        first.kill()
        first.wait()


def run_playbook(tmp_path, name, *extra, background=False):
    playbook = tmp_path / "hold.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.import_role: {name: colima_services.devenv.devenv, tasks_from: init}\n"
        "      vars: {devenv_init_preflight: false}\n"
        "    - ansible.builtin.import_role: {name: colima_services.devenv.devenv, tasks_from: init}\n"
        "      vars: {devenv_init_preflight: false}\n"
        "    - ansible.builtin.wait_for: {path: '%s', timeout: 60}\n"
        "      when: hold | default(false) | bool\n" % (tmp_path / "release"))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    argv = [PLAYBOOK, str(playbook), "-e", "devenv_home=%s" % (tmp_path / "home"), "-e", "devenv_instance=lock-test",
            *extra]
    out = open(tmp_path / ("%s.log" % name), "w")
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if background:
        return proc
    proc.wait(300)
    return proc, (tmp_path / ("%s.log" % name)).read_text()


def test_a_second_ansible_playbook_waits_then_fails_naming_the_first_and_ctrl_c_frees_the_lock(tmp_path):
    lock = tmp_path / "home" / "run.lock"
    first = run_playbook(tmp_path, "first", "-e", "hold=true", background=True)
    try:
        assert wait_until(lambda: _runlock.read_holder(str(lock)).get("pid") == first.pid, 120), \
            (tmp_path / "first.log").read_text()

        started = time.time()
        second, out = run_playbook(tmp_path, "second", "-e", "devenv_run_lock_wait=2")
        assert second.returncode != 0, out
        assert time.time() - started >= 2
        assert "Another run of instance 'lock-test' holds its lock" in out
        assert "ansible-playbook pid %d" % first.pid in out and "kill -INT %d" % first.pid in out
        assert "Nothing was changed" in out
        assert first.poll() is None  # the first run goes on

        first.send_signal(signal.SIGINT)
        first.wait(60)
        assert wait_until(lambda: not _runlock.is_locked(str(lock)), 10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    third, out = run_playbook(tmp_path, "third")
    assert third.returncode == 0, out
    # Taken once per run: the second import of init finds it held by this run.
    # (The task's header line: a timing callback such as profile_tasks repeats the name in its summary.)
    assert out.count("TASK [colima_services.devenv.devenv : Take the run lock of this instance") == 1, out
    assert wait_until(lambda: not _runlock.is_locked(str(lock)), 10)
