# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""The end-of-run summary: one aligned table as plain lines (printed as one string, so nothing is quoted)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.colima_services.devenv.plugins.module_utils import _status

HEADER = ("component", "status", "address")
CREDS_HINT = "Credentials and connection URLs: devenv creds <component>   (every address: devenv describe)"


def _state(component, spec, status):
    """This run's status of an enabled component (deployed, unavailable, ...), 'not run' when no step reported it."""
    return (status or {}).get(component) or "not run"


def _addresses(component, plan, bind_address):
    """The edge URL first (what a browser opens), then the published host ports."""
    found = _status.urls(component, plan, bind_address)
    return [u for u in found if "://" in u] + [u for u in found if "://" not in u]


def _align(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(r[i].ljust(widths[i]) for i in range(len(widths))) + "  " + r[-1] for r in rows]


def summary_table(plan, status=None, bind_address="127.0.0.1", heading=""):
    """Multi-line text: a heading, the table of enabled components, the disabled ones on one line, the creds hint."""
    plan = plan or {}
    enabled = sorted(c for c in plan if plan[c].get("enabled", True))
    disabled = sorted(c for c in plan if not plan[c].get("enabled", True))
    rows = [list(HEADER)] + [[c, _state(c, plan[c], status), ", ".join(_addresses(c, plan, bind_address)) or "-"]
                             for c in enabled]
    lines = ([heading] if heading else []) + _align(rows)
    if disabled:
        lines.append("disabled: " + ", ".join(disabled))
    lines.append(CREDS_HINT)
    # No trailing blanks: YAML output then prints the string as a literal block, unquoted.
    return "\n".join(line.rstrip() for line in lines)


class FilterModule(object):
    def filters(self):
        return {"summary_table": summary_table}
