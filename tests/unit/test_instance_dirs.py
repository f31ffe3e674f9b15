"""Each instance has its own Vault directory, and a reset removes only directories its instance made
(issue 22, item 4). The reset runs are real ansible-playbook runs against the real engine, for an instance
that has no objects there, with HOME pointing at a temporary directory."""

import os
import subprocess
import sys

import pytest

from ansible_collections.colima_services.devenv.plugins.filter import safety
from ansible_collections.colima_services.devenv.plugins.module_utils import _preflight as pf
from ansible_collections.colima_services.devenv.plugins.modules import preflight

pytestmark = pytest.mark.playbook  # see pytest.ini

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
DEFAULTS = os.path.join(ROOT, "roles", "devenv", "defaults", "main.yml")


def rendered_vault_dir(tmp_path, instance, home="/home/dev"):
    """devenv_vault_dir as ansible-playbook renders the role's defaults for an instance, with HOME=home."""
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  vars_files: ['%s']\n"
        "  tasks:\n    - ansible.builtin.copy: {dest: '%s', content: '{{ devenv_vault_dir }}'}\n"
        % (DEFAULTS, tmp_path / "out"))
    env = dict(os.environ, HOME=home, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([PLAYBOOK, str(playbook), "-e", "devenv_instance=%s" % instance], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (tmp_path / "out").read_text().strip()


def test_vault_dir_is_one_per_instance_and_default_keeps_its_path(tmp_path):
    assert rendered_vault_dir(tmp_path, "default") == "/home/dev/.config/vault"
    assert rendered_vault_dir(tmp_path, "two") == "/home/dev/.local/share/colima-services/two/vault"


def mark(directory, instance):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / pf.VAULT_MARKER).write_text(instance + "\n")


def test_preflight_refuses_a_vault_dir_marked_for_another_instance(tmp_path, run_module):
    vault = tmp_path / "vault"
    mark(vault, "default")
    failed, result = run_module(preflight.main, dict(
        network_name="dev-services", subnet="172.20.0.0/16", gateway="172.20.0.1", instance="two",
        components={"vault": {"ip": "172.20.0.5", "ports": {}}}, vault_dir=str(vault)))
    assert failed
    assert ("devenv_vault_dir %s holds the Vault keys of instance 'default' (its .colima-services-instance file says "
            "so), not of instance 'two'" % vault) in result["msg"]
    failed, _ = run_module(preflight.main, dict(
        network_name="dev-services", subnet="172.20.0.0/16", gateway="172.20.0.1", instance="default",
        components={"vault": {"ip": "172.20.0.5", "ports": {}}}, vault_dir=str(vault)))
    assert not failed


def test_a_new_instance_is_warned_about_the_directory_all_instances_shared(tmp_path):
    legacy = tmp_path / ".config" / "vault"
    legacy.mkdir(parents=True)
    own = tmp_path / "share" / "two" / "vault"
    warnings = pf.legacy_vault_warnings(str(own), "two", str(tmp_path))
    assert len(warnings) == 1 and "set devenv_vault_dir: %s" % legacy in warnings[0]
    assert pf.legacy_vault_warnings(str(own), "default", str(tmp_path)) == []
    mark(legacy, "default")  # the default instance's, marked: not this one's
    assert pf.legacy_vault_warnings(str(own), "two", str(tmp_path)) == []
    own.mkdir(parents=True)
    assert pf.legacy_vault_warnings(str(own), "three", str(tmp_path)) == []


@pytest.mark.parametrize("vault_dir,expect", [
    ("/", "devenv_vault_dir is /, which is / or your home directory (or above it)"),
    ("{home}", "which is / or your home directory (or above it)"),
    ("{home}/..", "which is / or your home directory (or above it)"),
    ("{home}/elsewhere/vault", "outside this instance's own directories"),
    ("{devenv_home}", "outside this instance's own directories"),
    ("{home}/.config/vault-two", "outside this instance's own directories"),
])
def test_reset_refuses_slash_home_and_paths_outside_its_own(tmp_path, vault_dir, expect):
    home, devenv_home = tmp_path / "home", tmp_path / "home" / "share" / "two"
    path = vault_dir.format(home=home, devenv_home=devenv_home)
    os.makedirs(path, exist_ok=True)
    if os.path.realpath(path) != "/":
        mark(__import__("pathlib").Path(path), "two")
    problems = safety.reset_refusals(str(devenv_home), path, "two", str(home))
    assert len(problems) == 1 and expect in problems[0], problems


def test_reset_removes_only_a_vault_dir_marked_for_its_instance(tmp_path):
    home = tmp_path / "home"
    devenv_home = home / "share" / "two"
    vault = devenv_home / "vault"
    # Nothing there: nothing to refuse.
    assert safety.reset_refusals(str(devenv_home), str(vault), "two", str(home)) == []
    vault.mkdir(parents=True)
    problems = safety.reset_refusals(str(devenv_home), str(vault), "two", str(home))
    assert len(problems) == 1 and "was not marked by a converge of instance 'two'" in problems[0]
    mark(vault, "default")
    problems = safety.reset_refusals(str(devenv_home), str(vault), "two", str(home))
    assert len(problems) == 1 and "belongs to instance 'default'" in problems[0]
    mark(vault, "two")
    assert safety.reset_refusals(str(devenv_home), str(vault), "two", str(home)) == []
    # The default instance's path of old is its own; another instance's it is not.
    legacy = home / ".config" / "vault"
    mark(legacy, "default")
    assert safety.reset_refusals(str(home / "share" / "default"), str(legacy), "default", str(home)) == []
    assert safety.reset_refusals(str(devenv_home), str(legacy), "two", str(home)) != []
    # Without devenv_reset_vault_keys the Vault directory is not looked at.
    assert safety.reset_refusals(str(devenv_home), str(home), "two", str(home), False) == []


def test_reset_refuses_a_devenv_home_that_is_home_or_slash(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for devenv_home in (str(home), "/"):
        problems = safety.reset_refusals(devenv_home, str(home / "nothing"), "two", str(home))
        assert len(problems) == 1 and problems[0].startswith("devenv_home is %s, which is / or your home" % devenv_home)


KEYS = ("-e", "devenv_reset_volumes=true", "-e", "devenv_reset_vault_keys=true")


def reset(tmp_path, home, *extra, keys=True):
    env = dict(os.environ, HOME=str(home), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    env.pop("DOCKER_HOST", None)
    proc = subprocess.run(
        [PLAYBOOK, "playbooks/reset.yml", "-e", "devenv_instance=reset-test-two", "-e", "devenv_confirm=reset-test-two",
         *(KEYS if keys else ()), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_reset_of_instance_two_keeps_the_keys_of_instance_one_and_removes_its_own(tmp_path):
    home = tmp_path / "home"
    one = home / ".config" / "vault"
    mark(one, "default")
    (one / "keys.json").write_text("{}")
    devenv_home = home / ".local" / "share" / "colima-services" / "reset-test-two"
    (devenv_home / "services" / "postgres").mkdir(parents=True)

    # Instance two pointed at instance one's directory: refused before anything is removed.
    rc, out = reset(tmp_path, home, "-e", "devenv_vault_dir=%s" % one)
    assert rc != 0, out
    assert "Refusing to reset instance 'reset-test-two'" in out and "outside this instance's own directories" in out
    assert (one / "keys.json").exists() and (devenv_home / "services" / "postgres").exists()

    # Its own (default) directory, marked by its converge: removed, with the certificates.
    own = devenv_home / "vault"
    mark(own, "reset-test-two")
    (own / "keys.json").write_text("{}")
    rc, out = reset(tmp_path, home)
    assert rc == 0, out
    assert not own.exists() and not (devenv_home / "services").exists()
    assert (one / "keys.json").exists()


def preflight_run(tmp_path, home, instance, *extra):
    env = dict(os.environ, HOME=str(home), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    env.pop("DOCKER_HOST", None)
    proc = subprocess.run(
        [PLAYBOOK, "playbooks/platform.yml", "--tags", "docker_host_preflight", "-e", "devenv_instance=%s" % instance,
         "-e", "devenv_network_name=marker-test-net", "-e", "devenv_network_subnet=172.31.251.0/24",
         "-e", "devenv_network_gateway=172.31.251.1", "-e", "devenv_container_prefix=marker-test-",
         "-e", '{"devenv_components": {"vault": {"ip": "172.31.251.5", "ports": {}, "vault": false}}}', *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_first_preflight_marks_vault_dir_and_another_instance_is_refused_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc, out = preflight_run(tmp_path, home, "marker-one")
    assert rc == 0, out
    own = home / ".local" / "share" / "colima-services" / "marker-one" / "vault"
    assert (own / pf.VAULT_MARKER).read_text() == "marker-one\n"
    assert oct(os.stat(own).st_mode & 0o777) == "0o700"
    assert oct(os.stat(own / pf.VAULT_MARKER).st_mode & 0o777) == "0o600"

    rc, out = preflight_run(tmp_path, home, "marker-two", "-e", "devenv_vault_dir=%s" % own)
    assert rc != 0, out
    assert "holds the Vault keys of instance 'marker-one'" in out and "Preflight found 1 problem(s)" in out
    assert (own / pf.VAULT_MARKER).read_text() == "marker-one\n"


def test_a_plain_reset_removes_the_host_copies_of_secrets_and_keeps_vaults_keys(tmp_path):
    home = tmp_path / "home"
    devenv_home = home / ".local" / "share" / "colima-services" / "reset-test-two"
    copies = devenv_home / "services" / "postgres"
    copies.mkdir(parents=True)
    (copies / "tls.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    own = devenv_home / "vault"
    mark(own, "reset-test-two")
    (own / "keys.json").write_text("{}")
    rc, out = reset(tmp_path, home, keys=False)
    assert rc == 0, out
    assert not (devenv_home / "services").exists()
    assert (own / "keys.json").exists()
