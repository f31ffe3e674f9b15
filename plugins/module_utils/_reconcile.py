# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Pure logic of the service reconcile step (the action plugin colima_services.devenv.service).

It turns a service spec (plain data) and the component's registry entry into the options of
community.docker.docker_container, hashes them (with the image ID) into the config-hash label,
lists the files that go into the container, compares them with what the container holds, and decides
what the step does (decide). No I/O here, so that it can be tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

from ansible_collections.colima_services.devenv.plugins.module_utils import _serverversion as sv

HASH_LABEL = "config-hash"


def unavailable_file(home):
    """Where the service step remembers the upstream images that could not be pulled: {reference: {at, why}}."""
    return os.path.join(home, "images", "unavailable.json")


def unavailable_images(home):
    """That file's content ({} when it is missing or unreadable)."""
    try:
        with open(unavailable_file(home)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {}
FIELDS_LABEL = "config-fields"


def port_spec(port, bind_address="127.0.0.1"):
    """{host: 8200, container: 8200, protocol: tcp} -> '127.0.0.1:8200:8200/tcp'."""
    address = port.get("bind_address") or bind_address
    if ":" in str(address):
        address = "[%s]" % address
    return "%s:%s:%s/%s" % (address, port["host"], port["container"], port.get("protocol", "tcp"))


def volume_mount(volume, prefix=""):
    return {"type": "volume", "source": prefix + volume["name"], "target": volume["target"],
            "read_only": bool(volume.get("read_only", False))}


def bind_mount(bind):
    return {"type": "bind", "source": bind["source"], "target": bind["target"],
            "read_only": bool(bind.get("read_only", True))}


SPEC_FIELDS = ("component", "image", "recipe", "hostname", "aliases", "command", "entrypoint", "user", "env",
               "capabilities", "cap_drop", "pid_mode", "init", "volumes", "binds", "files", "tls", "healthcheck",
               "ready", "reload", "server")
TLS_FIELDS = ("enabled", "dest", "owner", "group", "key_mode", "cert_mode", "ca_mode", "cert_owned", "ca", "combined")


def check_spec(spec):
    """Problems of a service spec, each naming the field (the role's argument spec leaves this to us: cheaper)."""
    problems = []
    if not isinstance(spec, dict):
        return ["devenv_service must be a dict, got %r" % (spec,)]
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        problems.append("unknown field(s) %s; the fields are %s" % (", ".join(unknown), ", ".join(SPEC_FIELDS)))
    for key in ("component", "image"):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            problems.append("%s must be a non-empty string" % key)
    if spec.get("ready", "healthy") not in ("healthy", "running"):
        problems.append("ready must be healthy or running, got %r" % (spec.get("ready"),))
    for where, reload in [("reload", spec.get("reload", "restart"))] + [
            ("files[%d].reload" % i, f.get("reload")) for i, f in enumerate(spec.get("files") or [])
            if isinstance(f, dict) and "reload" in f]:
        if reload not in ("restart", "watch") and not re.match(r"^SIG[A-Z0-9]+$", str(reload)):
            problems.append("%s must be restart, watch or a signal name (SIGHUP), got %r" % (where, reload))
    for index, item in enumerate(spec.get("files") or []):
        where = "files[%d]" % index
        if not isinstance(item, dict) or not str(item.get("dest", "")).startswith("/"):
            problems.append("%s needs dest, an absolute path in the container" % where)
        elif len([k for k in ("template", "src", "content") if k in item]) != 1:
            problems.append("%s (%s) needs exactly one of template, src or content" % (where, item["dest"]))
    for index, item in enumerate(spec.get("files") or []):
        check = item.get("validate") if isinstance(item, dict) else None
        if check is not None and (not isinstance(check, list) or "%s" not in check):
            problems.append("files[%d].validate must be a command (list) with the argument %%s for the file, got %r"
                            % (index, check))
    for key, needs in (("volumes", ("name", "target")), ("binds", ("source", "target"))):
        for index, item in enumerate(spec.get(key) or []):
            if not isinstance(item, dict) or not all(item.get(n) for n in needs):
                problems.append("%s[%d] needs %s" % (key, index, " and ".join(needs)))
    if "server" in spec:
        problems.extend(sv.spec_problems(spec["server"], spec.get("volumes")))
    tls = spec.get("tls")
    if tls:
        if not isinstance(tls, dict) or not str(tls.get("dest", "")).startswith("/"):
            problems.append("tls needs dest, an absolute path prefix in the container (/usr/local/etc/postgres-)")
        else:
            unknown = sorted(set(tls) - set(TLS_FIELDS))
            if unknown:
                problems.append("tls has unknown field(s) %s; the fields are %s"
                                % (", ".join(unknown), ", ".join(TLS_FIELDS)))
    return problems


def container_options(spec, entry, settings):
    """The docker_container options (state aside) for a spec and its registry entry.

    settings: container_prefix, volume_prefix, network_name, bind_address, labels (ownership),
    label_prefix.
    """
    component = spec["component"]
    labels = dict(settings["labels"])
    labels[settings["label_prefix"] + ".component"] = component
    opts = {
        "name": settings["container_prefix"] + component,
        "hostname": spec.get("hostname") or component,
        "labels": labels,
        "networks": [{"name": settings["network_name"], "ipv4_address": entry["ip"],
                      "aliases": [component, *(spec.get("aliases") or [])]}],
        "network_mode": settings["network_name"],
        "published_ports": [port_spec(p, settings["bind_address"])
                            for _, p in sorted((entry.get("ports") or {}).items()) if p.get("host")],
        "mounts": [volume_mount(v, settings["volume_prefix"]) for v in spec.get("volumes") or []]
                  + [bind_mount(b) for b in spec.get("binds") or []],
        "restart_policy": "unless-stopped",
        "init": bool(spec.get("init", False)),
        "pull": "never",
    }
    for key in ("command", "entrypoint", "user", "env", "capabilities", "cap_drop", "pid_mode", "healthcheck"):
        if spec.get(key) not in (None, "", [], {}):
            opts[key] = spec[key]
    if entry.get("memory_limit_mb"):
        opts["memory"] = "%sM" % entry["memory_limit_mb"]
    if entry.get("cpus"):
        opts["cpus"] = entry["cpus"]
    return opts


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def spec_hashes(options, image_id):
    """(config hash, {field: short hash}) over the container options and the image ID."""
    fields = dict((key, _digest(value)[:12]) for key, value in options.items())
    fields["image"] = _digest(image_id)[:12]
    return _digest(fields)[:32], fields


def changed_fields(labels, label_prefix, fields):
    """Names of the spec fields whose hash differs from what the container's labels record."""
    try:
        recorded = json.loads((labels or {}).get(label_prefix + "." + FIELDS_LABEL) or "{}")
    except ValueError:
        recorded = {}
    return sorted(set(k for k in set(fields) | set(recorded) if fields.get(k) != recorded.get(k)))


def expand_tls(spec, tls_dir):
    """The file entries a `tls:` field stands for (certificate + intermediate, key, root CA)."""
    tls = spec.get("tls") or {}
    if not tls or str(tls.get("enabled", True)).lower() in ("false", "no", "0", "off"):
        return []
    dest = tls["dest"]  # a path prefix: /usr/local/etc/postgres- gives postgres-tls.crt, -tls.key, -ca.crt
    owner = int(tls.get("owner", 0))
    group = int(tls.get("group", owner))
    out = []
    if tls.get("combined"):
        # One PEM with the key, then the certificate chain (MongoDB's certificateKeyFile).
        out.append({"src": [tls_dir + "/tls.key", tls_dir + "/tls.crt"], "dest": dest + "tls.pem",
                    "mode": tls.get("key_mode", "0600"), "owner": owner, "group": group, "secret": True})
    else:
        cert_owner = owner if tls.get("cert_owned") else 0
        out.append({"src": tls_dir + "/tls.crt", "dest": dest + "tls.crt", "mode": tls.get("cert_mode", "0644"),
                    "owner": cert_owner, "group": group if tls.get("cert_owned") else 0})
        out.append({"src": tls_dir + "/tls.key", "dest": dest + "tls.key", "mode": tls.get("key_mode", "0600"),
                    "owner": owner, "group": group, "secret": True})
    if str(tls.get("ca", True)).lower() not in ("false", "no", "0", "off"):
        out.append({"src": tls_dir + "/ca.crt", "dest": dest + "ca.crt", "mode": tls.get("ca_mode", "0644"),
                    "owner": 0, "group": 0})
    return out


def file_mode(value):
    """'0600' or 0o600 or 384 -> 0o600 (strings are always octal)."""
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def file_differs(want, have):
    """What differs between a wanted file (content bytes, mode, owner, group) and the container's.

    have is None when the file is missing, else {content, mode, owner, group}. Returns a short
    reason or None.
    """
    if have is None:
        return "missing"
    reasons = []
    if have["content"] != want["content"]:
        reasons.append("content")
    if (have["mode"] & 0o7777) != want["mode"]:
        reasons.append("mode %o -> %o" % (have["mode"] & 0o7777, want["mode"]))
    if (have["owner"], have["group"]) != (want["owner"], want["group"]):
        reasons.append("owner %s:%s -> %s:%s" % (have["owner"], have["group"], want["owner"], want["group"]))
    return ", ".join(reasons) or None


def health_of(state, ready="healthy"):
    """'healthy', 'starting' or 'failed' for a container's State, as the wait needs it."""
    state = state or {}
    status = state.get("Status", "")
    running = bool(state.get("Running")) and status == "running"
    if status in ("exited", "dead", "restarting"):
        return "failed"
    if ready == "running":
        return "healthy" if running else "starting"
    health = (state.get("Health") or {}).get("Status")
    if health is None:
        return "healthy" if running else "starting"
    # "unhealthy" may still recover (start_period, retries): keep waiting until the timeout.
    return "healthy" if health == "healthy" else "starting"


def healthcheck_argv(healthcheck):
    """The argv `docker exec` runs for a Docker healthcheck test, or None (no test, or NONE)."""
    test = (healthcheck or {}).get("test")
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if not test or test[0] in ("NONE",):
        return None
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


# ---- the decision -----------------------------------------------------------------------
# What a reconcile step does, from the wanted state and the container's:
#   none      everything is right (and healthy, or running when ready: running)
#   wait      everything is right but the container is still starting: wait until it is healthy
#   recreate  no container, or its spec or image changed: (re)create it, write every file, start it
#   start     the container is stopped: write the files that differ, start it
#   copy      the container runs: write the files that differ, then reload (restart, a signal, or nothing
#             when the service watches its files; None for a create-only container, which is never started)
ACTIONS = ("none", "wait", "recreate", "start", "copy")


class Decision(object):
    """action (one of ACTIONS), the files to write (stale), how a running container takes them (reload) and the
    diff lines that say why."""

    def __init__(self, action, stale=(), reload=None, diff=()):
        self.action, self.stale, self.reload, self.diff = action, list(stale), reload, list(diff)

    def __repr__(self):
        return "Decision(%r, %d stale, reload=%r)" % (self.action, len(self.stale), self.reload)


def recreate_reason(name, container, config_hash, fields, image_id, label_prefix):
    """None when the container matches the spec and the image; else the diff line that says why not."""
    if container is None:
        return "container %s: missing" % name
    labels = (container.get("Config") or {}).get("Labels") or {}
    if labels.get(label_prefix + "." + HASH_LABEL) != config_hash or image_id is None:
        return "container spec: %s" % ", ".join(changed_fields(labels, label_prefix, fields) or ["(unknown)"])
    return None


def reload_of(stale):
    """The strongest of what the changed files ask for: restart, else a signal, else watch (the service reads
    its files itself)."""
    modes = set(item["reload"] for item in stale)
    return "restart" if "restart" in modes else (sorted(modes - {"watch"}) or ["watch"])[0]


def is_running(state):
    state = state or {}
    return bool(state.get("Running")) and state.get("Status") == "running"


def decide(want, container, read_files):
    """The Decision for one service container.

    want: name, config_hash, fields, image_id, label_prefix, files (each with dest, content, mode, owner, group,
    reload), ready, create_only. container: its inspect or None. read_files(paths) -> {path: have or None}: what
    the container holds, read only when the container is kept.
    """
    files = want["files"]
    reason = recreate_reason(want["name"], container, want["config_hash"], want["fields"], want["image_id"],
                             want["label_prefix"])
    if reason:
        return Decision("recreate", files, None, [reason])
    have = read_files([item["dest"] for item in files]) if files else {}
    stale, diff = [], []
    for item in files:
        why = file_differs(item, have.get(item["dest"]))
        if why:
            stale.append(item)
            diff.append("file %s: %s" % (item["dest"], why))
    state = container.get("State") or {}
    running = is_running(state)
    if want["create_only"]:
        return Decision("copy", stale, None, diff) if stale else Decision("none")
    if not running:
        return Decision("start", stale, None, diff or ["container %s: not running" % want["name"]])
    if stale:
        return Decision("copy", stale, reload_of(stale), diff)
    if health_of(state, want["ready"]) == "starting":
        return Decision("wait")
    return Decision("none")


def foreign_volume(name, volume, labels, label_prefix):
    """Why this existing volume must not be mounted, or None: it carries another instance's label. A volume without
    the label (made by hand, or before the labels) is used as it is. volume: the engine's inspect, or None."""
    have = ((volume or {}).get("Labels") or {}).get(label_prefix + ".instance")
    mine = labels.get(label_prefix + ".instance")
    if have is None or have == mine:
        return None
    return ("The volume %s belongs to instance %r (its label %s.instance), not to %r: mounting it would give this "
            "instance another one's data. Give this instance a prefix of its own (devenv_volume_prefix), or remove "
            "that instance's volume (docker volume rm %s) if nothing needs it any more. Nothing was changed."
            % (name, have, label_prefix, mine, name))

