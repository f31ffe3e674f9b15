# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.status: one report of the environment, read in this process.

One Docker API listing of our containers, one inspect per container (and per distinct image), Vault's
/sys/health, and per Redis node one `CLUSTER INFO` through docker exec (the password stays inside the
container: the node's own config file is read there). The logic is in module_utils/_status.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from ansible.errors import AnsibleActionFail
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.colima_services.devenv.plugins.module_utils import _status as st
from ansible_collections.colima_services.devenv.plugins.module_utils import _ops
from ansible_collections.colima_services.devenv.plugins.module_utils._reconcile import healthcheck_argv

from ansible_collections.colima_services.devenv.plugins.module_utils._ops import HAS_DOCKER, DockerException, NotFound

display = Display()

# CLUSTER INFO and the version on a node; the password is read from the node's config inside the container.
REDIS_INFO = ["/bin/sh", "-c",
              "REDISCLI_AUTH=$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' \"$1\"); export REDISCLI_AUTH; "
              "redis-cli -p 6379 cluster info && redis-cli -p 6379 info server | grep '^redis_version:'",
              "sh", "/usr/local/etc/redis.conf"]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("plan", "settings", "vault_url", "create_only", "format"))

    def _inspect(self, path, *args):
        try:
            return self._client.get_json(path, *args)
        except NotFound:
            return None

    def _vault(self, url):
        try:
            with open_url(url.rstrip("/") + "/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200",
                          timeout=5, validate_certs=True) as response:
                health = json.loads(response.read())
            return {"sealed": bool(health.get("sealed")) or not health.get("initialized"),
                    "version": health.get("version") or None}
        except (HTTPError, URLError, ValueError, OSError) as exc:
            return {"error": "API %s: %s" % (url, getattr(exc, "reason", exc))}

    def _redis(self, name):
        try:
            code, out, err = _ops.exec_run(self._client, name, REDIS_INFO, timeout=10)
        except DockerException as exc:
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
            return _ops.exec_run(self._client, name, argv, timeout=10)[0] == 0
        except DockerException:
            return False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if not HAS_DOCKER:
            raise AnsibleActionFail("colima_services.devenv.status needs the community.docker collection (>= 3.6)")
        args = self._task.args
        plan, settings = args.get("plan") or {}, args.get("settings") or {}
        fmt = args.get("format") or "table"
        if fmt not in ("table", "json"):
            raise AnsibleActionFail("devenv_status_format is %r; use table or json" % fmt)
        create_only = set(args.get("create_only") or [])
        prefix, label = settings.get("container_prefix", "dev-"), settings.get("label_prefix", "io.colima-services")
        instance = (settings.get("labels") or {}).get(label + ".instance", "default")
        try:
            self._client = _ops.connect(settings, timeout=30)
        except _ops.ConnectError as exc:
            raise AnsibleActionFail(str(exc))
        now = datetime.datetime.now(datetime.timezone.utc)
        rows, images = [], {}
        try:
            listed = self._client.get_json("/containers/json", params={
                "all": 1, "filters": json.dumps({"label": ["%s.instance=%s" % (label, instance)]})})
            ours = dict(((c.get("Names") or ["/"])[0].lstrip("/"), c) for c in listed)
            for component in sorted(c for c in plan if plan[c].get("enabled", True)):
                name = prefix + component
                container = self._inspect("/containers/{0}/json", name) if name in ours else None
                extra = {"urls": st.urls(component, plan, settings.get("bind_address", "127.0.0.1"))}
                running = bool(container and (container.get("State") or {}).get("Running"))
                image_id = (container or {}).get("Image")
                if image_id and image_id not in images:
                    images[image_id] = self._inspect("/images/{0}/json", image_id)
                if running and ((container.get("State") or {}).get("Health") or {}).get("Status") == "starting":
                    # Docker runs its first check one interval after the start: run the container's own check now.
                    extra["probe"] = self._probe(name, container)
                if component == "vault" and running and args.get("vault_url"):
                    extra.update(self._vault(args["vault_url"]))
                if plan[component].get("backup", {}).get("method") == "redis_rdb" and running:
                    extra.update(self._redis(name))
                rows.append(st.row(component, plan[component], container, images.get(image_id), now,
                                   create_only=component in create_only, extra=extra))
        except DockerException as exc:
            raise AnsibleActionFail("The Docker engine at %s answered: %s" % (settings.get("docker_host"), exc))
        finally:
            self._client.close()
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
