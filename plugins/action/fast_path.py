# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.fast_path: the whole-plan fast path of site.yml (module_utils/_fastpath.py).

check: compares the record of the last complete run with what is there now (one container list, one image list,
one archive read per config directory, Vault's sys/health, one CLUSTER INFO) and says whether the full walk can
be skipped; on a miss it forgets the record. record: writes the record at the end of a complete run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time
import uuid

import yaml

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup
from ansible_collections.colima_services.devenv.plugins.module_utils import _fastpath as fp
from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st
from ansible_collections.colima_services.devenv.plugins.module_utils import _vault
from ansible_collections.colima_services.devenv.plugins.module_utils._files import FileError, atomic_write
from ansible_collections.colima_services.devenv.plugins.module_utils._reconcile import HASH_LABEL, unavailable_images
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _x509
from ansible_collections.colima_services.devenv.plugins.plugin_utils._plan import is_a

display = Display()

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False


def _not_after(path):
    """A certificate file's expiry (epoch seconds), or None when it holds none."""
    try:
        with open(path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    except (IOError, OSError, ValueError):
        return None
    return _x509.not_after(cert).timestamp()


def valid_until(home, renew_days, retry_hours, now):
    """Until when a full run would change nothing by itself: the first certificate renewal under home, and the
    first retry of an image that could not be pulled (images/unavailable.json). An hour ahead at most when the
    certificates cannot be read here."""
    limits = [now + 30 * 86400]
    if not HAS_CRYPTOGRAPHY:
        limits.append(now + 3600)
    else:
        for directory, _dirs, files in os.walk(os.path.join(home, "services")):
            for name in files:
                if name.endswith(".crt"):
                    expiry = _not_after(os.path.join(directory, name))
                    if expiry is not None:
                        limits.append(expiry - int(renew_days) * 86400)
    for entry in unavailable_images(home).values():
        limits.append(float(entry.get("at", 0)) + float(retry_hours) * 3600)
    return min(limits)


def role_plays(root):
    """{role: name of the play that runs it} over the plays that site.yml imports (a role in two plays is left out,
    so that its change walks every play)."""
    books = os.path.join(root, "playbooks")
    out, twice = {}, set()
    with open(os.path.join(books, "site.yml")) as handle:
        site = yaml.safe_load(handle) or []
    for entry in site:
        book = entry.get("ansible.builtin.import_playbook") or entry.get("import_playbook")
        if not book:
            continue
        with open(os.path.join(books, book)) as handle:
            for play in yaml.safe_load(handle) or []:
                for role in play.get("roles") or []:
                    name = (role.get("role") or role.get("name")) if isinstance(role, dict) else role
                    name = name.split(".")[-1]
                    if out.get(name, play["name"]) != play["name"]:
                        twice.add(name)
                    out[name] = play["name"]
    return dict((k, v) for k, v in out.items() if k not in twice)


def _partial(plays_of, record, roles, differing):
    """(plays, components) that differ, when some plays need not run; else (None, None): every play runs.
    plays_of: role_plays(); roles: the roles the inputs concern; differing: the containers that differ (None: the
    engine did not say). A component role is named after its component (the shared component steps skip the others)."""
    if differing is None:
        return None, None
    engine_plays = fp.of_containers(record, differing, "play")
    engine_components = fp.of_containers(record, differing, "component")
    if engine_plays is None or engine_components is None:
        return None, None
    plays = set(plays_of[r] for r in roles) | engine_plays
    if set(plays_of.values()) <= plays:
        return None, None
    return plays, roles | engine_components


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("mode", "settings", "plan", "vault_url", "vault_dir", "token", "fingerprints", "status",
                             "renew_days"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args, result["changed"] = self._task.args, False
        settings = args.get("settings") or {}
        home = os.path.expanduser(settings.get("home") or "")
        if not home:
            raise AnsibleActionFail("fast_path needs settings.home")
        mode = args.get("mode", "check")
        if mode == "record":
            return self._record(args, settings, home, result)
        if mode != "check":
            raise AnsibleActionFail("fast_path: mode is check or record, not %r" % mode)
        started, now = time.monotonic(), time.time()
        root = settings["collection_root"]
        # With ansible-core >= 2.19 every variable of the task is here, raw (templates as written).
        parts = fp.input_parts(root, task_vars, os.environ)
        result["inputs"] = digest = fp.digest_of(parts)
        record = fp.load(home)
        host = fp.host_files((record or {}).get("host_dirs") or [])
        why = fp.record_differences(record, digest, now, host)
        plays = components = None  # the plays and components that differ; None: all of them
        if record is not None and not fp.record_differences(record, record.get("inputs"), now, host):
            # Nothing is due and the host files hold: the inputs may differ, and then which roles they concern.
            plays_of, roles = {}, set()
            if why:
                plays_of = role_plays(root)
                roles = fp.roles_of_changes(root, fp.changed_parts(record.get("parts"), parts),
                                            fp.input_variables(task_vars), set(plays_of))
            if roles is not None:
                engine_why, differing = self._engine_differences(record, settings)
                why = why + engine_why
                if why:
                    plays, components = _partial(plays_of or role_plays(root), record, roles, differing)
        result.update(hit=not why, why=why[:5], seconds=round(time.monotonic() - started, 2))
        if why:
            fp.forget(home)
            return self._miss(home, digest, parts, record, plays, components, why, result)
        running = len(record.get("containers") or [])
        unavailable = sorted(k for k, v in (record.get("status") or {}).items() if v == "unavailable")
        if unavailable:
            display.warning("Unavailable in the last complete run (no image): %s. See docs/support.md."
                            % ", ".join(unavailable))
        result["msg"] = ("Nothing to do: %d containers run as the last complete run left them, Vault and the Redis "
                         "Cluster are well and nothing falls due (checked in %.1f s). -e devenv_fast_path=false "
                         "walks every step." % (running, result["seconds"]))
        return result

    def _miss(self, home, digest, parts, record, plays, components, why, result):
        """Some of it differs. The inputs go into <home>/fast-path.next.json (0600) for the summary's record, with the
        last record as its base when only some plays run (plays); result["token"] names that file's content."""
        reasons = "; ".join(why[:3]) + (" (and more)" if len(why) > 3 else "")
        if self._task.check_mode:
            result["msg"] = "A run would walk %s: %s." % ("every step" if plays is None else ", ".join(sorted(plays)),
                                                          reasons)
            return result
        token = uuid.uuid4().hex
        pending = {"version": fp.VERSION, "token": token, "inputs": digest, "parts": parts,
                   "plays": None if plays is None else sorted(plays),
                   "components": None if components is None else sorted(components),
                   "base": None if plays is None else record}
        try:
            atomic_write(fp.next_path_of(home), json.dumps(pending, sort_keys=True) + "\n", mode=0o600)
        except FileError as exc:
            display.warning("The fast path's inputs were not kept (%s): the next run walks every step." % exc)
            plays, token = None, ""
        result["token"] = token
        if plays is None:
            result["msg"] = "The full walk runs: %s." % reasons
        else:
            result.update(plays=sorted(plays), components=sorted(components), status=record.get("status") or {})
            result["msg"] = "Only what differs runs (%s): %s." % (", ".join(sorted(plays)) or "the summary", reasons)
        return result

    def _engine_differences(self, record, settings):
        """What differs in the engine: (the reasons, the names of the containers they concern, or None when the
        engine did not answer). The containers (one list call), the images (one), their files (one archive read per
        directory), the Redis Cluster (one CLUSTER INFO), then Vault (sys/health)."""
        try:
            with dk.Engine(settings, timeout=30) as engine:
                images = engine.image_ids() if record.get("images") else {}
                # A container that the last run started may not have passed its first health check yet: wait for it
                # as the walk would.
                deadline = time.monotonic() + float(settings.get("health_timeout") or 60)
                while True:
                    containers = {}
                    for entry in engine.containers(dict(settings.get("labels") or {})):
                        for name in entry.get("Names") or []:
                            containers[name.lstrip("/")] = entry
                    differing = fp.engine_differing(record, containers, images, settings.get("label_prefix") or "",
                                                    HASH_LABEL)
                    if not fp.only_starting(differing, containers) or time.monotonic() > deadline:
                        break
                    time.sleep(1)
                already = set(name for name, _why in differing)
                to_read = dict((item["container"], item) for item in record.get("containers") or []
                               if item["files"] and item["container"] not in already)
                have = engine.read_many(dict((name, list(item["files"])) for name, item in to_read.items()))
                for name, item in sorted(to_read.items()):
                    differing.extend((name, w) for w in fp.file_differences(item, have[name]))
                redis = self._redis(engine, record)
                if redis:
                    differing.extend((record["redis_node"]["container"], w) for w in redis)
        except dk.DockerError as exc:
            return ["the Docker engine answered: %s" % exc], None
        vault = self._vault(record)
        if vault:
            differing.extend((record.get("vault_container") or "", w) for w in vault)
        return [w for _name, w in differing], sorted(set(name for name, _why in differing))

    def _redis(self, engine, record):
        node = record.get("redis_node")
        if not node:
            return []
        try:
            code, out, _err = engine.exec_run(node["container"], st.redis_info_argv(node["conf"]), "cluster info",
                                              timeout=10)
        except dk.DockerError as exc:
            return ["the Redis Cluster does not answer (%s)" % exc]
        state = st.cluster_info(out.decode("utf-8", "replace")).get("cluster_state")
        return [] if code == 0 and state == "ok" else ["the Redis Cluster is %s" % (state or "not answering")]

    def _vault(self, record):
        url = record.get("vault_url")
        if not url:
            return []
        if not _vault.HAS_HVAC:
            return ["hvac is missing on the controller"]
        try:
            health = _vault.VaultApi(_vault.connect({"url": url, "timeout": 5}), url).wait_for_api(5)
        except _vault.VaultError as exc:
            return ["Vault does not answer (%s)" % exc]
        if health.get("sealed") or not health.get("initialized"):
            return ["Vault is sealed"]
        return []

    def _record(self, args, settings, home, result):
        if self._task.check_mode:
            result.update(skipped=True, msg="check mode writes no record")
            return result
        pending = fp.take_next(home, args.get("token") or "")
        if pending is None:
            display.warning("The fast path's record was not written (the inputs that this run's check kept are gone: "
                            "another run?): the next run walks every step.")
            return result
        fingerprints = sorted((args.get("fingerprints") or {}).values(), key=lambda f: f["container"])
        try:
            with dk.Engine(settings, timeout=30) as engine:
                # What the run left in each container, read back (one read per directory, containers side by side).
                have = engine.read_many(dict((f["container"], f["files"]) for f in fingerprints if f["files"]))
                for item in fingerprints:
                    item["files"] = fp.files_read(have[item["container"]]) if item["files"] else {}
        except dk.DockerError as exc:
            display.warning("The fast path's record was not written (the Docker engine answered: %s): the next run "
                            "walks every step." % exc)
            return result
        if pending.get("base"):  # only some ran: what the others reconciled is as the last record says
            ran, have = set(pending.get("plays") or []), set(f["container"] for f in fingerprints)
            walked = set(pending.get("components") or [])
            fingerprints = sorted(fingerprints + [f for f in pending["base"].get("containers") or []
                                                  if f["container"] not in have
                                                  and (f.get("play") not in ran or f.get("component") not in walked)],
                                  key=lambda f: f["container"])
        plan = args.get("plan") or {}
        enabled = sorted(c for c in plan if (plan[c] or {}).get("enabled"))
        redis_node, suffix = None, "/" + _backup.CLIENT_FILES["redis"]
        for name in [c for c in enabled if is_a(plan[c], "redis_node")]:
            container = settings.get("container_prefix", "") + name
            item = next((f for f in fingerprints if f["container"] == container), None)
            conf = next((d for d in (item or {}).get("files", {}) if d.endswith(suffix)), None)
            if conf:
                redis_node = {"container": item["container"], "conf": conf}
                break
        host_dirs = sorted(set(os.path.expanduser(d) for d in (home, args.get("vault_dir")) if d))
        vault = [settings.get("container_prefix", "") + c for c in enabled if is_a(plan[c], "vault_server")]
        now = time.time()
        record = {
            "version": fp.VERSION, "at": int(now), "inputs": pending["inputs"], "parts": pending["parts"],
            "containers": fingerprints, "vault_container": vault[0] if vault else "",
            "images": dict((f["image"], f["image_id"]) for f in fingerprints if f.get("image") and f.get("image_id")),
            "host_dirs": host_dirs, "host_files": fp.host_files(host_dirs),
            "vault_url": (args.get("vault_url") or "") if vault else "",
            "redis_node": redis_node, "status": args.get("status") or {},
            "valid_until": valid_until(home, args.get("renew_days", 30), settings.get("image_retry_hours", 24), now),
        }
        # The record is not among the host files it lists (fp.host_files leaves it out).
        try:
            atomic_write(fp.path_of(home), json.dumps(record, indent=1, sort_keys=True) + "\n", mode=0o600)
        except FileError as exc:
            display.warning("The fast path's record was not written (%s): the next run walks every step." % exc)
            return result
        result.update(msg="Recorded %d containers for the next run's fast path." % len(fingerprints),
                      path=fp.path_of(home))
        return result
