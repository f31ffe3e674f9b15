"""Alloy's configuration (roles/alloy/templates/config.alloy.j2) rendered in both modes and parsed with the Alloy-syntax
parser of the observability scenario (molecule/observability/files/static_probe.py): our containers only by default,
every container on request; always through the Docker API filter, never the socket. Alloy itself cannot run here."""

import importlib.util
import os
import re

import jinja2
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "roles", "alloy", "templates", "config.alloy.j2")
PROBE = os.path.join(ROOT, "molecule", "observability", "files", "static_probe.py")
PLAN = {"docker-proxy": {"ports": {"docker": {"container": 2375}}}, "loki": {"ports": {"http": {"container": 3100}}}}


def _probe():
    spec = importlib.util.spec_from_file_location("static_probe", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _render(all_containers):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl, value)
    with open(TEMPLATE, encoding="utf-8") as handle:
        return env.from_string(handle.read()).render(
            ansible_managed="test", _devenv_plan=PLAN, alloy_all_containers=all_containers,
            devenv_label_prefix="io.colima-services", devenv_instance="default")


def _parse(text, tmp_path):
    path = tmp_path / "config.alloy"
    path.write_text(text)
    return _probe().alloy(str(path))


@pytest.mark.parametrize("all_containers", [False, True])
def test_rendered_config_parses_and_reads_through_the_filter(all_containers, tmp_path):
    text = _render(all_containers)
    result = _parse(text, tmp_path)
    components = result["components"]
    assert result["dangling_refs"] == []
    assert sorted(components) == ["discovery.docker.containers", "discovery.relabel.containers",
                                  "loki.source.docker.containers", "loki.write.loki"]
    for name in ("discovery.docker.containers", "loki.source.docker.containers"):
        assert components[name]["attrs"]["host"] == "tcp://docker-proxy:2375"
    assert "unix://" not in text and "docker.sock" not in text
    filters = components["discovery.docker.containers"]["blocks"]
    if all_containers:
        assert filters == []
    else:
        assert [f["attrs"] for f in filters] == [{"name": "label", "values": ["io.colima-services.instance=default"]}]
    rules = [b["attrs"] for b in components["discovery.relabel.containers"]["blocks"]]
    assert [r["target_label"] for r in rules] == ["container", "service", "service", "instance"]
    assert rules[2]["source_labels"] == ["__meta_docker_container_label_io_colima_services_component"]
    assert rules[3]["source_labels"] == ["__meta_docker_container_label_io_colima_services_instance"]
    assert components["loki.write.loki"]["blocks"][0]["attrs"]["url"] == "http://loki:3100/loki/api/v1/push"


@pytest.mark.parametrize("broken", [
    ('loki.write "loki" {', 'loki.write "loki"'),            # a block without its brace
    ('target_label  = "instance"', 'target_label  = instance"'),  # an unterminated string
    # a dangling reference
    ("forward_to       = [loki.write.loki.receiver]", "forward_to       = [loki.write.lokii.receiver]"),
])
def test_the_parser_refuses_broken_configs(broken, tmp_path):
    text = _render(False)
    assert broken[0] in text
    try:
        result = _parse(text.replace(broken[0], broken[1], 1), tmp_path)
    except ValueError:
        return
    assert result["dangling_refs"], "the broken config parsed cleanly"
