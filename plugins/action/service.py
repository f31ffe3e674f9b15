# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Action for colima_services.devenv.service: one reconcile step per service container.

Reads the state through the Docker API in this process (plugin_utils/_docker.py: container, image, the
files inside the container) and compares it with the spec. When nothing differs and the container is healthy it
starts no module at all. Otherwise it runs the community.docker modules (docker_image_pull,
docker_image, docker_volume, docker_container, docker_container_copy_into) for what differs.
The logic that needs no I/O is in module_utils/_reconcile.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.colima_services.devenv.plugins.module_utils import _fastpath as fp
from ansible_collections.colima_services.devenv.plugins.module_utils import _reconcile as rc
from ansible_collections.colima_services.devenv.plugins.module_utils import _serverversion as sv
from ansible_collections.colima_services.devenv.plugins.module_utils._files import atomic_write
from ansible_collections.colima_services.devenv.plugins.module_utils._recipe import recipe_hash

from ansible import constants as C

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19
    def trust_as_template(value):
        return value

from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk

display = Display()


class _Fail(Exception):
    pass


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("spec", "entry", "settings", "template_dir", "wait", "wait_for"))

    # ---- helpers -------------------------------------------------------------------------
    def _module(self, name, args, task_vars):
        """Run one community.docker module; a failure becomes _Fail with its message."""
        args = dict(args)
        if name.startswith("community.docker."):
            args.setdefault("docker_host", self._settings["docker_host"])
        self._modules.append(name.rsplit(".", 1)[-1])
        result = self._execute_module(module_name=name, module_args=args, task_vars=task_vars)
        if result.get("failed"):
            raise _Fail("%s: %s" % (name.rsplit(".", 1)[-1], to_text(result.get("msg", "failed")).strip()))
        return result

    def _image_id(self, ref):
        info = self._engine.image(ref)
        return info["Id"] if info else None

    # ---- image ---------------------------------------------------------------------------
    def _unavailable_file(self):
        return rc.unavailable_file(self._settings["home"])

    def _remembered(self):
        return rc.unavailable_images(self._settings["home"])

    def _remember(self, ref, why):
        if self._task.check_mode:
            return
        data = self._remembered()
        if why is None:
            if ref not in data:
                return
            data.pop(ref)
        else:
            data[ref] = {"at": int(time.time()), "why": why}
        os.makedirs(os.path.dirname(self._unavailable_file()), mode=0o700, exist_ok=True)
        atomic_write(self._unavailable_file(), json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)

    def _resolve_image(self, spec, task_vars):
        """(reference, image ID, why-unavailable). Pulls or builds only when nothing usable is present."""
        s = self._settings
        source = s["image_source"]
        upstream = spec.get("image") or ""
        recipe = spec.get("recipe") or ""
        recipe_dir = ""
        local_ref = ""
        if recipe:
            recipe_dir = recipe if os.path.isabs(recipe) else os.path.join(s["collection_root"], "images", recipe)
            local_ref = "%s%s:%s" % (s["local_image_prefix"], os.path.basename(recipe_dir.rstrip("/")),
                                     recipe_hash([recipe_dir, os.path.join(s["collection_root"], "images", "base")]))
        if source != "local" and upstream:
            image_id = self._image_id(upstream)
            if image_id:
                return upstream, image_id, None
        if source != "upstream" and local_ref:
            image_id = self._image_id(local_ref)
            if image_id:
                return local_ref, image_id, None

        why = []
        if source != "local" and upstream:
            known = self._remembered().get(upstream)
            fresh = known and (time.time() - known.get("at", 0)) < float(s["image_retry_hours"]) * 3600
            if fresh and not s["image_retry"]:
                why.append("%s could not be pulled at %s (%s); not tried again until devenv_image_retry_hours=%s "
                           "have passed, or run with -e devenv_image_retry=true"
                           % (upstream, time.strftime("%Y-%m-%d %H:%M", time.localtime(known["at"])),
                              known.get("why", "?"), s["image_retry_hours"]))
            else:
                args = {"name": upstream}
                self._modules.append("docker_image_pull")
                result = self._execute_module(module_name="community.docker.docker_image_pull",
                                              module_args=dict(args, docker_host=s["docker_host"]), task_vars=task_vars)
                if result.get("image") and not result.get("failed"):
                    self._remember(upstream, None)
                    self._actions.append("pulled %s" % upstream)
                    return upstream, result["image"].get("Id"), None
                if self._task.check_mode and not result.get("failed"):
                    self._actions.append("would pull %s" % upstream)
                    return upstream, None, None
                msg = " ".join(to_text(result.get("msg", "pull failed")).split())[:160]
                if source == "upstream":
                    raise _Fail("%s could not be pulled: %s" % (upstream, msg))
                self._remember(upstream, msg)
                why.append("%s is not present and could not be pulled (%s)" % (upstream, msg))
        if source != "upstream" and local_ref:
            if self._task.check_mode:
                self._actions.append("would build %s" % local_ref)
                return local_ref, None, None
            if not self._image_id(s["base_tag"]):
                if s["system"] != "Linux":
                    raise _Fail("Building local images needs Linux, root and debootstrap (this is %s). Use "
                                "devenv_image_source: upstream here, or build the images on a Linux machine and "
                                "docker save / docker load them." % s["system"])
                build = ["env", "DOCKER_HOST=" + s["docker_host"],
                         os.path.join(s["collection_root"], "images", "base", "build.sh"),
                         s["base_tag"]] + ([s["debian_mirror"]] if s["debian_mirror"] else [])
                self._module("ansible.legacy.command", {"argv": build}, task_vars)
                self._actions.append("built %s" % s["base_tag"])
            labels = dict(s["labels"])
            labels[s["label_prefix"] + ".recipe"] = os.path.basename(recipe_dir.rstrip("/"))
            self._module("community.docker.docker_image", {
                "name": local_ref, "source": "build",
                "build": {"path": recipe_dir, "pull": False, "args": {"BASE_IMAGE": s["base_tag"]}, "labels": labels}},
                task_vars)
            self._actions.append("built %s" % local_ref)
            return local_ref, self._image_id(local_ref), None
        if not local_ref:
            why.append("there is no local recipe")
        elif source == "upstream":
            why.append("devenv_image_source=upstream forbids the local recipe")
        return "", None, ", and ".join(why) or "no image given"

    # ---- files ---------------------------------------------------------------------------
    def _render(self, template, dest, variables, template_dir):
        """Render one template; variables is this step's own copy of the task variables."""
        path = template if os.path.isabs(template) else os.path.join(template_dir, template)
        try:
            text = self._loader.get_text_file_contents(path)
        except Exception as exc:
            raise _Fail("cannot read the template %s: %s" % (path, exc)) from exc
        variables.update(template_path=template, template_fullpath=path, template_destpath=dest)
        templar = self._templar.copy_with_new_env(searchpath=[os.path.dirname(path)], available_variables=variables)
        out = templar.template(trust_as_template(text), escape_backslashes=False)
        return to_bytes(out if out is not None else "")

    def _wanted_files(self, spec, task_vars, template_dir):
        # Where vault_access wrote the component's TLS files: its state directory.
        tls_dir = self._settings.get("tls_dir") or os.path.join(self._settings["home"], "services", self._component)
        entries = list(spec.get("files") or []) + rc.expand_tls(spec, tls_dir)
        variables = dict(task_vars)  # one copy for all templates of this service
        # What the template action adds that our templates use (no date in it: a re-render changes nothing).
        variables.setdefault("ansible_managed", C.config.get_config_value("DEFAULT_MANAGED_STR"))
        files = []
        for item in entries:
            if "template" in item:
                content = self._render(item["template"], item["dest"], variables, template_dir)
            elif "content" in item:
                content = to_bytes(item["content"])
            else:
                parts = []
                for src in item["src"] if isinstance(item["src"], list) else [item["src"]]:
                    try:
                        with open(src, "rb") as handle:
                            parts.append(handle.read())
                    except (IOError, OSError) as exc:
                        if not self._task.check_mode:
                            raise _Fail("cannot read %s for %s: %s" % (src, item["dest"], exc.strerror)) from exc
                        # Check mode: vault_access does not issue the certificate it would issue; the file differs.
                        parts.append(b"\0(not written yet)")
                content = b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts) if len(parts) > 1 else parts[0]
            owner = int(item.get("owner", 0))
            files.append({"dest": item["dest"], "content": content, "mode": rc.file_mode(item.get("mode", "0644")),
                          "owner": owner, "group": int(item.get("group", owner)), "secret": bool(item.get("secret")),
                          "template": "template" in item,
                          "reload": item.get("reload") or spec.get("reload") or "restart",
                          "validate": item.get("validate")})
        return files

    def _keep_host_copies(self, files, svc_dir):
        """Rendered templates also live on the host (0600, directory 0700), for the user to read."""
        rendered = [f for f in files if f["template"]]
        if not rendered:
            return
        os.makedirs(svc_dir, mode=0o700, exist_ok=True)
        for item in rendered:
            path = os.path.join(svc_dir, os.path.basename(item["dest"]))
            try:
                with open(path, "rb") as handle:
                    if handle.read() == item["content"]:
                        continue
            except (IOError, OSError):
                pass
            atomic_write(path, item["content"], mode=0o600)

    def _validate(self, container, item):
        """Check a new file with the service's own tool inside the running container (promtool check config %s)
        before it replaces the one in use: staged next to it, checked, then removed."""
        staged = item["dest"] + ".devenv-check"
        self._engine.put_file(container, staged, item["content"], item["mode"], item["owner"], item["group"])
        argv = [staged if arg == "%s" else arg for arg in item["validate"]]
        try:
            rc_, out, err = self._engine.exec_run(container, argv, "checking the new %s" % item["dest"], timeout=120)
        finally:
            self._engine.exec_run(container, ["rm", "-f", staged], "removing %s" % staged, timeout=30)
        if rc_ != 0:
            detail = "" if item["secret"] else ": " + to_text(out + err, errors="replace").strip()[-1500:]
            raise _Fail("the new %s does not pass `%s` (exit %s); the file in use is unchanged%s"
                        % (item["dest"], " ".join(item["validate"]), rc_, detail))

    # ---- the data volume's server (module_utils/_serverversion.py) -------------------------------
    def _server_check(self, spec, name, container, kept, ref, image_id):
        """Before anything changes: the server the spec's data volume belongs to against the one ref runs. Fails when
        they differ; returns the record to write once the server runs on the volume, or None."""
        server = spec.get("server")
        if not server or self._settings.get("create_only"):
            return None
        if not image_id:  # check mode, before a pull or build
            self._actions.append("would check the server of the volume %s once %s is there" % (server["volume"], ref))
            return None
        volume = self._settings["volume_prefix"] + server["volume"]
        wanted = sv.image_server((self._engine.image(image_id) or {}).get("Config"), server["image"])
        found, new = self._volume_servers(server, volume, container, kept, name, image_id)
        verdict = sv.verdict(found, wanted, kept=kept, new=new)
        ctx = {"component": self._component, "volume": volume, "container": name, "ref": ref, "wanted": wanted,
               "variable": server["variable"], "upstream": spec["image"],
               "previous_image": ((container or {}).get("Config") or {}).get("Image")}
        if verdict.refuse:
            raise _Fail(sv.refusal(ctx, found[verdict.refuse], verdict.refuse))
        if verdict.warning:
            display.warning(sv.warning(ctx, verdict.warning, sv.known(found)[0]))
        if not verdict.write:
            return None
        target = next(v["target"] for v in spec["volumes"] if v["name"] == server["volume"])
        return {"path": target.rstrip("/") + "/" + sv.RECORD, "content": sv.record(verdict.write, ref),
                "volume": volume, "server": sv.describe(verdict.write)}

    def _volume_servers(self, server, volume, container, kept, name, image_id):
        """({source: server or None}, new): the volume's record and data files, read through the container that
        mounts it, else through a helper from the image; new when the volume does not exist yet."""
        path = sv.mount_path(container, volume)
        if path:
            files = self._engine.small_files(name, path, sv.file_names(server))
        elif self._engine.volume(volume) is None:
            return {}, True
        else:
            files = self._engine.volume_files(volume, sv.file_names(server), image_id, self._settings["labels"],
                                              name + "-server-check")
        found = {"record": sv.parse_record(files.get(sv.RECORD)),
                 "data": sv.data_server(files, server.get("data") or [])}
        if path and not kept:
            found["previous"] = sv.image_server((self._engine.image(container["Image"]) or {}).get("Config"),
                                                server["image"])
        return found, False

    def _write_record(self, name, record):
        """Write the volume's server record into the running container (once the server is up on it); True if so."""
        if not record or self._task.check_mode:
            return False
        self._engine.put_file(name, record["path"], to_bytes(record["content"]), 0o644, 0, 0)
        self._actions.append("recorded %s on the volume %s" % (record["server"], record["volume"]))
        return True

    # ---- health --------------------------------------------------------------------------
    def _wait(self, name, ready, healthcheck=None):
        """Until Docker says healthy (or running, per ready). Docker runs the first check only one interval
        after the start (engines before API 1.44 have no start_interval), so meanwhile the container's own
        check is run here every second: when it passes, the service answers, as Docker will soon say too."""
        probe = rc.healthcheck_argv(healthcheck) if ready == "healthy" else None
        try:
            self._engine.wait_healthy(name, self._settings["health_timeout"], ready=ready, probe=probe)
            return
        except dk.NotHealthy as exc:
            info = exc.info
        state = info.get("State") or {}
        log = (state.get("Health") or {}).get("Log") or [{}]
        lines = int(self._settings["log_lines"])
        try:
            out, err = self._engine.logs(name, lines)
        except dk.DockerError as exc:
            out, err = "", "(logs unavailable: %s)" % exc
        raise _Fail(
            "%s (%s) did not become healthy within %s s:\nstate %s, health %s.\nLast health check: %s\n"
            "Last %s log lines (stdout, then stderr):\n%s\n%s\n"
            "Fix the cause, then run this component's role again (or ansible-playbook site.yml: what is already right "
            "is not changed)."
            % (self._component, name, self._settings["health_timeout"], state.get("Status", "unknown"),
               (state.get("Health") or {}).get("Status", "none"), (log[-1].get("Output") or "n/a").strip(), lines,
               out.strip(), err.strip()))

    # ---- main ----------------------------------------------------------------------------
    def _connect(self):
        try:
            self._engine = dk.Engine(self._settings, timeout=60)
        except dk.EngineUnavailable as exc:
            raise AnsibleActionFail("%s: %s" % (self._component or "devenv_service", exc)) from None

    def _wait_for(self, pending):
        """Wait for containers started earlier without waiting (wait=false), one after the other."""
        result = {"changed": False, "waited": []}
        try:
            for item in pending:
                self._component = item["component"]
                self._wait(item["container"], item.get("ready", "healthy"), item.get("healthcheck"))
                if self._write_record(item["container"], item.get("record")):
                    result["changed"] = True
                result["waited"].append(item["container"])
        except _Fail as exc:
            if not self._modules and not self._wrote:
                result["changed"] = False  # refused before anything was written (a file that failed its validate)
            result.update(failed=True, msg=str(exc))
        except dk.DockerError as exc:
            result.update(failed=True, msg="%s: the Docker engine at %s answered: %s"
                                           % (self._component, self._settings["docker_host"], exc))
        finally:
            self._engine.close()
        return result

    def _checked_args(self, args):
        """spec and entry of the step (settings kept); AnsibleActionFail naming the field when they are unusable."""
        spec, entry, self._settings = args.get("spec") or {}, args.get("entry") or {}, args.get("settings") or {}
        self._component = spec.get("component") if isinstance(spec, dict) else None
        problems = rc.check_spec(spec)
        if problems:
            raise AnsibleActionFail("devenv_service for %s: %s." % (self._component or "?", "; ".join(problems)))
        if not entry.get("ip"):
            raise AnsibleActionFail("Component '%s' has no entry with an ip in devenv_components. Add one with its ip "
                                    "and ports (see roles/devenv/defaults/main.yml and docs/registry.md)."
                                    % self._component)
        return spec, entry

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        self._modules, self._actions, self._wrote = [], [], False
        if args.get("wait_for") is not None:
            self._settings, self._component = args.get("settings") or {}, None
            self._connect()
            result.update(self._wait_for(args["wait_for"]))
            return result
        spec, entry = self._checked_args(args)
        name = self._settings["container_prefix"] + self._component
        result.update(changed=False, container=name,
                      status="created" if self._settings.get("create_only") else "deployed",
                      modules=self._modules, actions=self._actions)
        self._connect()
        try:
            self._reconcile(spec, entry, name, args, task_vars, result)
        except _Fail as exc:
            if not self._modules and not self._wrote:
                result["changed"] = False  # refused before anything was written (a file that failed its validate)
            result.update(failed=True, msg="%s: %s" % (self._component, exc)
                          if not str(exc).startswith(self._component) else str(exc))
        except dk.DockerError as exc:
            result.update(failed=True, msg="%s: the Docker engine at %s answered: %s"
                                           % (self._component, self._settings["docker_host"], exc))
        finally:
            self._engine.close()
        return result

    def _reconcile(self, spec, entry, name, args, task_vars, result):
        """Resolve the image, decide (rc.decide) and do what the decision says."""
        ref, image_id, why = self._resolve_image(spec, task_vars)
        result["image"] = ref
        if not ref:
            self._unavailable(why, result)
            return
        files = self._wanted_files(spec, task_vars, args.get("template_dir") or "")
        options, want = self._wanted(spec, entry, name, ref, image_id, files)
        if not self._task.check_mode:  # what the fast path's record holds of this container (module_utils/_fastpath)
            result["fingerprint"] = fp.fingerprint(name, want["config_hash"], ref, image_id or self._image_id(ref),
                                                   [f["dest"] for f in files], want["ready"], want["create_only"])
        if not self._task.check_mode:
            self._keep_host_copies(files, os.path.join(self._settings["home"], "services", self._component))
        container = self._engine.container(name)
        decision = rc.decide(want, container, lambda paths: self._engine.read_files(name, paths))
        if decision.action == "recreate":  # before anything changes: the container will mount these volumes
            self._refuse_foreign_volumes(spec)
        record = self._server_check(spec, name, container, decision.action != "recreate", ref, image_id)
        if decision.action == "wait":
            self._wait(name, want["ready"], spec.get("healthcheck"))
        if decision.action in ("none", "wait"):
            if self._write_record(name, record):
                result["changed"] = True
            return
        result.update(changed=True, diff={"before_header": name, "after_header": name, "before": "",
                                          "after": "\n".join(decision.diff) + "\n"})
        self._actions.extend(decision.diff)
        if self._task.check_mode:
            return
        self._apply(decision, name, spec, options, container, task_vars)
        if want["create_only"]:
            return
        pending = {"component": self._component, "container": name, "ready": want["ready"],
                   "healthcheck": spec.get("healthcheck"), "record": record}
        if args.get("wait", True):
            self._wait(name, pending["ready"], pending["healthcheck"])
            self._write_record(name, record)
        else:
            result["pending"] = pending  # started; the play waits for it later, with the others (parallel start)

    def _unavailable(self, why, result):
        msg = "%s cannot run: %s." % (self._component, why)
        if self._settings.get("require_all"):
            raise _Fail(msg + " Make the image available (docker pull / docker load), or set "
                        "devenv_require_all_components: false to skip it.")
        display.warning("SKIPPED %s It is reported as unavailable. Set devenv_require_all_components: true "
                        "to make this an error." % msg)
        result.update(status="unavailable", msg=msg)

    def _wanted(self, spec, entry, name, ref, image_id, files):
        """The docker_container options (with the config-hash labels) and what rc.decide compares."""
        s = self._settings
        options = rc.container_options(spec, entry, s)
        config_hash, fields = rc.spec_hashes(options, image_id or ref)
        options["labels"][s["label_prefix"] + "." + rc.HASH_LABEL] = config_hash
        options["labels"][s["label_prefix"] + "." + rc.FIELDS_LABEL] = json.dumps(fields, sort_keys=True,
                                                                                  separators=(",", ":"))
        options["image"] = ref
        return options, {"name": name, "config_hash": config_hash, "fields": fields, "image_id": image_id,
                         "label_prefix": s["label_prefix"], "files": files, "ready": spec.get("ready", "healthy"),
                         "create_only": bool(s.get("create_only"))}

    def _refuse_foreign_volumes(self, spec):
        s = self._settings
        for volume in spec.get("volumes") or []:
            vname = s["volume_prefix"] + volume["name"]
            why = rc.foreign_volume(vname, self._engine.volume(vname), s["labels"], s["label_prefix"])
            if why:
                raise _Fail(why)

    def _apply(self, decision, name, spec, options, container, task_vars):
        """Volumes, the container (recreate), the files that differ, then start or reload (not create-only)."""
        for volume in spec.get("volumes") or []:
            vname = self._settings["volume_prefix"] + volume["name"]
            if self._engine.volume(vname) is None:
                vlabels = dict(self._settings["labels"])
                vlabels[self._settings["label_prefix"] + ".component"] = self._component
                self._module("community.docker.docker_volume", {"name": vname, "labels": vlabels}, task_vars)
        created = False
        if decision.action == "recreate":
            created = self._module("community.docker.docker_container", dict(options, state="present"),
                                   task_vars).get("changed", False)
        if decision.action == "copy" and decision.reload is not None:
            for item in decision.stale:
                if item["validate"]:
                    self._validate(name, item)
        if decision.stale:
            # Written in this process through the archive endpoint: one upload each.
            self._wrote = True
            self._engine.ensure_dirs(name, [item["dest"] for item in decision.stale])
            for item in decision.stale:
                self._engine.put_file(name, item["dest"], item["content"], item["mode"], item["owner"], item["group"])
        if not self._settings.get("create_only"):
            self._bring_up(decision, name, created, rc.is_running((container or {}).get("State")))

    def _bring_up(self, decision, name, created, was_running):
        """Start the container, or make the running one take its new files (restart, a signal, or nothing)."""
        if decision.action == "copy" and decision.reload == "watch":
            self._actions.append("%s picks the new files up by itself" % name)  # Traefik's file provider
        elif decision.action == "copy" and decision.reload != "restart":
            self._engine.kill(name, decision.reload)
            self._actions.append("sent %s to %s" % (decision.reload, name))
        elif decision.action == "copy":
            self._engine.restart(name, timeout=10)
            self._actions.append("restarted %s" % name)
        elif created or not was_running:
            self._engine.start(name)
            self._actions.append("started %s" % name)
