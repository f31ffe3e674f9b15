# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Filters that turn the service spec (plain data) into community.docker options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile


def port_spec(port, bind_address="127.0.0.1"):
    """{host: 8200, container: 8200, protocol: tcp} -> '127.0.0.1:8200:8200/tcp'."""
    if not isinstance(port, dict) or "host" not in port or "container" not in port:
        raise AnsibleFilterError("port_spec expects a dict with host and container, got %r" % (port,))
    return _reconcile.port_spec(port, bind_address)


def volume_mount(volume, prefix=""):
    """{name: vault_data, target: /vault/data} -> a docker_container mounts entry for a named volume."""
    if not isinstance(volume, dict) or not volume.get("name") or not volume.get("target"):
        raise AnsibleFilterError("volume_mount expects a dict with name and target, got %r" % (volume,))
    return _reconcile.volume_mount(volume, prefix)


def bind_mount(bind):
    """{source: /host/dir, target: /dir, read_only: true} -> a docker_container mounts entry for a bind mount."""
    if not isinstance(bind, dict) or not bind.get("source") or not bind.get("target"):
        raise AnsibleFilterError("bind_mount expects a dict with source and target, got %r" % (bind,))
    return _reconcile.bind_mount(bind)


def status_line(component, plan, status, bind_address="127.0.0.1"):
    """One summary line: component, status in this run, published endpoints."""
    spec = (plan or {}).get(component) or {}
    state = (status or {}).get(component)
    if state is None:
        state = "not run" if spec.get("enabled", True) else "disabled"
    ports = ", ".join(
        "%s %s:%s" % (name, bind_address, port["host"])
        for name, port in sorted((spec.get("ports") or {}).items()) if (port or {}).get("host"))
    # The edge's URL, where an enabled edge routes it (with its HTTPS port when that is not 443).
    edge = [e for e in (plan or {}).values() if e.get("edge") and e.get("enabled", True)]
    if spec.get("web") and spec.get("enabled", True) and edge:
        https = ((edge[0].get("ports") or {}).get("https") or {}).get("host")
        ports += "%shttps://%s%s" % (", " if ports else "", spec["web"]["host"],
                                     "" if https in (443, None) else ":%s" % https)
    return "%-14s %-12s %s" % (component, state, ports)


class FilterModule(object):
    def filters(self):
        return {"port_spec": port_spec, "volume_mount": volume_mount, "bind_mount": bind_mount,
                "status_line": status_line}
