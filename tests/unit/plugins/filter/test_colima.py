"""The Colima decision (plugins/filter/colima.py): start, leave, resize only when asked, refuse a smaller disk."""
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.colima_services.devenv.plugins.filter.colima import colima_plan, colima_profile

GIB = 1024 ** 3
WANT = {"profile": "default", "cpus": 4, "memory_gb": 8, "disk_gb": 60, "vm_type": "vz", "arch": "aarch64",
        "mount_type": "virtiofs", "runtime": "docker"}
RUNNING = {"name": "default", "status": "Running", "arch": "aarch64", "cpus": 4, "memory": 8 * GIB, "disk": 60 * GIB,
           "runtime": "docker", "driver": "macOS Virtualization.Framework", "mount_type": "virtiofs"}


def test_profile_from_list_output():
    out = "\n".join(json.dumps(dict(RUNNING, name=n)) for n in ("default", "work")) + "\n"
    assert colima_profile(out, "work")["name"] == "work"
    assert colima_profile(out, "other") is None and colima_profile("", "default") is None
    with pytest.raises(AnsibleFilterError, match="not JSON"):
        colima_profile("time=... level=warning\n", "default")


def test_start_leave_resize_refuse():
    assert colima_plan(None, WANT)["action"] == "start"
    assert colima_plan(dict(RUNNING, status="Stopped"), WANT)["action"] == "start"
    assert colima_plan(RUNNING, WANT) == {"action": "none", "refuse": "", "warnings": [], "changes": []}
    bigger = dict(WANT, memory_gb=12, cpus=6)
    said = colima_plan(RUNNING, bigger)
    assert said["action"] == "none" and said["changes"] == ["cpus 4 -> 6", "memory GiB 8 -> 12"]
    assert "docker_host_colima_apply=true" in said["warnings"][0] and "stops and starts the VM" in said["warnings"][0]
    assert colima_plan(RUNNING, bigger, apply=True)["action"] == "restart"
    smaller = colima_plan(RUNNING, dict(WANT, disk_gb=40), apply=True)
    assert smaller["action"] == "none" and "cannot shrink" in smaller["refuse"] and "60 or more" in smaller["refuse"]
    # A stopped VM with a bigger disk than asked: starting it with the smaller size is refused too.
    assert "cannot shrink" in colima_plan(dict(RUNNING, status="Stopped"), dict(WANT, disk_gb=40))["refuse"]


def test_what_is_fixed_at_creation_is_reported_not_applied():
    plan = colima_plan(dict(RUNNING, driver="QEMU", mount_type="sshfs", arch="x86_64"), WANT, apply=True)
    assert plan["action"] == "none" and plan["refuse"] == ""
    assert "arch x86_64 (wanted aarch64)" in plan["warnings"][0] and "VM type QEMU (wanted vz)" in plan["warnings"][0]
    assert "mount type sshfs (wanted virtiofs)" in plan["warnings"][0] and "colima delete" in plan["warnings"][0]
