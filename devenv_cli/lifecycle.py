"""up, down, reset, status: the playbooks site.yml, reset.yml and status.yml, and a stop of our containers."""

import copy
import json
import os
import sys
import time

from devenv_cli import OK, UNHEALTHY, USAGE
from devenv_cli.run import (
    CliError,
    docker,
    emit_json,
    failure_tail,
    playbook,
    recap,
    state_dir,
)


def _enable(ctx, components):
    """devenv_components_overrides with these components enabled, on top of the inventory's own overrides."""
    plan = ctx.plan()
    unknown = sorted(set(components) - set(plan["plan"]))
    if unknown:
        raise CliError("Unknown component(s): %s. Components: %s"
                       % (", ".join(unknown), ", ".join(sorted(plan["plan"]))), USAGE)
    overrides = copy.deepcopy(plan.get("overrides") or {})
    for name in components:
        overrides.setdefault(name, {})["enabled"] = True
    return overrides


def _summary(output):
    """The summary's table (the literal block of its debug message), dedented."""
    lines, inside = [], False
    for line in output.splitlines():
        if "Show what runs and what was skipped" in line:
            inside = True
        elif inside and line.strip().startswith("msg: |"):
            lines = []
        elif inside and (line.startswith(("TASK [", "PLAY ", "RUNNING HANDLER")) or not line.strip()):
            if lines:
                break
        elif inside and line.startswith("        "):
            lines.append(line[8:])
    return lines


def _fast_path(output):
    """What site.yml's fast path said (its debug message, folded over several lines), or ""."""
    text, inside, words = output.splitlines(), False, []
    for line in text:
        if "Say what the fast path found" in line:
            inside = True
        elif inside and line.strip().startswith("msg:"):
            words.append(line.strip()[4:].strip())
        elif inside and words and line.startswith("        "):
            words.append(line.strip())
        elif inside and words:
            break
    return " ".join(words).strip("'\"")


def up(ctx, args):
    extra = {}
    if args.profile:
        extra["devenv_profile"] = args.profile
    if args.components:
        extra["devenv_components_overrides"] = _enable(ctx, args.components)
    log = os.path.join(state_dir(ctx, "logs"), "up-%s.log" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    print("devenv up: instance %s, full log in %s" % (ctx.plan()["instance"], log), flush=True)
    rc, output = playbook(ctx, "site.yml", extra, log=log)
    counts = recap(output)
    if rc != 0:
        print(failure_tail(output), file=sys.stderr)
        raise CliError("devenv up failed (ansible-playbook exit %s); the whole run is in %s" % (rc, log))
    if not ctx.verbose:
        # What the fast path found (nothing to do, only some layers, or every step), then the summary's table.
        print("\n".join([line for line in [_fast_path(output)] if line] + _summary(output)))
    print("done: changed=%s" % (counts[0] if counts else "?"))
    return OK


def down(ctx, args):
    """Stop this instance's containers (data, volumes, network and Vault's keys stay); devenv up starts them again."""
    plan = ctx.plan()
    label = "%s.instance=%s" % (plan["settings"]["label_prefix"], plan["instance"])
    running = docker(ctx, "ps", "-q", "--filter", "label=" + label, capture=True).stdout.split()
    if not running:
        print("nothing runs for instance %s" % plan["instance"])
        return OK
    docker(ctx, "stop", *running, capture=True)
    print("stopped %d containers of instance %s (data kept; devenv up starts them again)"
          % (len(running), plan["instance"]))
    return OK


def reset(ctx, args):
    """playbooks/reset.yml; it refuses unless the confirmation is the instance name, which is asked for here."""
    instance = ctx.plan()["instance"]
    confirm = args.confirm
    if confirm is None:
        if not sys.stdin.isatty():
            raise CliError("devenv reset removes the containers and network of instance %s%s. Confirm with "
                           "--confirm %s (or run it in a terminal to be asked)."
                           % (instance, " and their volumes" if args.volumes else "", instance), USAGE)
        what = "containers and network" + (", volumes" if args.volumes else "") + (
            ", Vault's keys (backups made with them can no longer be opened)" if args.vault_keys else "")
        confirm = input("This removes the %s of instance %s. Type the instance name to go on: " % (what, instance))
    extra = {"devenv_confirm": confirm, "devenv_reset_volumes": bool(args.volumes),
             "devenv_reset_vault_keys": bool(args.vault_keys)}
    rc, output = playbook(ctx, "reset.yml", extra)
    if rc != 0:
        print(failure_tail(output), file=sys.stderr)
        raise CliError("reset did not run (exit %s): nothing was removed unless the output says so" % rc)
    print("reset instance %s; devenv up builds it again" % instance)
    return OK


def read_status(ctx):
    """The status action's JSON line (playbooks/status.yml -e devenv_status_format=json)."""
    rc, output = playbook(ctx, "status.yml", {"devenv_status_format": "json"}, quiet=True)
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if "components" in doc:
                return doc
    raise CliError("playbooks/status.yml gave no report (exit %s):\n%s" % (rc, failure_tail(output)))


def _table(doc):
    from ansible_collections.colima_services.devenv.plugins.module_utils import _status
    lines = _status.table(doc["components"], doc.get("disabled") or [])
    bad = _status.verdict(doc["components"])
    return lines + ([bad] if bad else [])


def status(ctx, args):
    while True:
        doc = read_status(ctx)
        code = OK if doc.get("healthy") else UNHEALTHY
        if args.json:
            emit_json(doc)
        else:
            if args.watch:
                sys.stdout.write("\033[H\033[2J%s  (every %ss; Ctrl-C ends)\n" % (time.strftime("%H:%M:%S"),
                                                                                   args.interval))
            print("\n".join(_table(doc)), flush=True)
        if not args.watch:
            return code
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return code


