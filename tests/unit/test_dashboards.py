"""Grafana dashboards (roles/grafana/files/dashboards): structure, markers, and every query against its grammar.

PromQL is parsed with promql-parser (the Rust parser of Prometheus's grammar); LogQL with @grafana/lezer-logql, the
grammar Grafana's own Loki editor uses (node; scripts/test.sh installs it into .cache/node). Template variables are
replaced by placeholders first. Whether each PromQL query also returns data is checked against a live Prometheus in
the observability Molecule scenario (molecule/observability/files/dashboards_check.py)."""

import glob
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARDS = os.path.join(ROOT, "roles", "grafana", "files", "dashboards")
LOGQL_CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "logql_check.cjs")
NODE_MODULES = os.environ.get("DEVENV_NODE_MODULES", os.path.join(ROOT, ".cache", "node", "node_modules"))
DATASOURCES = {"prometheus": "prometheus", "loki": "loki"}
ERRORS_TAG = "[counts errors"
NOT_LIVE_TAG = "[not tested live"
# Grafana's interval variables, and a placeholder for each dashboard variable (a regex where the query matches one).
BUILTINS = {"__rate_interval": "1m", "__interval": "30s", "__range": "1h", "__auto": "1m"}
REQUIRED = {"overview", "vault", "postgres", "mysql", "redis", "rabbitmq", "mongodb", "traefik", "containers", "logs",
            "application"}


def _dashboards():
    return {os.path.basename(p)[:-5]: json.load(open(p, encoding="utf-8"))
            for p in sorted(glob.glob(os.path.join(DASHBOARDS, "*.json")))}


def _targets(kind):
    return [(name, panel, target) for name, dash in _dashboards().items() for panel in dash["panels"]
            if panel["datasource"]["type"] == kind for target in panel["targets"]]


def substitute(expr, names):
    def repl(match):
        name = match.group(1) or match.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        assert name in names, "unknown variable $%s in %r" % (name, expr)
        return "placeholder"
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def _variables(dash):
    return {v["name"] for v in dash.get("templating", {}).get("list", [])}


def test_every_required_dashboard_exists_with_a_unique_uid():
    dashboards = _dashboards()
    assert REQUIRED <= set(dashboards)
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))
    assert all(uid.startswith("devenv-") and len(uid) <= 40 for uid in uids)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_panels_are_complete(name):
    dash = _dashboards()[name]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    assert dash["panels"], "no panel"
    for panel in dash["panels"]:
        assert panel["title"] and panel.get("description"), panel
        assert DATASOURCES.get(panel["datasource"]["type"]) == panel["datasource"]["uid"], panel["title"]
        assert panel["targets"], "%s: no query" % panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"] == panel["datasource"], panel["title"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]


def test_markers():
    """Only error counters may be empty; no panel is exempt from the live test any more (MongoDB runs in the
    observability scenario; the marker stays for panels of an exporter that cannot run here)."""
    for dash in _dashboards().values():
        for panel in dash["panels"]:
            desc = panel["description"]
            assert NOT_LIVE_TAG not in desc, panel["title"]
            if desc.startswith(ERRORS_TAG):
                assert re.search(r"error|4xx|5xx|alert", panel["title"], re.I), \
                    "only error counters: %s" % panel["title"]


def test_overview_covers_up_restarts_memory_cpu():
    exprs = " ".join(t["expr"] for p in _dashboards()["overview"]["panels"] for t in p["targets"])
    for needle in ("up)", "container_start_time_seconds", "container_memory_working_set_bytes",
                   "container_cpu_usage_seconds_total"):
        assert needle in exprs


def test_traefik_shows_requests_latency_and_codes_per_router():
    exprs = [t["expr"] for p in _dashboards()["traefik"]["panels"] for t in p["targets"]]
    assert any("traefik_router_requests_total" in e and "router, code" in e for e in exprs)
    assert any("traefik_router_request_duration_seconds_bucket" in e and "histogram_quantile" in e for e in exprs)


@pytest.mark.parametrize("name,panel,target", _targets("prometheus"),
                         ids=lambda v: v if isinstance(v, str) else (v.get("title") or v.get("refId")))
def test_promql_parses(name, panel, target):
    promql_parser = pytest.importorskip("promql_parser", reason="promql-parser is in requirements.txt")
    promql_parser.parse(substitute(target["expr"], _variables(_dashboards()[name])))


def test_promql_parser_refuses_a_broken_query():
    promql_parser = pytest.importorskip("promql_parser", reason="promql-parser is in requirements.txt")
    with pytest.raises(ValueError):
        promql_parser.parse(substitute("sum(rate(up[$__rate_interval])", set()))


def _logql(queries):
    if not shutil.which("node"):
        pytest.skip("node is not installed (scripts/test.sh installs nodejs)")
    if not os.path.isdir(os.path.join(NODE_MODULES, "@grafana", "lezer-logql")):
        pytest.skip("@grafana/lezer-logql is not in %s (scripts/test.sh installs it with npm)" % NODE_MODULES)
    out = subprocess.run(["node", LOGQL_CHECK], input=json.dumps(queries), capture_output=True, text=True, check=True,
                         env=dict(os.environ, DEVENV_NODE_MODULES=NODE_MODULES))
    return json.loads(out.stdout)


def test_logql_parses():
    targets = _targets("loki")
    assert targets, "the logs dashboard has Loki queries"
    queries = [substitute(t["expr"], _variables(_dashboards()[name])) for name, _, t in targets]
    # Loki variables: label_values(<selector>, <label>) is Grafana's; the selector inside is LogQL.
    for dash in _dashboards().values():
        for var in dash["templating"]["list"]:
            match = re.fullmatch(r"label_values\((\{.*\}),\s*\w+\)", var.get("query", "")) \
                if var.get("datasource", {}).get("type") == "loki" else None
            if match:
                queries.append(substitute(match.group(1), _variables(dash)))
    bad = [r for r in _logql(queries) if not r["ok"]]
    assert not bad, bad


def test_logql_grammar_refuses_broken_queries():
    results = _logql(['sum(count_over_time({service="x"} [1m])', '{service="x" |= "y"', '{service="x"} | json |'])
    assert [r["ok"] for r in results] == [False, False, False]
