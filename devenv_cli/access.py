"""logs, shell, open: what a person does with one service, through the docker CLI and the browser."""

import sys
import webbrowser

from devenv_cli import FAILURE, OK
from devenv_cli.clients import shell_argv, shell_env
from devenv_cli.run import CliError, container, docker


def logs(ctx, args):
    argv = ["logs"] + (["--follow"] if args.follow else []) + (["--since", args.since] if args.since else []) + (
        ["--tail", str(args.tail)] if args.tail is not None else [])
    try:
        return docker(ctx, *argv, container(ctx, args.component), check=False).returncode and FAILURE
    except KeyboardInterrupt:
        return OK


def shell(ctx, args):
    """The service's own client inside its container (psql, mariadb, redis-cli -c, mongosh, bao), else sh.
    Arguments after the component go to that client (devenv shell postgres -- -c 'select 1')."""
    name = container(ctx, args.component)
    spec = ctx.plan()["plan"][args.component]
    fields = dict(((spec.get("vault") or {}).get("data") or {}), component=args.component)
    fields.setdefault("username", "postgres")
    fields.setdefault("database", "postgres")
    argv = (list(args.client_args or []) or ["sh"]) if args.raw else shell_argv(spec.get("ports") or {}, fields) + list(
        args.client_args or [])
    flags = ["-i"] + (["-t"] if sys.stdin.isatty() and sys.stdout.isatty() else [])
    proc = docker(ctx, "exec", *flags, *shell_env(ctx.plan()["settings"]), name, *argv, check=False)
    return proc.returncode


def open_(ctx, args):
    """The component's page through the edge (https://<name>.localhost), else its published web port."""
    from ansible_collections.colima_services.devenv.plugins.module_utils import _status
    container(ctx, args.component)
    data = ctx.plan()
    found = _status.urls(args.component, data["plan"], data["settings"]["bind_address"])
    links = [u for u in found if "://" in u]
    if not links:
        ports = data["plan"][args.component].get("ports") or {}
        links = ["%s://%s:%s" % ("https" if p.get("kind") == "https" else "http", data["settings"]["bind_address"],
                                 p["host"]) for _, p in sorted(ports.items())
                 if p.get("host") and p.get("kind") in ("http", "https")]
    if not links:
        raise CliError("%s has no web page (no edge route and no http port published)" % args.component)
    print(links[0])
    if not args.print_only and not webbrowser.open(links[0]):
        raise CliError("No browser could be started: open %s yourself (BROWSER= chooses one)" % links[0])
    return OK
