# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""The summary filter: one line per component for the end-of-run summary; the names of the client files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup


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


def client_file(component):
    """The name of a component's client file in its container's conf directory (_backup.CLIENT_FILES)."""
    return _backup.CLIENT_FILES[component]


class FilterModule(object):
    def filters(self):
        return {"status_line": status_line, "client_file": client_file}
