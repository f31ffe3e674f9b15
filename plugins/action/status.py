# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.status: one report of the environment, read in this process.

One Docker API listing of our containers, one inspect per container (and per distinct image), Vault's
/sys/health, and per Redis node one `CLUSTER INFO` through docker exec (the password stays inside the
container: the node's own config file is read there). Then what a user reaches, side by side: a TCP connect to
every published port and, for every routed web UI, an HTTPS request through the edge (verified with the exported
CA when it is there). The logic is in module_utils/_status.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.colima_services.devenv.plugins.module_utils import _backup
from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st
from ansible_collections.colima_services.devenv.plugins.module_utils import _vault
from ansible_collections.colima_services.devenv.plugins.module_utils._reconcile import healthcheck_argv
from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk
from ansible_collections.colima_services.devenv.plugins.plugin_utils._plan import is_a

display = Display()

REACH_TIMEOUT = 1.5


def reach(target, ca_file, timeout=REACH_TIMEOUT):
    """The answer reach_problem() judges: True (a port took a connection), the HTTP status of a route through the
    edge (SNI and Host: the route's name, to the edge's HTTPS port), or the error's text."""
    kind, name, address, port = target[:4]
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            if kind == "port":
                return True
            context = ssl.create_default_context(cafile=ca_file)
            if not ca_file:  # no exported CA yet: whether the route answers, not whom it answers as
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(sock, server_hostname=name) as tls:
                tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target[4], name))
                            .encode("ascii"))
                head = tls.recv(64).decode("latin-1").split(" ")
        return int(head[1]) if len(head) > 1 and head[1].isdigit() else "no HTTP answer"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return str(exc) or exc.__class__.__name__

class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "create_only", "format", "ca_file"))

    def _vault(self, url):
        """sealed (or not initialised) and the version, from sys/health through the vault modules' own client."""
        if not _vault.HAS_HVAC:
            return {"error": "the Python package hvac is missing on the controller (pip install hvac)"}
        try:
            health = _vault.VaultApi(_vault.connect({"url": url.rstrip("/"), "timeout": 5}), url).wait_for_api(5)
        except _vault.VaultError as exc:
            return {"error": str(exc)}
        return {"sealed": bool(health.get("sealed")) or not health.get("initialized"),
                "version": health.get("version") or None}

    def _redis(self, name):
        try:
            code, out, _ = self._engine.exec_run(name, st.redis_info_argv(self._redis_conf), "cluster info", timeout=10)
        except dk.DockerError as exc:
            return {"error": "cluster info: %s" % exc}
        info = st.cluster_info(out.decode("utf-8", "replace"))
        if code != 0 or "cluster_state" not in info:
            return {"error": "cluster info failed (exit %s)" % code}
        return {"cluster_state": info["cluster_state"], "version": info.get("redis_version")}

    def _probe(self, name, container):
        argv = healthcheck_argv({"test": ((container.get("Config") or {}).get("Healthcheck") or {}).get("Test")})
        if not argv:
            return False
        try:
            return self._engine.exec_run(name, argv, "the healthcheck", timeout=10)[0] == 0
        except dk.DockerError:
            return False

    def _reach(self, plan, settings, ca_file, reachable):
        """Adds extra["unreachable"] to each running component that a user cannot reach: every probe side by side,
        so the whole check takes about one timeout at most."""
        ca_file = os.path.expanduser(ca_file) if ca_file else None
        ca_file = ca_file if ca_file and os.path.isfile(ca_file) else None
        # Routes only while the edge runs: else the edge's own row says why nothing is reached through it.
        edge_up = any(plan[component].get("edge") for component, _extra in reachable)
        targets = [(extra, target) for component, extra in reachable
                   for target in st.reach_targets(component, plan, settings.get("bind_address", "127.0.0.1"))
                   if edge_up or target[0] != "route"]
        if not targets:
            return
        with ThreadPoolExecutor(min(16, len(targets))) as pool:
            answers = list(pool.map(lambda item: reach(item[1], ca_file), targets))
        for (extra, target), answer in zip(targets, answers, strict=True):
            problem = st.reach_problem(target, answer)
            if problem:
                extra.setdefault("unreachable", []).append(problem)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        plan, settings = args.get("plan") or {}, args.get("settings") or {}
        fmt = args.get("format") or "table"
        if fmt not in ("table", "json"):
            raise AnsibleActionFail("devenv_status_format is %r; use table or json" % fmt)
        create_only = set(args.get("create_only") or [])
        prefix, label = settings.get("container_prefix", "dev-"), settings.get("label_prefix", "io.colima-services")
        instance = (settings.get("labels") or {}).get(label + ".instance", "default")
        # The node's config, where the redis role puts it (devenv_conf_dir); the fast path reads it from its files.
        if not settings.get("conf_dir"):
            raise AnsibleActionFail("status needs settings.conf_dir (devenv_conf_dir, from the devenv role's init)")
        self._redis_conf = os.path.join(settings["conf_dir"], _backup.CLIENT_FILES["redis"])
        try:
            self._engine = dk.Engine(settings, timeout=30)
        except dk.EngineUnavailable as exc:
            raise AnsibleActionFail(str(exc)) from None
        now = datetime.datetime.now(datetime.timezone.utc)
        rows, images, reachable = [], {}, []
        try:
            listed = self._engine.containers({label + ".instance": instance})
            ours = dict(((c.get("Names") or ["/"])[0].lstrip("/"), c) for c in listed)
            for component in sorted(c for c in plan if plan[c].get("enabled", True)):
                name = prefix + component
                container = self._engine.container(name) if name in ours else None
                extra = {"urls": st.urls(component, plan, settings.get("bind_address", "127.0.0.1"))}
                running = bool(container and (container.get("State") or {}).get("Running"))
                image_id = (container or {}).get("Image")
                if image_id and image_id not in images:
                    images[image_id] = self._engine.image(image_id)
                if running and ((container.get("State") or {}).get("Health") or {}).get("Status") == "starting":
                    # Docker runs its first check one interval after the start: run the container's own check now.
                    extra["probe"] = self._probe(name, container)
                if is_a(plan[component], "vault_server") and running and args.get("vault_url"):
                    extra.update(self._vault(args["vault_url"]))
                if is_a(plan[component], "redis_node") and running:
                    extra.update(self._redis(name))
                if running and component not in create_only:
                    reachable.append((component, extra))
                rows.append((component, container, image_id, extra))
            self._reach(plan, settings, args.get("ca_file"), reachable)
            rows = [st.row(component, plan[component], container, images.get(image_id), now,
                           create_only=component in create_only, extra=extra)
                    for component, container, image_id, extra in rows]
        except dk.DockerError as exc:
            raise AnsibleActionFail("The Docker engine at %s answered: %s"
                                    % (settings.get("docker_host"), exc)) from None
        finally:
            self._engine.close()
        disabled = sorted(c for c in plan if not plan[c].get("enabled", True))
        lines = st.table(rows, disabled)
        verdict = st.verdict(rows)
        if fmt == "json":
            display.display(json.dumps({"instance": instance, "healthy": not verdict, "components": rows,
                                        "disabled": disabled}, sort_keys=True))
        else:
            display.display("\n".join(lines))
        result.update(changed=False, healthy=not verdict)
        if verdict:
            # The table is printed above: the failure says only who is not healthy, and why.
            result.update(failed=True, msg=verdict, unhealthy=[r["component"] for r in rows if not r["ok"]])
        else:
            result.update(msg="%d components healthy" % len(rows), components=rows, disabled=disabled, table=lines)
        return result
