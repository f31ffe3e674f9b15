# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""The whole-plan fast path of site.yml: what a complete run left behind (the record), and whether it still holds.

A complete, successful `site.yml` run writes the record (<devenv_home>/fast-path.json, 0600): a digest of its inputs
(the collection's files, the inventory's and the command line's variables, the environment variables the roles
read), every container's fingerprint (config hash, image, each file it was given: sha256, mode, owner), the host
files of the instance, and the time until which nothing falls due (a certificate's renewal, an image's retry).
The next run compares that with what is there now; when nothing differs, no step of the full walk would change
anything, and the run ends after the comparison. Any run that may change the instance forgets the record first
(forget(), called when the run lock is taken), so a record always describes the state the last complete run left.

The comparison is pure (differences()): the caller reads the engine, Vault and the Redis Cluster.
Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

RECORD = "fast-path.json"
# What a run's check keeps for its summary: the inputs, and the record it starts from when only some plays run.
NEXT = "fast-path.next.json"
VERSION = 2  # 2: the inputs by part, and the play and component of each container

# Variables that say nothing about the environment, or change from run to run (omit is random per run).
_VOLATILE = frozenset(("hostvars", "groups", "group_names", "inventory_hostname", "inventory_hostname_short",
                       "inventory_dir", "inventory_file", "playbook_dir", "play_hosts", "omit", "role_name",
                       "role_names", "role_path", "role_uuid", "environment", "vars"))
# What of the checkout is not an input of a run.
_SKIP_DIRS = frozenset((".git", ".cache", ".ansible", ".venv", "collections", "molecule", "tests", "docs",
                        "__pycache__", "node_modules", "target", ".pytest_cache", ".ruff_cache"))
_ENV_LOOKUP = re.compile(r"""lookup\(\s*['"](?:ansible\.builtin\.)?env['"]\s*,\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_ALWAYS_ENV = ("HOME", "DOCKER_HOST")
# Host files larger than this are not the instance's settings (backups, logs): left out of the record.
_HOST_FILE_MAX = 1 << 20
_HOST_SKIP = frozenset((RECORD, NEXT, "run.lock", "backups", "logs"))
_INVENTORIES = "inventories"
# Where a run reads variables (besides the top-level playbooks): the others (inventories, scripts, image recipes,
# the reference apps, the devenv command) name variables only to set or to describe them.
_READ_BY_A_RUN = frozenset(("roles", "playbooks", "plugins", "meta"))


def _plain(value):
    """Variables as JSON-able plain data, deterministic (templates stay as written: they are inputs too)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def input_variables(task_vars):
    """The variables a run depends on: all but Ansible's own (ansible_*), the facts of this run (_*) and _VOLATILE."""
    return dict((k, v) for k, v in task_vars.items()
                if not k.startswith(("ansible_", "_", "molecule_")) and k not in _VOLATILE)


def _collection_files(root):
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not os.path.islink(os.path.join(directory, d)))
        for name in sorted(files):
            path = os.path.join(directory, name)
            if not name.endswith((".pyc", ".md")) and os.path.isfile(path):
                yield path


