# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Pure logic of the status report (no I/O): rows from what Docker says, the table, the verdict.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# Environment variables upstream images set to their version (the local recipes set none).
VERSION_ENV = ("PG_VERSION", "MYSQL_VERSION", "MARIADB_VERSION", "REDIS_VERSION", "RABBITMQ_VERSION",
               "MONGO_VERSION", "VAULT_VERSION", "BAO_VERSION", "PGBOUNCER_VERSION", "TRAEFIK_VERSION",
               "HAPROXY_VERSION", "GF_VERSION")
COLUMNS = ("component", "state", "health", "uptime", "version", "urls", "detail")


def _published(spec):
    """(name, port) of each port a component publishes on the host, by name."""
    return [(name, port) for name, port in sorted((spec.get("ports") or {}).items()) if (port or {}).get("host")]


def _edge(plan):
    """The enabled edge's entry (the component routes go through), or None."""
    return next((e for e in (plan or {}).values() if e.get("edge") and e.get("enabled", True)), None)


def _https(edge):
    return ((edge.get("ports") or {}).get("https") or {}).get("host")


def _edge_url(host, https):
    return "https://%s%s" % (host, "" if https in (443, None) else ":%s" % https)


def urls(component, plan, bind_address="127.0.0.1"):
    """Host ports of a component (name address:port), then https://<name>.localhost where an enabled edge routes it."""
    spec = (plan or {}).get(component) or {}
    out = ["%s %s:%s" % (name, bind_address, port["host"]) for name, port in _published(spec)]
    edge = _edge(plan)
    if spec.get("web") and spec.get("enabled", True) and edge:
        out.append(_edge_url(spec["web"]["host"], _https(edge)))
    return out


def reach_targets(component, plan, bind_address="127.0.0.1"):
    """What a user reaches of a component: ("port", its name, address, host port) for every published TCP port, and
    ("route", host, address, the edge's HTTPS port, path) where an enabled edge routes its web UI."""
    spec = (plan or {}).get(component) or {}
    out = [("port", name, bind_address, int(port["host"])) for name, port in _published(spec)
           if (port.get("protocol") or "tcp") == "tcp"]
    edge = _edge(plan)
    https = _https(edge) if edge else None
    if spec.get("web") and https:
        out.append(("route", spec["web"]["host"], bind_address, int(https), spec["web"].get("path") or "/"))
    return out


# What the edge answers when it cannot reach the component behind a route (Traefik: bad gateway, no server
# available, gateway timeout). Any other answer, 401 and 404 too, means the route reaches it.
EDGE_FAILURES = (502, 503, 504)


def reach_problem(target, answer):
    """Why a user cannot reach this target (reach_targets), or None. answer: the HTTP status (int) the edge gave for
    a route, True for a port that took a connection, or the error text."""
    if target[0] == "port":
        return None if answer is True else "port %s %s:%s does not answer (%s)" % (target[1], target[2], target[3],
                                                                                    answer)
    where = _edge_url(target[1], target[3])
    if isinstance(answer, int) and answer not in EDGE_FAILURES:
        return None
    if isinstance(answer, int):
        return "%s answers %d through the edge" % (where, answer)
    return "%s does not answer through the edge (%s)" % (where, answer)


def parse_time(value):
    """Docker's RFC 3339 time with nanoseconds (2024-05-01T10:00:00.123456789Z) -> aware datetime, or None."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$", value or "")
    if not match or match.group(1).startswith("0001-"):
        return None
    tz = "+00:00" if match.group(2) == "Z" else match.group(2)
    return datetime.datetime.strptime(match.group(1) + tz.replace(":", ""), "%Y-%m-%dT%H:%M:%S%z")


def uptime(started_at, now):
    """Seconds since started_at as 3d4h, 2h05m, 4m10s or 12s; '-' when unknown."""
    started = parse_time(started_at)
    if started is None:
        return "-"
    secs = max(0, int((now - started).total_seconds()))
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%dd%dh" % (days, hours)
    if hours:
        return "%dh%02dm" % (hours, minutes)
    if minutes:
        return "%dm%02ds" % (minutes, secs)
    return "%ds" % secs


def version_of(image_ref, image_info):
    """The image's version: its OCI version label, else a *_VERSION variable, else the tag of its reference."""
    config = (image_info or {}).get("Config") or {}
    label = (config.get("Labels") or {}).get("org.opencontainers.image.version")
    if label:
        return label
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    for key in VERSION_ENV:
        if env.get(key):
            return env[key]
    ref = image_ref or ""
    if "@" in ref:
        return ref.split("@", 1)[1][:19]
    tail = ref.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else (tail or "-")


