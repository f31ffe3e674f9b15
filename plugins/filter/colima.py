# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""What the docker_host role does with a Colima VM: start it, leave it, resize it, or refuse.

Input is what Colima reports for the profile: one line of `colima list --json` (name, status, arch,
cpus, memory and disk in bytes, runtime) merged with `colima status --json` (driver, mount_type) when
it runs. The field names follow Colima 0.6's JSON output (cmd/list.go, cmd/status.go).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

GIB = 1024 ** 3
DRIVERS = {"vz": "macOS Virtualization.Framework", "qemu": "QEMU"}


def colima_profile(list_output, profile):
    """The profile's entry from `colima list --json` (one JSON object per line), or None."""
    for line in (list_output or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise AnsibleFilterError("colima list --json printed a line that is not JSON: %r" % line[:200]) from None
        if entry.get("name") == profile:
            return entry
    return None


def _gib(value):
    try:
        return round(float(value) / GIB)
    except (TypeError, ValueError):
        return None


def colima_plan(current, wanted, apply=False):
    """{action: start|restart|none, refuse: msg or '', warnings: [..], changes: [..]}.

    wanted: profile, cpus, memory_gb, disk_gb, vm_type, arch, mount_type, rosetta, runtime.
    """
    out = {"action": "none", "refuse": "", "warnings": [], "changes": []}
    if not current or str(current.get("status", "")).lower() != "running":
        out["action"] = "start"
        if current and _gib(current.get("disk")) and _gib(current["disk"]) > int(wanted["disk_gb"]):
            out["refuse"] = (
                "Colima profile %s has a %d GiB disk and docker_host_colima_disk_gb asks for %d: Colima cannot shrink "
                "a disk (the data would not fit). Set docker_host_colima_disk_gb: %d or more; only "
                "`colima delete -p %s` (which loses every image, container and volume in the VM) gives a smaller one."
                % (wanted["profile"], _gib(current["disk"]), int(wanted["disk_gb"]), _gib(current["disk"]),
                   wanted["profile"]))
        return out
    have = {"cpus": current.get("cpus", current.get("cpu")), "memory_gb": _gib(current.get("memory")),
            "disk_gb": _gib(current.get("disk"))}
    if have["disk_gb"] is not None and have["disk_gb"] > int(wanted["disk_gb"]):
        out["refuse"] = (
            "Colima profile %s runs with a %d GiB disk and docker_host_colima_disk_gb asks for %d: Colima cannot "
            "shrink a disk. Set docker_host_colima_disk_gb: %d or more; only `colima delete -p %s` (which loses every "
            "image, container and volume in the VM) gives a smaller one."
            % (wanted["profile"], have["disk_gb"], int(wanted["disk_gb"]), have["disk_gb"], wanted["profile"]))
        return out
    for key, label in (("cpus", "cpus"), ("memory_gb", "memory GiB"), ("disk_gb", "disk GiB")):
        if have[key] is not None and int(have[key]) != int(wanted[key]):
            out["changes"].append("%s %s -> %s" % (label, have[key], wanted[key]))
    fixed = []
    if current.get("arch") and current["arch"] != wanted["arch"]:
        fixed.append("arch %s (wanted %s)" % (current["arch"], wanted["arch"]))
    driver = current.get("driver")
    if driver and wanted.get("vm_type") in DRIVERS and DRIVERS[wanted["vm_type"]] not in driver:
        fixed.append("VM type %s (wanted %s)" % (driver, wanted["vm_type"]))
    if current.get("mount_type") and wanted.get("mount_type") and current["mount_type"] != wanted["mount_type"]:
        fixed.append("mount type %s (wanted %s)" % (current["mount_type"], wanted["mount_type"]))
    if current.get("runtime") and current["runtime"] != wanted.get("runtime", "docker"):
        fixed.append("runtime %s (wanted %s)" % (current["runtime"], wanted.get("runtime", "docker")))
    if fixed:
        out["warnings"].append(
            "Colima profile %s runs with %s. These are fixed when the VM is created: only `colima delete -p %s` and a "
            "new run change them, and delete loses every image, container and volume in the VM. Left as it is."
            % (wanted["profile"], ", ".join(fixed), wanted["profile"]))
    if out["changes"]:
        if apply:
            out["action"] = "restart"
        else:
            out["warnings"].append(
                "Colima profile %s runs with other resources than the inventory asks (%s). Left as it is: run again "
                "with -e docker_host_colima_apply=true to apply them, which stops and starts the VM (every container "
                "stops, then starts again)." % (wanted["profile"], "; ".join(out["changes"])))
    return out


class FilterModule(object):
    def filters(self):
        return {"colima_profile": colima_profile, "colima_plan": colima_plan}
