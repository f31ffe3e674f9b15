"""The docker_host role's Colima step, driven against a test-only stand-in for the colima CLI.

Only the engine step runs (--tags docker_host_engine), so no Docker engine is touched.
"""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.playbook  # see pytest.ini

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDIN = os.path.join(ROOT, "tests", "integration", "fixtures", "colima-standin")


def run_engine_step(tmp_path, command, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               COLIMA_STANDIN_LOG=str(tmp_path / "calls"), COLIMA_STANDIN_STATE=str(tmp_path / "state"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run(
        [playbook, "playbooks/platform.yml", "--tags", "docker_host_engine",
         "-e", "docker_host_engine=colima", "-e", "docker_host_colima_command=%s" % command,
         "-e", "docker_host_colima_memory_gb=6", "-e", "devenv_home=%s" % (tmp_path / "home"), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return proc, calls


def recap(output):
    match = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert match, output
    return int(match.group(2)), int(match.group(3))


START = ("start --profile default --cpu 4 --memory 6 --disk 60 --vm-type vz --arch aarch64 --mount-type virtiofs "
         "--runtime docker")


def test_starts_a_stopped_colima_once_with_the_configured_size(tmp_path):
    proc, calls = run_engine_step(tmp_path, STANDIN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls == ["list --json", START]
    assert recap(proc.stdout) == (1, 0)

    proc, calls = run_engine_step(tmp_path, STANDIN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls[2:] == ["list --json", "status --profile default --json"]  # running and matching: left alone
    assert recap(proc.stdout) == (0, 0)


def test_other_resources_are_applied_only_when_asked_and_a_disk_never_shrinks(tmp_path):
    assert run_engine_step(tmp_path, STANDIN)[0].returncode == 0
    # More memory and disk: said, not done.
    proc, calls = run_engine_step(tmp_path, STANDIN, "-e", "docker_host_colima_memory_gb=12",
                                  "-e", "docker_host_colima_disk_gb=80")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert recap(proc.stdout) == (0, 0) and not any(c.startswith(("stop", "start")) for c in calls[2:])
    assert "memory GiB 6 -> 12; disk GiB 60 -> 80" in proc.stdout and "docker_host_colima_apply=true" in proc.stdout
    # With docker_host_colima_apply: stopped and started with the new size.
    proc, calls = run_engine_step(tmp_path, STANDIN, "-e", "docker_host_colima_memory_gb=12",
                                  "-e", "docker_host_colima_disk_gb=80", "-e", "docker_host_colima_apply=true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls[-2:] == ["stop --profile default", START.replace("--memory 6 --disk 60", "--memory 12 --disk 80")]
    assert recap(proc.stdout) == (2, 0)
    # A smaller disk is refused, with the reason, and nothing is called after the look.
    proc, calls = run_engine_step(tmp_path, STANDIN, "-e", "docker_host_colima_memory_gb=12",
                                  "-e", "docker_host_colima_disk_gb=40", "-e", "docker_host_colima_apply=true")
    assert proc.returncode != 0
    assert "cannot shrink" in proc.stdout and "docker_host_colima_disk_gb: 80 or more" in proc.stdout
    assert not any(c.startswith(("stop", "start")) for c in calls[-2:])
    # Fixed at creation: a different mount type is reported and left.
    proc, calls = run_engine_step(tmp_path, STANDIN, "-e", "docker_host_colima_memory_gb=12",
                                  "-e", "docker_host_colima_disk_gb=80", "-e", "docker_host_colima_mount_type=sshfs")
    assert proc.returncode == 0
    assert "mount type virtiofs (wanted sshfs)" in proc.stdout and "colima delete" in proc.stdout
    assert recap(proc.stdout) == (0, 0)


def test_missing_colima_says_how_to_install_it(tmp_path):
    proc, calls = run_engine_step(tmp_path, str(tmp_path / "no-such-colima"))
    assert proc.returncode != 0
    assert "Colima is not installed" in proc.stdout
    assert "brew install colima docker" in proc.stdout
    assert calls == []