def _sha(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def input_parts(root, variables, environ):
    """The inputs of a run, each by its digest: {"files": {path under root: sha256}, "variables": {name: sha256 of
    its value as written}, "env": {name: sha256}} - the collection's files, the variables (input_variables) and the
    environment variables that the collection's YAML and templates look up (plus HOME and DOCKER_HOST)."""
    files, names = {}, set(_ALWAYS_ENV)
    for path in _collection_files(root):
        with open(path, "rb") as handle:
            data = handle.read()
        files[os.path.relpath(path, root)] = hashlib.sha256(data).hexdigest()
        if path.endswith((".yml", ".yaml", ".j2")):
            names.update(_ENV_LOOKUP.findall(data.decode("utf-8", "replace")))
    plain = _plain(input_variables(variables))
    return {"files": files, "variables": dict((k, _sha(v)) for k, v in plain.items()),
            "env": dict((n, _sha(environ.get(n))) for n in sorted(names))}


def digest_of(parts):
    """One sha256 over input_parts()."""
    return _sha(parts)


def changed_parts(before, now):
    """{"files"|"variables"|"env": sorted names whose digest differs, or that only one side has}."""
    out = {}
    for kind in ("files", "variables", "env"):
        old, new = (before or {}).get(kind) or {}, now.get(kind) or {}
        out[kind] = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return out


def _word(name):
    return re.compile(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(name))


def roles_of_changes(root, changed, raw_variables, roles):
    """Which roles a change of inputs concerns (a set of role names, each run by one play of site.yml), or None: the
    full walk. changed: changed_parts(); raw_variables: {name: value as written}; roles: the roles of site.yml's plays.

    A changed file under roles/<role>/ concerns that role; one under inventories/ none by itself (what it sets
    comes as variables); any other changed file (the shared role, plugins, playbooks, image recipes), or an
    environment variable, concerns every role. A changed variable concerns the
    roles whose files name it; so does a variable whose value, as written, names a changed one. A
    variable named outside the roles of site.yml's plays (e.g. in the shared role), or named by no file at all
    (it may be looked up by a computed name), concerns every role."""
    if changed.get("env"):
        return None
    found_roles = set()
    for rel in changed.get("files") or []:
        parts = rel.split(os.sep)
        if parts[0] == _INVENTORIES:  # what they set arrives as changed variables
            continue
        if len(parts) < 3 or parts[0] != "roles" or parts[1] not in roles:
            return None
        found_roles.add(parts[1])
    names = set(changed.get("variables") or [])
    if not names:
        return found_roles
    patterns = dict((n, _word(n)) for n in names)
    written = dict((k, json.dumps(_plain(v))) for k, v in raw_variables.items())
    while True:  # a variable whose value (a template) names a changed variable changes with it
        more = set(k for k, text in written.items() if k not in names
                   and any(pattern.search(text) for pattern in patterns.values()))
        if not more:
            break
        names |= more
        patterns.update((n, _word(n)) for n in more)
    found = dict((n, set()) for n in names)
    for path in _collection_files(root):
        rel = os.path.relpath(path, root)
        if os.sep in rel and rel.split(os.sep)[0] not in _READ_BY_A_RUN:  # e.g. inventories: they set variables
            continue
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        for name, pattern in patterns.items():
            if pattern.search(text):
                found[name].add(rel)
    for name in names:
        if not found[name]:
            return None
        for rel in found[name]:
            parts = rel.split(os.sep)
            if len(parts) < 3 or parts[0] != "roles" or parts[1] not in roles:
                return None
            found_roles.add(parts[1])
    return found_roles


def of_containers(record, names, key):
    """The plays (key "play") or components (key "component") that reconciled these containers, from their
    fingerprints; None when one has none."""
    by_name = dict((f["container"], f) for f in record.get("containers") or [])
    out = set()
    for name in names:
        value = (by_name.get(name) or {}).get(key)
        if not value:
            return None
        out.add(value)
    return out


def host_files(directories):
    """{path: sha256} of the instance's small regular files in these directories (the record and the lock left out):
    the exported CA, the credentials, the keys file, the host copies of rendered files."""
    out = {}
    for top in sorted(set(d for d in directories if d)):
        for directory, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in _HOST_SKIP)
            for name in sorted(files):
                path = os.path.join(directory, name)
                if name in _HOST_SKIP or name.startswith(".") or os.path.islink(path) or not os.path.isfile(path):
                    continue
                if os.path.getsize(path) > _HOST_FILE_MAX:
                    continue
                with open(path, "rb") as handle:
                    out[path] = hashlib.sha256(handle.read()).hexdigest()
    return out


def file_fingerprint(content, mode, owner, group):
    return {"sha256": hashlib.sha256(content).hexdigest(), "mode": int(mode) & 0o7777, "owner": int(owner),
            "group": int(group)}


def fingerprint(name, config_hash, image, image_id, dests, ready="healthy", create_only=False):
    """What the service step leaves in a container: name, config hash, image, and the paths of the files it was
    given. No content and no digest of one: this travels in task results; the record step reads the files."""
    return {"container": name, "config_hash": config_hash, "image": image, "image_id": image_id, "ready": ready,
            "create_only": bool(create_only), "files": sorted(dests)}


