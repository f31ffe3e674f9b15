"""Prometheus alerting rules (roles/prometheus/files/rules): every alert is complete and has a
promtool unit test that fires and one that does not; promtool checks and runs them when it is
on PATH (the observability Molecule scenario runs the same tests inside the Prometheus container)."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES_DIR = os.path.join(ROOT, "roles", "prometheus", "files", "rules")
RULES = os.path.join(RULES_DIR, "devenv.rules.yml")
TESTS = os.path.join(RULES_DIR, "devenv.rules.test.yml")

DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _alerts():
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def _alert_rule_tests():
    return [case for test in _load(TESTS)["tests"] for case in test.get("alert_rule_test", [])]


ALERT_NAMES = [rule["alert"] for rule in _alerts()]


def test_rule_file_has_the_required_alerts():
    required = {
        "TargetDown", "RedisDown", "PostgresDown", "MySQLDown", "PgBouncerDown", "MongoDBDown",
        "VaultSealed", "RedisClusterStateNotOk", "RedisClusterSlotsNotCovered",
        "PostgresConnectionsNearMax", "MySQLConnectionsNearMax", "RabbitMQQueueBacklog",
        "RabbitMQMemoryAlarm", "DiskFilling", "ContainerRestarting", "CertificateExpiringSoon",
        "PrometheusConfigReloadFailed", "AlertmanagerConfigReloadFailed",
    }
    assert required <= set(ALERT_NAMES), sorted(required - set(ALERT_NAMES))
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES)), "alert names must be unique"


@pytest.mark.parametrize("rule", _alerts(), ids=ALERT_NAMES)
def test_alert_is_complete(rule):
    name = rule["alert"]
    assert re.fullmatch(r"(?:[A-Z][A-Za-z0-9]*)+", name), f"{name}: alert names are CamelCase"
    assert str(rule.get("expr", "")).strip(), f"{name}: no expr"
    assert "for" in rule, f"{name}: no for:"
    assert DURATION.match(str(rule["for"])) and not re.fullmatch(r"0+\w+", str(rule["for"])), \
        f"{name}: for: must be a positive duration, got {rule['for']!r}"
    assert rule.get("labels", {}).get("severity") in ("warning", "critical"), f"{name}: severity"
    annotations = rule.get("annotations", {})
    for key in ("summary", "description"):
        assert str(annotations.get(key, "")).strip(), f"{name}: no {key}"
    # The description tells an application developer what to run or look at.
    assert "`" in annotations["description"], f"{name}: description names no command"


def test_redis_down_reacts_within_the_scenario_budget():
    """The observability scenario stops a Redis node and waits for + 2 scrape intervals."""
    rule = next(rule for rule in _alerts() if rule["alert"] == "RedisDown")
    assert rule["for"] == "30s"
    assert re.sub(r"\s", "", rule["expr"]) == "redis_up==0"


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = _alert_rule_tests()
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert not set(ALERT_NAMES) - firing, f"no firing case for {sorted(set(ALERT_NAMES) - firing)}"
    assert not set(ALERT_NAMES) - quiet, f"no quiet case for {sorted(set(ALERT_NAMES) - quiet)}"
    unknown = {case["alertname"] for case in cases} - set(ALERT_NAMES)
    assert not unknown, f"tests name alerts that do not exist: {sorted(unknown)}"


def test_firing_cases_state_severity_summary_and_description():
    for case in _alert_rule_tests():
        for alert in case.get("exp_alerts") or []:
            where = f"{case['alertname']} at {case['eval_time']}"
            assert alert.get("exp_labels", {}).get("severity"), f"{where}: exp_labels lacks severity"
            assert {"summary", "description"} <= set(alert.get("exp_annotations", {})), \
                f"{where}: exp_annotations must give summary and description"


def test_test_file_finds_the_rules_beside_it():
    """Relative path: the tests run from the repository and from a container directory alike."""
    rule_files = _load(TESTS)["rule_files"]
    assert rule_files == [os.path.basename(RULES)]
    for path in rule_files:
        assert not os.path.isabs(path)
        assert os.path.isfile(os.path.join(RULES_DIR, path))


def _promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus); the observability "
                    "Molecule scenario runs these checks inside the Prometheus container")
    return promtool


def test_promtool_check_rules():
    result = subprocess.run([_promtool(), "check", "rules", os.path.basename(RULES)], cwd=RULES_DIR,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules():
    result = subprocess.run([_promtool(), "test", "rules", os.path.basename(TESTS)], cwd=RULES_DIR,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