def redis_info_argv(conf):
    """CLUSTER INFO and the version on a node; the password is read from the node's config inside the container."""
    return ["/bin/sh", "-c",
            "REDISCLI_AUTH=$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' \"$1\"); export REDISCLI_AUTH; "
            "redis-cli -p 6379 cluster info && redis-cli -p 6379 info server | grep '^redis_version:'",
            "sh", conf]


def cluster_info(text):
    """`CLUSTER INFO` output -> dict (cluster_state, cluster_slots_assigned, ...)."""
    out = {}
    for line in (text or "").splitlines():
        if ":" in line:
            key, value = line.strip().split(":", 1)
            out[key] = value
    return out


def row(component, entry, container, image_info, now, create_only=False, extra=None):
    """One row of the report for an enabled component.

    container is Docker's inspect output (None: no container), extra what the action learned from the service
    itself (vault: sealed; redis: cluster_state; version; probe: the container's own healthcheck passed while
    Docker still says starting; unreachable: reach_problem()s). ok is False, with a problem, when the component is
    not healthy: missing, not running, unhealthy, Vault sealed, Redis cluster not ok, a port or route unreachable.
    """
    extra = extra or {}
    out = {"component": component, "enabled": True, "container": None, "state": "missing", "health": "-",
           "uptime": "-", "version": "-", "urls": [], "detail": "", "ok": False, "problem": "no container"}
    out["urls"] = extra.get("urls", [])
    if container is None:
        return out
    state = container.get("State") or {}
    out["container"] = (container.get("Name") or "").lstrip("/")
    out["state"] = state.get("Status") or "unknown"
    health = (state.get("Health") or {}).get("Status")
    out["health"] = health or "none"
    running = bool(state.get("Running")) and out["state"] == "running"
    out["uptime"] = uptime(state.get("StartedAt"), now) if running else "-"
    out["version"] = extra.get("version") or version_of((container.get("Config") or {}).get("Image"), image_info)
    details = []
    if "sealed" in extra:
        details.append("sealed" if extra["sealed"] else "unsealed")
    if "cluster_state" in extra:
        details.append("cluster_state:%s" % extra["cluster_state"])
    if extra.get("error"):
        details.append(extra["error"])
    details.extend(extra.get("unreachable") or [])
    if health == "starting" and extra.get("probe"):
        # Docker has not run its first check yet; the container's own check, run now, passes.
        details.append("own healthcheck passes")
        health = "healthy"
    if create_only:
        details.append("create-only")
    out["detail"] = ", ".join(details)
    if create_only:
        out.update(ok=out["state"] in ("created", "running", "exited"), problem=None if out["state"] in (
            "created", "running", "exited") else "state %s" % out["state"])
        return out
    if not running:
        out["problem"] = "state %s" % out["state"]
    elif health not in (None, "healthy"):
        out["problem"] = "health %s" % health
    elif extra.get("sealed"):
        out["problem"] = "sealed"
    elif "cluster_state" in extra and extra["cluster_state"] != "ok":
        out["problem"] = "cluster_state:%s" % extra["cluster_state"]
    elif extra.get("error"):
        out["problem"] = extra["error"]
    elif extra.get("unreachable"):
        out["problem"] = "; ".join(extra["unreachable"])
    else:
        out["problem"] = None
    out["ok"] = out["problem"] is None
    return out


def table(rows, disabled=()):
    """The report as aligned lines: a header, one line per row, then the disabled components."""
    cells = [list(COLUMNS)]
    for item in rows:
        cells.append([item["component"], item["state"], item["health"], item["uptime"], item["version"],
                      ", ".join(item["urls"]) or "-", item["detail"] or "-"])
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(COLUMNS) - 1)) + "  " + c[-1] for c in cells]
    if disabled:
        lines.append("disabled (profile or overrides): %s" % ", ".join(sorted(disabled)))
    return lines


def verdict(rows):
    """'' when every row is ok, else the message naming each component that is not healthy and why."""
    bad = ["%s (%s)" % (r["component"], r["problem"]) for r in rows if not r["ok"]]
    if not bad:
        return ""
    return ("Not healthy: %s. Repair a component by running its role again, e.g. "
            "`ansible-playbook playbooks/data.yml --tags <component>` (see docs/operations.md, Repair)."
            % ", ".join(bad))
