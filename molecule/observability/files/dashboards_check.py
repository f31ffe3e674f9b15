#!/usr/bin/env python3
"""Run every PromQL query of the Grafana dashboards against a live Prometheus.

  dashboards_check.py PROM DASHBOARD_DIR|DASHBOARD_JSON [VAR=VALUE ...] [--skip=NAME.json ...]

For each dashboard JSON in DASHBOARD_DIR: the template variables are set to a real value (VAR=VALUE given here,
which the variable's own label_values() query must offer; else the first value that query returns), Grafana's interval
variables to fixed durations; then every Prometheus target of every panel must parse (promql-parser), be accepted by
Prometheus (/api/v1/query_range over the last 15 minutes) and return at least one finite sample.
Exceptions, each marked in the panel's description:
  "[counts errors"   the panel counts errors: it must be valid, and may be empty;
  "[not tested live" parsed only (for a panel of an exporter that cannot run here; none today: pytest refuses it).
Loki targets are left to the LogQL grammar test (tests/unit/test_dashboards.py).
Prints one JSON summary; exits 1 naming each panel without data or with an invalid query.
"""

import json
import math
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import promql_parser

ERRORS_TAG = "[counts errors"
NOT_LIVE_TAG = "[not tested live"
# Grafana's own variables, fixed for the test: the dashboards' default range is the last hour.
BUILTINS = {"__rate_interval": "1m", "__interval": "30s", "__range": "1h"}
WINDOW = 15 * 60


def api(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:  # Prometheus answers 400 with its error for a bad query
        return json.loads(exc.read().decode())


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError("unknown variable $%s" % name)
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def resolve(base, var, values, given=None):
    """A real value for a query variable: the one given, which its label_values(<selector>, <label>) query must
    return, else the first one that query returns."""
    query = var.get("query")
    query = query.get("query") if isinstance(query, dict) else query
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query or "")
    if not m:
        raise ValueError("variable %s: only label_values(selector, label) is supported here: %r" % (var["name"], query))
    selector = substitute(m.group(1), values)
    data = api(base, "/api/v1/series", {"match[]": selector, "start": time.time() - WINDOW})
    found = sorted({s[m.group(2)] for s in data.get("data", []) if m.group(2) in s})
    if not found:
        raise ValueError("variable %s: %s has no value in Prometheus" % (var["name"], query))
    if given is not None:
        if given not in found:
            raise ValueError("variable %s: %s does not offer %r (it offers %s)" % (var["name"], query, given, found))
        found = [given]
    if var.get("multi") or var.get("includeAll"):  # a regex inside a PromQL string: \\. matches a dot
        return re.sub(r"([.+*?()\[\]{}|^$\\])", r"\\\\\1", found[0])
    return found[0]


def main(argv):
    base, folder = argv[0].rstrip("/"), pathlib.Path(argv[1])
    skip = set(a.split("=", 1)[1] for a in argv[2:] if a.startswith("--skip="))
    given = dict(a.split("=", 1) for a in argv[2:] if not a.startswith("--skip="))
    paths = [folder] if folder.is_file() else [p for p in sorted(folder.glob("*.json")) if p.name not in skip]
    summary = {"dashboards": 0, "queries_live": 0, "queries_errors_only_empty": 0, "queries_parsed_only": 0,
               "variables": {}, "failures": []}
    for path in paths:
        dash = json.loads(path.read_text())
        summary["dashboards"] += 1
        values = dict(BUILTINS)
        prom_dash = any(p.get("datasource", {}).get("type") == "prometheus" for p in dash["panels"])
        for var in dash.get("templating", {}).get("list", []):
            if var.get("datasource", {}).get("type") != "prometheus":
                continue
            try:
                values[var["name"]] = resolve(base, var, values, given.get(var["name"]))
            except (KeyError, ValueError) as exc:
                summary["failures"].append("%s: %s" % (path.name, exc))
            summary["variables"]["%s:%s" % (path.stem, var["name"])] = values.get(var["name"])
        if not prom_dash:
            continue
        for panel in dash["panels"]:
            if panel.get("datasource", {}).get("type") != "prometheus":
                continue
            where = "%s / %s" % (path.name, panel["title"])
            desc = panel.get("description", "")
            errors_only, not_live = desc.startswith(ERRORS_TAG), desc.startswith(NOT_LIVE_TAG)
            if not panel.get("targets"):
                summary["failures"].append("%s: no query" % where)
            for target in panel.get("targets", []):
                try:
                    expr = substitute(target["expr"], values)
                    promql_parser.parse(expr)
                except (KeyError, ValueError) as exc:
                    summary["failures"].append("%s [%s]: %s" % (where, target["refId"], exc))
                    continue
                if not_live:
                    summary["queries_parsed_only"] += 1
                    continue
                now = time.time()
                answer = api(base, "/api/v1/query_range",
                             {"query": expr, "start": now - WINDOW, "end": now, "step": 15})
                if answer.get("status") != "success":
                    summary["failures"].append("%s [%s]: Prometheus refused %r: %s"
                                               % (where, target["refId"], expr, answer.get("error")))
                    continue
                finite = [v for s in answer["data"]["result"] for _, v in s["values"] if math.isfinite(float(v))]
                if finite:
                    summary["queries_live"] += 1
                elif errors_only:
                    summary["queries_errors_only_empty"] += 1
                else:
                    summary["failures"].append("%s [%s]: no data for %r" % (where, target["refId"], expr))
    print(json.dumps(summary, indent=1, sort_keys=True))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
