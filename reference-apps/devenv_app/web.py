"""What both apps' web layer shares: the context behind every operation, request ids, JSON logs, metrics, errors in
one shape, and the server (HTTP and HTTPS in one process, draining before it stops)."""

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException

from . import VERSION, clients, operations
from .errors import AppError, body as error_body

log = logging.getLogger("devenv_app")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, message, and the request's fields when there are any."""

    FIELDS = ("request_id", "route", "method", "status", "duration_ms", "client")

    def format(self, record):
        line = {"timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + ".%03dZ" % record.msecs,
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for field in self.FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # each Vault call; our own lines say what matters
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"  # our middleware logs every request


class Metrics:
    def __init__(self, app_name):
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route, method and status.",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.up = Gauge("dependency_up", "1 when the dependency's last health check passed, else 0.", ["dependency"],
                        registry=self.registry)
        info = Gauge("app_info", "The app's name and version.", ["app", "version"], registry=self.registry)
        info.labels(app_name, VERSION).set(1)

    def dependency(self, name, healthy):
        self.up.labels(name).set(1 if healthy else 0)

    def observe(self, route, method, status, seconds):
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method, str(status)).observe(seconds)


class Context:
    def __init__(self, settings):
        self.settings, self.started, self.draining = settings, time.monotonic(), False
        self.metrics = Metrics(settings.name)
        self.vault, self.deps = None, {}

    async def start(self):
        self.vault = clients.Vault(self.settings)
        self.deps = clients.build(self.settings, self.vault)
        self._refresher = asyncio.create_task(self._refresh())

    async def _refresh(self, every=10.0):
        """The dependency gauges, kept current between requests (a scrape never waits for a health check)."""
        while True:
            with contextlib.suppress(Exception):
                await operations.health_all(self)
            await asyncio.sleep(every)

    async def stop(self):
        self._refresher.cancel()
        for dep in self.deps.values():
            await dep.reset()
        await self.vault.close()


def _error(request, status, code, message, details=None):
    rid = getattr(request.state, "request_id", "-")
    return JSONResponse(error_body(status, code, message, rid, details), status_code=status)


def create_app(settings, **fastapi_args):
    """The FastAPI app both implementations start from: lifespan, middleware and error handlers; no routes."""
    ctx = Context(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await ctx.start()
        try:
            yield
        finally:
            await ctx.stop()

    app = FastAPI(title=settings.name, version=VERSION, description=settings.description, lifespan=lifespan,
                  **fastapi_args)
    app.state.ctx = ctx

    @app.middleware("http")
    async def observe(request, call_next):
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        except Exception:
            log.exception("unhandled error", extra={"request_id": request.state.request_id})
            response = _error(request, 500, "internal_error", "internal error; see the app's log")
        duration = time.perf_counter() - start
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        ctx.metrics.observe(route, request.method, status, duration)
        response.headers["x-request-id"] = request.state.request_id
        # The edge's health checks (every second) and the scrapes at debug: the log shows the app's traffic.
        level = logging.DEBUG if route in ("/metrics", "/health/") and status == 200 else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "%s %s %s", request.method, route, status, extra={
                "request_id": request.state.request_id, "route": route, "method": request.method, "status": status,
                "duration_ms": round(duration * 1000, 2), "client": request.client.host if request.client else None})
        return response

    @app.exception_handler(AppError)
    async def app_error(request, exc):
        return _error(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return _error(request, 422, "invalid_request", "the request does not match the API contract", details)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, code, str(exc.detail))

    return app


def context(request: Request):
    return request.app.state.ctx


def respond(result):
    """An operation's result as a response: a dict is 200; (status, dict) sets the status."""
    if isinstance(result, tuple):
        return JSONResponse(result[1], status_code=result[0])
    return JSONResponse(result)


def metrics_response(ctx):
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class _Server(uvicorn.Server):
    """Signals are handled once for both listeners (serve(), below), not by each server."""

    def capture_signals(self):
        return contextlib.nullcontext()


def serve(app, settings):
    """HTTP and HTTPS (the Vault-issued certificate) in one process, one app (one context, one set of pools) behind
    both. On SIGTERM, /health/ answers 503 for drain_seconds first, so that the edge takes this replica out of
    rotation before it stops listening."""
    configure_logging(settings.log_level)
    common = dict(host="0.0.0.0", log_config=None, access_log=False, proxy_headers=True, forwarded_allow_ips="*",
                  timeout_graceful_shutdown=3, loop="none", http="httptools")
    plain = _Server(uvicorn.Config(app, port=settings.http_port, lifespan="on", **common))
    secure = _Server(uvicorn.Config(app, port=settings.https_port, lifespan="off", ssl_certfile=settings.cert_file,
                                    ssl_keyfile=settings.key_file, **common))
    ctx = app.state.ctx

    async def main():
        loop = asyncio.get_running_loop()

        def stop():
            plain.should_exit = secure.should_exit = True

        def on_signal(sig):
            if ctx.draining or sig == signal.SIGINT:
                return stop()
            ctx.draining = True
            log.info("draining for %.1f s before shutdown", settings.drain_seconds)
            loop.call_later(settings.drain_seconds, stop)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        first = asyncio.create_task(plain.serve())
        while not plain.started and not first.done():  # the lifespan (clients) is up before HTTPS accepts anything
            await asyncio.sleep(0.05)
        await asyncio.gather(first, secure.serve())

    import uvloop
    uvloop.run(main())
