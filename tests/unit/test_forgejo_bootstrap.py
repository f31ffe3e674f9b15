"""The Forgejo admin bootstrap leaves no API token behind when it fails (issue 22, item 17). Forgejo cannot run
here: these checks read the role's tasks."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bootstrap_block():
    with open(os.path.join(ROOT, "roles", "forgejo", "tasks", "admin.yml")) as handle:
        tasks = yaml.safe_load(handle)
    outer = next(t for t in tasks if t.get("name") == "Admin user through Forgejo's CLI and API")
    return next(t for t in outer["block"]
                if t.get("name") == "Create the admin user and set its password from Vault"), tasks


def test_the_token_is_issued_under_a_name_of_its_own_per_run():
    _, tasks = bootstrap_block()
    settings = next(t for t in tasks if t.get("name") == "Settings for the admin user")["ansible.builtin.set_fact"]
    assert "now(" in settings["_forgejo_token_name"]


def test_a_failed_bootstrap_removes_the_user_it_created_with_its_token_or_names_the_token():
    block, _ = bootstrap_block()
    names = [t["name"] for t in block["block"]]
    assert names.index("Issue a short-lived API token for the admin user") < names.index(
        "Delete the token (with the admin's own password, which now works)")
    delete = block["block"][-1]
    assert delete.get("register") == "_forgejo_token_deleted"
    rescue = block.get("rescue") or []
    assert rescue, "no rescue: a failure after the token was issued leaves it in Forgejo"
    remove_user = rescue[0]
    argv = remove_user["community.docker.docker_container_exec"]["argv"]
    assert "'admin', 'user', 'delete'" in argv
    # Only a user this run created (rc 0), and only while its token is still there.
    assert remove_user["when"] == "_forgejo_create.rc | default(1) == 0 and _forgejo_token_deleted is not defined"
    assert remove_user.get("no_log") is True
    named = rescue[1]
    assert "_forgejo_token_name" in named["ansible.builtin.fail"]["msg"]
    assert "_forgejo_create.rc | default(1) != 0" in named["when"]
    assert all("ansible.builtin.fail" in t for t in rescue[1:]), "the rescue must fail the run in the end"
    assert "when" not in rescue[-1]
