"""devenv: everyday use of the environment, as a thin layer over the collection's playbooks.

Exit codes (every subcommand): 0 ok, 1 failure, 2 bad usage, 3 not healthy (status, doctor)."""

import argparse
import sys

from devenv_cli import (
    FAILURE,
    access,
    backups,
    describe,
    doctor,
    lifecycle,
    trust,
)
from devenv_cli.run import CliError, Context  # also puts the checkout's collection on sys.path

from ansible_collections.colima_services.devenv.plugins.filter.registry import PROFILES

EXIT_CODES = "exit codes: 0 ok, 1 failure, 2 bad usage, 3 not healthy"


def _passphrase_option(parser):
    parser.add_argument("--passphrase-file", metavar="FILE",
                        help="read the passphrase from the first line of FILE (- reads stdin); "
                             "without it, it is asked at the terminal. Never given on the command line")


def _json_option(parser):
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout, for scripts")


def build_parser():
    parser = argparse.ArgumentParser(prog="devenv", description=__doc__.split("\n")[0], epilog=EXIT_CODES)
    parser.add_argument("-i", "--inventory", action="append", default=[], metavar="INVENTORY",
                        help="inventory of your machine's settings (repeatable; default: ansible.cfg's)")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                        help="extra variables for every playbook, as ansible-playbook -e (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the playbooks' whole output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name, func, help_text):
        command = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES)
        command.set_defaults(func=func)
        return command

    p = add("up", lifecycle.up, "build or repair the environment (site.yml); a re-run changes nothing")
    p.add_argument("--profile", choices=PROFILES, help="which components run (devenv_profile)")
    p.add_argument("components", nargs="*", metavar="COMPONENT", help="also enable these components for this run")
    add("down", lifecycle.down, "stop this instance's containers, keeping every volume and Vault's keys")
    p = add("reset", lifecycle.reset, "remove containers and network (playbooks/reset.yml), after confirmation")
    p.add_argument("--confirm", metavar="INSTANCE", help="the instance name, instead of typing it when asked")
    p.add_argument("--volumes", action="store_true", help="also remove the data volumes")
    p.add_argument("--vault-keys", action="store_true",
                   help="also remove Vault's keys (with --volumes); backups made with them can no longer be opened")
    p = add("status", lifecycle.status, "state, health, version and URLs of every enabled component")
    _json_option(p)
    p.add_argument("--watch", action="store_true", help="repeat until Ctrl-C")
    p.add_argument("--interval", type=int, default=5, metavar="SECONDS", help="between two reports (--watch)")
    p = add("describe", describe.describe, "every URL, host port and in-network address, and how to connect")
    _json_option(p)
    p = add("creds", describe.creds, "a component's user, password, database and connection URLs (from Vault)")
    p.add_argument("component", metavar="COMPONENT")
    _json_option(p)
    p = add("logs", access.logs, "a component's container log")
    p.add_argument("component", metavar="COMPONENT")
    p.add_argument("-f", "--follow", action="store_true", help="keep following")
    p.add_argument("--since", metavar="WHEN", help="e.g. 10m, 2h, or an RFC 3339 time")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    p = add("shell", access.shell, "the service's own client in its container (psql, mariadb, redis-cli -c, "
                                   "mongosh, bao), else sh; arguments after -- go to it")
    p.add_argument("component", metavar="COMPONENT")
    p.add_argument("--sh", dest="raw", action="store_true", help="run sh (or the command after --) instead")
    p.add_argument("client_args", nargs=argparse.REMAINDER, metavar="ARG")
    p = add("open", access.open_, "open a component's page in the browser (prints the URL)")
    p.add_argument("component", metavar="COMPONENT")
    p.add_argument("--print", dest="print_only", action="store_true", help="only print the URL")
    p = add("backup", backups.backup, "back up every enabled component (playbooks/backup.yml); prints its path")
    p.add_argument("--encrypt", action="store_true", help="encrypt it with age (a passphrase) into <dir>.tar.age")
    p.add_argument("--vault-keys", action="store_true", help="include Vault's keys.json (then keep it secret)")
    _passphrase_option(p)
    p = add("restore", backups.restore, "restore a backup (checked first; nothing changes when a check fails)")
    p.add_argument("backup", metavar="BACKUP", help="a backup directory or an encrypted .tar.age")
    _passphrase_option(p)
    p = add("backups", backups.list_backups, "list the backups in devenv_backup_dir")
    _json_option(p)
    p = add("verify", backups.verify, "check a backup's format and every checksum, without restoring")
    p.add_argument("backup", metavar="BACKUP")
    _passphrase_option(p)
    _json_option(p)
    p = add("trust", trust.trust, "trust the root CA in the system store and the browsers' NSS databases")
    p.add_argument("--undo", action="store_true", help="remove it again")
    p.add_argument("--store", choices=("all", "system", "nss"), default="all", help="which stores (default all)")
    _json_option(p)
    p = add("doctor", doctor.doctor, "check engine, memory, disk, ports, *.localhost, CA trust, Vault, clock, images")
    _json_option(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    ctx = Context(args.inventory, args.extra_vars, args.verbose)
    try:
        return args.func(ctx, args)
    except CliError as exc:
        print("devenv: %s" % exc, file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("devenv: interrupted", file=sys.stderr)
        return FAILURE