def files_read(have):
    """read_files()' answer -> {path: file_fingerprint or None}, as the record keeps it (only in the 0600 file)."""
    return dict((path, None if got is None else file_fingerprint(got["content"], got["mode"], got["owner"],
                                                                 got["group"]))
                for path, got in have.items())


def path_of(home):
    return os.path.join(os.path.expanduser(home), RECORD)


def next_path_of(home):
    return os.path.join(os.path.expanduser(home), NEXT)


def take_next(home, token):
    """What this run's check kept (NEXT), removed as it is read; None when it is gone or another run's."""
    path = next_path_of(home)
    try:
        with open(path) as handle:
            pending = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not token or not isinstance(pending, dict) or pending.get("token") != token:
        return None
    try:
        os.unlink(path)
    except OSError:
        pass
    return pending


def load(home):
    """The record, or None (missing, unreadable, or written by another version)."""
    try:
        with open(path_of(home)) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == VERSION else None


def forget(home):
    """Remove the record: this run may change the instance. True when there was one."""
    try:
        os.unlink(path_of(home))
        return True
    except OSError:
        return False


def _label(container, label_prefix, name):
    return (container.get("Labels") or {}).get(label_prefix + "." + name)


def container_differences(fp, container, label_prefix, hash_label):
    """Why this container is not as the fingerprint says (a list; empty: it is). container: its list entry or None."""
    name = fp["container"]
    if container is None:
        return ["%s does not exist" % name]
    if _label(container, label_prefix, hash_label) != fp["config_hash"]:
        return ["%s has another configuration" % name]
    if fp.get("image_id") and container.get("ImageID") != fp["image_id"]:
        return ["%s runs another image" % name]
    if fp.get("create_only"):
        return []
    if container.get("State") != "running":
        return ["%s is %s" % (name, container.get("State") or "not running")]
    if fp.get("ready", "healthy") == "healthy" and "(healthy)" not in (container.get("Status") or ""):
        return ["%s is not healthy (%s)" % (name, container.get("Status") or "?")]
    return []


def file_differences(item, have):
    """Files of a recorded container that it lacks or holds otherwise now. have: read_files()' answer."""
    now = files_read(have)
    return ["%s %s %s" % (item["container"], "lacks" if now.get(dest) is None else "holds another", dest)
            for dest, want in sorted(item["files"].items()) if now.get(dest) != want]


def record_differences(record, digest, now, host):
    """Why the record no longer holds, from what costs no request: the inputs, the time, the host files
    (host: host_files() of the record's directories). A list, empty when it still holds."""
    if record is None:
        return ["there is no record of a complete run"]
    if record.get("inputs") != digest:
        return ["the inventory, the variables, the environment or the collection changed since the last complete run"]
    if now >= float(record.get("valid_until") or 0):
        return ["something falls due (a certificate's renewal or an image's retry)"]
    recorded = record.get("host_files") or {}
    return ["the host file %s changed" % path for path in sorted(set(recorded) | set(host))
            if recorded.get(path) != host.get(path)]


def engine_differing(record, containers, images, label_prefix, hash_label):
    """Why the engine does not hold what the record says, by container: [(container name, why)] (a changed image:
    each container that uses it). containers: {name: list entry}; images: {reference: image ID}. The files inside the
    containers (file_differences), Vault and the Redis Cluster are the caller's."""
    out = []
    changed_images = set(ref for ref, image_id in (record.get("images") or {}).items() if images.get(ref) != image_id)
    for item in record.get("containers") or []:
        why = container_differences(item, containers.get(item["container"]), label_prefix, hash_label)
        if item.get("image") in changed_images:
            why = ["the image %s changed" % item["image"], *why]
        out.extend((item["container"], w) for w in why)
    return out


def only_starting(differing, containers):
    """Whether every difference is a container whose health check has not passed yet since its start (Docker's
    "health: starting"): the check may wait for it rather than walk."""
    return bool(differing) and all("(health: starting)" in ((containers.get(name) or {}).get("Status") or "")
                                   for name, _why in differing)
