"""plugins/action/fast_path.py: which play runs which role (read from the playbooks site.yml imports). The check and
the record against a real engine are in the cli scenario."""

import os

import yaml

from ansible_collections.colima_services.devenv.plugins.action import fast_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_each_role_of_site_yml_maps_to_the_one_play_that_runs_it():
    plays = fast_path.role_plays(ROOT)
    assert plays["postgres"] == plays["pgbouncer"] == "Data services"
    assert plays["redis"] == "Redis Cluster" and plays["traefik"] != plays["vault"]
    assert "devenv" not in plays  # the shared role is imported by tasks: a change of it walks every play
    names = set()
    for book in os.listdir(os.path.join(ROOT, "playbooks")):
        with open(os.path.join(ROOT, "playbooks", book)) as handle:
            names.update(play.get("name") for play in yaml.safe_load(handle) or [])
    assert set(plays.values()) <= names
    roles = set(d for d in os.listdir(os.path.join(ROOT, "roles")) if d != "devenv")
    assert roles == set(plays), "every role but the shared one runs in exactly one play of site.yml"
