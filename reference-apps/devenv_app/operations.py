"""The work behind every route of reference-apps/openapi.yaml, by operationId. Both apps call these; they differ only
in how the routes are declared. An operation returns a JSON-able dict (200), or (status, dict) for the health checks;
errors are AppError (errors.py)."""

import asyncio
import re
import time

from . import VERSION
from .errors import AppError, NotFound

HEALTH_SERVICES = ("vault", "postgres", "mysql", "mongodb", "redis", "rabbitmq")
SECRET_FIELD = re.compile(r"pass|secret|token|key|credential", re.I)
MASK = "********"


def mask(field, value):
    """Values of fields that hold secrets never leave the app: their name and length class only."""
    return MASK if SECRET_FIELD.search(field) else value


def _json(value):
    """Redis and driver replies as JSON: bytes as text, tuples as lists, keys as strings."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return dict((str(_json(k)) if not isinstance(k, tuple) else "-".join(str(i) for i in k), _json(v))
                    for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return [_json(v) for v in value]
    return value


async def root(ctx):
    s = ctx.settings
    return {"name": s.name, "replica": s.replica or s.name, "version": VERSION, "description": s.description,
            "links": dict({"openapi": "/openapi.json", "docs": "/docs", "health": "/health/all", "metrics": "/metrics"},
                          **s.links)}


async def health_self(ctx):
    if ctx.draining:
        return 503, {"status": "unhealthy", "name": ctx.settings.name, "reason": "draining before shutdown"}
    return 200, {"status": "healthy", "name": ctx.settings.name, "replica": ctx.settings.replica or ctx.settings.name,
                 "version": VERSION,
                 "uptime_s": round(time.monotonic() - ctx.started, 1)}


async def _check(ctx, service):
    target = ctx.vault if service == "vault" else ctx.deps.get(service)
    if target is None:
        raise NotFound("%s is not configured for this app (its component is disabled, or not in depends_on)" % service)
    try:
        details = await asyncio.wait_for(target.check(), ctx.settings.timeout + 0.5)
        healthy = True
    except AppError as exc:
        details, healthy = {"error": exc.message}, False
    except asyncio.TimeoutError:
        details, healthy = {"error": "no answer within %.1f s" % ctx.settings.timeout}, False
    ctx.metrics.dependency(service, healthy)
    return (200 if healthy else 503), dict({"status": "healthy" if healthy else "unhealthy", "service": service},
                                           **_json(details))


async def health_service(ctx, service):
    return await _check(ctx, service)


async def health_all(ctx):
    names = ["vault"] + [s for s in HEALTH_SERVICES if s in ctx.deps]
    results = await asyncio.gather(*(_check(ctx, name) for name in names))
    services = dict((name, body) for name, (_, body) in zip(names, results, strict=True))
    healthy = all(code == 200 for code, _ in results)
    return (200 if healthy else 503), {"status": "healthy" if healthy else "unhealthy", "services": services}


async def vault_secret(ctx, service):
    data = await ctx.vault.read(service)
    return {"service": service, "keys": sorted(data), "data": dict((k, mask(k, v)) for k, v in sorted(data.items()))}


async def vault_secret_key(ctx, service, key):
    data = await ctx.vault.read(service)
    if key not in data:
        raise NotFound("secret/%s has no field %s (its fields: %s)" % (service, key, ", ".join(sorted(data))))
    return {"service": service, "key": key, "value": mask(key, data[key]), "masked": bool(SECRET_FIELD.search(key))}


def _dep(ctx, kind):
    dep = ctx.deps.get(kind)
    if dep is None:
        raise NotFound("%s is not configured for this app" % kind)
    return dep


async def database_query(ctx, database):
    dep = _dep(ctx, database)
    start = time.perf_counter()
    result = await dep.call(dep.query)
    return dict({"database": database, "round_trip_ms": round((time.perf_counter() - start) * 1000, 2)}, **result)


async def cache_get(ctx, key):
    dep = _dep(ctx, "redis")

    async def get(client):
        value, ttl = await asyncio.gather(client.get(key), client.ttl(key))
        return value, ttl
    value, ttl = await dep.call(get)
    if value is None:
        raise NotFound("cache key %s does not exist (or expired)" % key)
    return {"key": key, "value": _json(value), "ttl": ttl if ttl >= 0 else None}


async def cache_set(ctx, key, body):
    dep = _dep(ctx, "redis")
    await dep.call(lambda client: client.set(key, body["value"], ex=body.get("ttl")))
    return {"key": key, "value": body["value"], "ttl": body.get("ttl"), "stored": True}


async def cache_delete(ctx, key):
    dep = _dep(ctx, "redis")
    deleted = await dep.call(lambda client: client.delete(key))
    return {"key": key, "deleted": bool(deleted)}


async def messaging_publish(ctx, body):
    dep = _dep(ctx, "rabbitmq")

    async def publish(connection):
        import aio_pika
        async with connection.channel() as channel:
            await channel.declare_queue(body["queue"], durable=True)
            await channel.default_exchange.publish(
                aio_pika.Message(body["message"].encode("utf-8"), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 app_id=ctx.settings.name), routing_key=body["queue"])
    await dep.call(publish)
    return {"queue": body["queue"], "published": True, "bytes": len(body["message"].encode("utf-8"))}


async def messaging_queue_info(ctx, name):
    dep = _dep(ctx, "rabbitmq")

    async def info(connection):
        import aio_pika
        try:
            async with connection.channel() as channel:
                queue = await channel.declare_queue(name, passive=True)
                result = queue.declaration_result
                return {"queue": name, "messages": result.message_count, "consumers": result.consumer_count}
        except aio_pika.exceptions.ChannelClosed:
            raise NotFound("queue %s does not exist" % name) from None
    return await dep.call(info)


async def redis_cluster_nodes(ctx):
    dep = _dep(ctx, "redis")
    nodes = await dep.call(lambda client: client.cluster_nodes())
    return {"nodes": [dict(_json(info), address=address) for address, info in sorted(_json(nodes).items())]}


async def redis_cluster_slots(ctx):
    dep = _dep(ctx, "redis")
    slots = await dep.call(lambda client: client.cluster_slots(target_nodes=client.get_random_node()))
    return {"slots": [{"start": int(start), "end": int(end), "primary": _json(info.get("primary")),
                       "replicas": _json(info.get("replicas") or [])}
                      for (start, end), info in sorted(slots.items())]}


async def redis_cluster_info(ctx):
    dep = _dep(ctx, "redis")
    return {"info": _json(await dep.call(lambda client: client.cluster_info(target_nodes=client.get_random_node())))}


async def redis_node_info(ctx, name):
    dep = _dep(ctx, "redis")

    async def info(client):
        node = dep.node_named(client, name)
        return await client.info(target_nodes=node)
    data = _json(await dep.call(info))
    keep = ("redis_version", "role", "connected_clients", "used_memory_human", "uptime_in_seconds", "cluster_enabled",
            "tcp_port", "keyspace_hits", "keyspace_misses")
    return {"node": name, "info": dict((k, data[k]) for k in keep if k in data)}


OPERATIONS = dict((name, fn) for name, fn in list(globals().items())
                  if asyncio.iscoroutinefunction(fn) and not name.startswith("_"))
