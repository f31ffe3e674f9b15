"""The devenv command: a thin layer over this collection's playbooks and module_utils (see docs/cli.md)."""

# Exit codes of every subcommand.
OK, FAILURE, USAGE, UNHEALTHY = 0, 1, 2, 3
