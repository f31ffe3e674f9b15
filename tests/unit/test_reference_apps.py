"""The reference apps' contract (reference-apps/openapi.yaml) against both implementations, read without running them
(the apps' own packages are not in the controller's virtualenv; the apps scenario calls every route live)."""

import ast
import importlib.util
import os
import re
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = os.path.join(ROOT, "reference-apps")
METHODS = ("get", "post", "put", "patch", "delete")


def document():
    with open(os.path.join(APPS, "openapi.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def contract():
    """{(path, method): operationId} of the document."""
    return dict(((path, method), op["operationId"]) for path, ops in document()["paths"].items()
                for method, op in ops.items() if method in METHODS)


def module(name):
    """A module of the shared package that needs no third-party package (loaded by path, as the app would)."""
    sys.path.insert(0, APPS)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(APPS)


def code_first_routes():
    """{(path, method): operation_id} of the @app.<method>(path, operation_id=...) decorators of reference_api."""
    with open(os.path.join(APPS, "reference_api", "app.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    routes = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "attr", None) in METHODS:
                    op_id = [k.value.value for k in dec.keywords if k.arg == "operation_id"]
                    routes[(dec.args[0].value, dec.func.attr)] = op_id[0] if op_id else None
    return routes


def test_the_document_is_openapi_3_1_with_unique_operation_ids():
    doc = document()
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"]
    ids = list(contract().values())
    assert len(ids) == len(set(ids)) and all(re.match(r"^[a-z_]+$", i) for i in ids)
    for path in doc["paths"]:
        for param in re.findall(r"\{(\w+)\}", path):
            for method, op in doc["paths"][path].items():
                names = [p.get("name") or doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                         for p in op.get("parameters") or []]
                assert param in names, "%s %s does not declare its parameter %s" % (method, path, param)


def test_the_contract_has_the_routes_of_the_issue():
    routes = contract()
    for path in ("/", "/health/", "/health/all", "/health/{service}", "/examples/vault/secret/{service}",
                 "/examples/vault/secret/{service}/{key}", "/examples/database/{database}/query",
                 "/examples/messaging/publish", "/examples/messaging/queue/{name}/info", "/redis/cluster/nodes",
                 "/redis/cluster/slots", "/redis/cluster/info", "/redis/nodes/{name}/info", "/metrics"):
        assert any(p == path for p, _ in routes), path
    assert {m for p, m in routes if p == "/examples/cache/{key}"} == {"get", "post", "delete"}
    services = document()["components"]["parameters"]["Service"]["schema"]["enum"]
    assert services == list(module("devenv_app.operations").HEALTH_SERVICES)


def test_code_first_declares_exactly_the_document_routes_with_the_same_operation_ids():
    assert code_first_routes() == contract()


def test_every_operation_of_the_document_is_implemented_once_in_the_shared_package():
    operations = module("devenv_app.operations").OPERATIONS
    missing = sorted(set(contract().values()) - set(operations) - {"metrics"})
    assert not missing, "openapi.yaml operations without an implementation: %s" % missing
    unused = sorted(set(operations) - set(contract().values()))
    assert not unused, "operations no route uses: %s" % unused


def test_secret_values_are_masked_by_field_name():
    mask = module("devenv_app.operations").mask
    for field in ("password", "root_password", "secret_key", "internal_token", "jwt_secret", "api_key"):
        assert mask(field, "s3cr3t") == "********"
    for field in ("username", "database", "vhost", "tls_enabled"):
        assert mask(field, "dev_user") == "dev_user"


def test_the_breaker_opens_after_failures_fails_fast_and_closes_after_a_good_trial():
    breaker_mod = module("devenv_app.breaker")
    now = [0.0]
    b = breaker_mod.Breaker("postgres", threshold=3, reset_after=5.0, clock=lambda: now[0])
    for _ in range(3):
        b.before()
        b.failure()
    assert b.state == "open"
    with pytest.raises(breaker_mod.BreakerOpen, match="circuit open"):
        b.before()
    now[0] = 5.0
    assert b.state == "half-open"
    b.before()  # the one trial
    with pytest.raises(breaker_mod.BreakerOpen):
        b.before()  # no second call while the trial runs
    b.failure()
    assert b.state == "open"
    now[0] = 10.0
    b.before()
    b.success()
    assert b.state == "closed" and b.failures == 0


def test_every_package_of_the_image_is_pinned():
    with open(os.path.join(APPS, "requirements.txt"), encoding="utf-8") as handle:
        lines = [raw.strip() for raw in handle if raw.strip() and not raw.startswith("#")]
    assert lines and all(re.match(r"^[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*$", pin) for pin in lines), lines
    for needed in ("fastapi", "uvicorn", "asyncpg", "aiomysql", "pymongo", "redis", "aio-pika", "prometheus-client"):
        assert any(pin.lower().startswith(needed + "==") for pin in lines), needed


def test_the_apps_are_registry_components_with_web_metrics_and_depends_on():
    with open(os.path.join(ROOT, "roles", "devenv", "defaults", "main.yml"), encoding="utf-8") as handle:
        components = yaml.safe_load(handle)["devenv_components"]
    apps = dict((n, c) for n, c in components.items() if c.get("app"))
    assert sorted(apps) == ["api-first", "reference-api"]
    modules = dict((n, c["app"]["module"]) for n, c in apps.items())
    assert modules == {"reference-api": "reference_api.app", "api-first": "api_first.app"}
    for entry in apps.values():
        assert os.path.isfile(os.path.join(APPS, entry["app"]["module"].replace(".", "/") + ".py"))
        assert entry["web"]["port"] == "https" and entry["metrics"] == [{"port": "https"}]
        assert {"vault", "postgres", "mysql", "mongodb", "redis-1", "rabbitmq"} <= set(entry["depends_on"])
        assert entry["replicas"] == 1


def test_a_cancelled_trial_call_does_not_leave_the_breaker_open_for_ever():
    """An outer timeout (the health check's) cancels the half-open breaker's one trial: the next call gets its own."""
    import asyncio
    clients, breaker_mod = module("devenv_app.clients"), module("devenv_app.breaker")
    settings = module("devenv_app.settings").Settings(name="t", description="", vault_url="http://127.0.0.1:1",
                                                      approle_file="-", ca_file="-", cert_file="-", key_file="-",
                                                      timeout=1.0)

    class Secrets:
        async def read(self, name):
            return {}

    class Service(clients.Dependency):
        kind = "service"

        async def _connect(self, secret):
            return object()

        async def _close(self, client):
            return None

    async def scenario():
        dep = Service(settings, Secrets(), {"secret": "s", "tls": False})
        dep.breaker = breaker_mod.Breaker("service", threshold=1, reset_after=0.05)

        async def broken(client):
            raise OSError("down")

        async def hangs(client):
            await asyncio.sleep(5)

        async def works(client):
            return "ok"
        with pytest.raises(module("devenv_app.errors").Unavailable):
            await dep.call(broken)
        await asyncio.sleep(0.06)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(dep.call(hangs), 0.05)  # the trial, cancelled from outside
        await asyncio.sleep(0.06)
        return await dep.call(works)

    assert asyncio.run(scenario()) == "ok"
