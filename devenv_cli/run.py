"""What every command shares: where the checkout is, running a playbook (a progress line per play), the resolved
plan as JSON, the collection's module_utils, Docker, Vault, and errors that carry an exit code."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from devenv_cli import FAILURE, USAGE

ROOT = os.path.realpath(os.environ.get("DEVENV_ROOT") or os.path.join(os.path.dirname(__file__), ".."))
# The checkout resolves as ansible_collections.colima_services.devenv (ansible.cfg's collections_path).
sys.path.insert(0, os.path.join(ROOT, "collections"))


class CliError(Exception):
    """A failure to report in one message (what happened and what to do), with the exit code to leave with."""

    def __init__(self, message, code=FAILURE):
        super().__init__(message)
        self.code = code


class Context:
    """The global options: inventories and extra vars given to every playbook, verbosity."""

    def __init__(self, inventories=(), extra_vars=(), verbose=False):
        self.inventories, self.extra_vars, self.verbose = list(inventories), list(extra_vars), verbose
        self._plan = None

    def plan(self):
        """The resolved registry and settings (playbooks/cli_plan.yml), read once per command."""
        if self._plan is None:
            with tempfile.TemporaryDirectory(prefix="devenv-") as tmp:
                out = os.path.join(tmp, "plan.json")
                rc, output = playbook(self, "cli_plan.yml", {"devenv_cli_out": out}, quiet=True)
                if rc != 0 or not os.path.exists(out):
                    raise CliError("Could not resolve the plan (playbooks/cli_plan.yml, exit %s):\n%s"
                                   % (rc, "\n".join(output.splitlines()[-25:])))
                with open(out) as handle:
                    self._plan = json.load(handle)
        return self._plan


def tool(name):
    """A tool of this virtualenv (next to the interpreter), else from PATH."""
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.access(local, os.X_OK) else (shutil.which(name) or name)


def ansible_env():
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def playbook_argv(ctx, name, extra=None):
    argv = [tool("ansible-playbook"), os.path.join(ROOT, "playbooks", name)]
    for inventory in ctx.inventories:
        argv += ["-i", inventory]
    for item in ctx.extra_vars:
        argv += ["-e", item]
    if extra:
        # Settings only (profile, confirmation, paths): never a secret.
        argv += ["-e", json.dumps(extra, sort_keys=True)]
    return argv


PLAY = re.compile(r"^PLAY \[(.*)\] \*+$")
RECAP = re.compile(r"^\S+\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)")


def playbook(ctx, name, extra=None, quiet=False, log=None):
    """Run playbooks/<name>; return (exit code, output). Unless quiet, one progress line per play (the layer),
    or the whole output with --verbose; the output also goes to log (a 0600 file) when given."""
    start = time.monotonic()
    argv = playbook_argv(ctx, name, extra)
    try:
        proc = subprocess.Popen(argv, cwd=ROOT, env=ansible_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as exc:
        raise CliError("Cannot run %s (%s). Install the requirements into this virtualenv: pip install -r "
                       "requirements.txt -c constraints.txt -e ." % (argv[0], exc.strerror)) from exc
    lines = []
    sink = open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") if log else None
    try:
        for line in proc.stdout:
            lines.append(line)
            if sink:
                sink.write(line)
            if quiet:
                continue
            if ctx.verbose:
                sys.stdout.write(line)
            elif PLAY.match(line.rstrip()):
                print("[%4ds] %s" % (time.monotonic() - start, PLAY.match(line.rstrip()).group(1)), flush=True)
    finally:
        if sink:
            sink.close()
    return proc.wait(), "".join(lines)


def recap(output):
    """(changed, failed) from the PLAY RECAP, or None."""
    found = [RECAP.match(line) for line in output.splitlines() if RECAP.match(line)]
    return (int(found[-1].group(1)), int(found[-1].group(2))) if found else None


def failure_tail(output, lines=30):
    """The end of a failed run, from its first fatal error when there is one."""
    text = output.splitlines()
    first = next((i for i, line in enumerate(text) if line.startswith(("fatal:", "[ERROR]"))), None)
    return "\n".join(text[first:first + lines] if first is not None else text[-lines:])


def state_dir(ctx, *parts):
    """A 0700 directory under the instance's devenv_home."""
    path = os.path.join(ctx.plan()["home"], *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def container(ctx, component):
    """The container name of an enabled component; bad usage for a name the plan does not have."""
    plan = ctx.plan()["plan"]
    if component not in plan:
        raise CliError("No component %r in the registry. Components: %s" % (component, ", ".join(sorted(plan))), USAGE)
    if not plan[component].get("enabled", True):
        raise CliError("%s is disabled (profile or devenv_components_overrides). Enable it: devenv up %s"
                       % (component, component), USAGE)
    return ctx.plan()["settings"]["container_prefix"] + component


def docker_env(ctx):
    env = dict(os.environ)
    env["DOCKER_HOST"] = ctx.plan()["settings"]["docker_host"]
    return env


def docker(ctx, *args, capture=False, check=True):
    """The docker CLI against the plan's engine (for what a person watches: logs, an interactive exec)."""
    binary = shutil.which("docker")
    if not binary:
        raise CliError("The docker CLI is not on PATH. Install it (macOS: brew install docker; Debian: apt-get install "
                       "docker.io) or put it on PATH.")
    proc = subprocess.run([binary, *args], env=docker_env(ctx), text=True,
                          capture_output=capture, check=False)
    if check and proc.returncode != 0:
        raise CliError("docker %s failed (exit %s)%s" % (args[0], proc.returncode,
                                                          ": " + proc.stderr.strip() if capture else ""))
    return proc


def vault_get(ctx, path, token=None, timeout=5):
    """GET <vault_url>/v1/<path> (JSON) with the root token read from its 0600 file unless token is given."""
    plan = ctx.plan()
    token = read_root_token(ctx) if token is None else token
    headers = {"X-Vault-Token": token} if token else {}
    request = urllib.request.Request(plan["vault_url"].rstrip("/") + "/v1/" + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise CliError("Vault answered %s for %s. Is Vault unsealed and the secret written? Run devenv status; "
                       "devenv up repairs it." % (exc.code, path.split("?")[0])) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CliError("Vault at %s does not answer (%s). Start it: devenv up"
                       % (plan["vault_url"], getattr(exc, "reason", exc))) from exc


def read_root_token(ctx):
    path = ctx.plan()["root_token_file"]
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        raise CliError("Cannot read Vault's root token at %s (%s). It is written by the vault role: run devenv up; "
                       "another location is set with devenv_vault_dir." % (path, exc.strerror)) from exc


def emit_json(data):
    print(json.dumps(data, indent=2, sort_keys=True))
