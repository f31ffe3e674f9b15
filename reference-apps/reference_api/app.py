"""reference-api: the code-first implementation. Its routes and models are declared here, and its OpenAPI document
(/openapi.json) is generated from them; tests check that it has the paths of reference-apps/openapi.yaml."""

import enum
from typing import Annotated, Optional

from fastapi import Body, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from devenv_app import operations as ops
from devenv_app import settings as app_settings
from devenv_app.web import Context, context, create_app, metrics_response, respond, serve

QUEUE = r"^[A-Za-z0-9_.:-]{1,200}$"
# The parameters as typing.Annotated (FastAPI's recommended form): nothing is called in a default argument.
Ctx = Annotated[Context, Depends(context)]
CacheKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9:_.-]{1,200}$")]
SecretName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]*$")]

Service = enum.Enum("Service", dict((s, s) for s in ops.HEALTH_SERVICES), type=str)


class Database(str, enum.Enum):
    postgres = "postgres"
    mysql = "mysql"
    mongodb = "mongodb"


class CacheValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=65536)
    ttl: Optional[int] = Field(default=None, ge=1, le=2592000, description="Seconds; none: the key never expires.")


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str = Field(pattern=QUEUE)
    message: str = Field(min_length=1, max_length=65536)


settings = app_settings.load()
app = create_app(settings)


@app.get("/", operation_id="root", tags=["app"])
async def root(ctx: Ctx):
    return respond(await ops.root(ctx))


@app.get("/health/", operation_id="health_self", tags=["health"])
async def health_self(ctx: Ctx):
    return respond(await ops.health_self(ctx))


@app.get("/health/all", operation_id="health_all", tags=["health"])
async def health_all(ctx: Ctx):
    return respond(await ops.health_all(ctx))


@app.get("/health/{service}", operation_id="health_service", tags=["health"])
async def health_service(service: Service, ctx: Ctx):
    return respond(await ops.health_service(ctx, service.value))


@app.get("/examples/vault/secret/{service}", operation_id="vault_secret", tags=["vault"])
async def vault_secret(service: SecretName, ctx: Ctx):
    return respond(await ops.vault_secret(ctx, service))


@app.get("/examples/vault/secret/{service}/{key}", operation_id="vault_secret_key", tags=["vault"])
async def vault_secret_key(key: str, service: SecretName, ctx: Ctx):
    return respond(await ops.vault_secret_key(ctx, service, key))


@app.get("/examples/database/{database}/query", operation_id="database_query", tags=["database"])
async def database_query(database: Database, ctx: Ctx):
    return respond(await ops.database_query(ctx, database.value))


@app.get("/examples/cache/{key}", operation_id="cache_get", tags=["cache"])
async def cache_get(key: CacheKey, ctx: Ctx):
    return respond(await ops.cache_get(ctx, key))


@app.post("/examples/cache/{key}", operation_id="cache_set", tags=["cache"])
async def cache_set(body: CacheValue, key: CacheKey, ctx: Ctx):
    return respond(await ops.cache_set(ctx, key, body.model_dump()))


@app.delete("/examples/cache/{key}", operation_id="cache_delete", tags=["cache"])
async def cache_delete(key: CacheKey, ctx: Ctx):
    return respond(await ops.cache_delete(ctx, key))


@app.post("/examples/messaging/publish", operation_id="messaging_publish", tags=["messaging"])
async def messaging_publish(body: Annotated[Publish, Body()], ctx: Ctx):
    return respond(await ops.messaging_publish(ctx, body.model_dump()))


@app.get("/examples/messaging/queue/{name}/info", operation_id="messaging_queue_info", tags=["messaging"])
async def messaging_queue_info(name: Annotated[str, Path(pattern=QUEUE)], ctx: Ctx):
    return respond(await ops.messaging_queue_info(ctx, name))


@app.get("/redis/cluster/nodes", operation_id="redis_cluster_nodes", tags=["redis"])
async def redis_cluster_nodes(ctx: Ctx):
    return respond(await ops.redis_cluster_nodes(ctx))


@app.get("/redis/cluster/slots", operation_id="redis_cluster_slots", tags=["redis"])
async def redis_cluster_slots(ctx: Ctx):
    return respond(await ops.redis_cluster_slots(ctx))


@app.get("/redis/cluster/info", operation_id="redis_cluster_info", tags=["redis"])
async def redis_cluster_info(ctx: Ctx):
    return respond(await ops.redis_cluster_info(ctx))


@app.get("/redis/nodes/{name}/info", operation_id="redis_node_info", tags=["redis"])
async def redis_node_info(name: Annotated[str, Path(pattern=r"^[a-z0-9-]+$")], ctx: Ctx):
    return respond(await ops.redis_node_info(ctx, name))


@app.get("/metrics", operation_id="metrics", tags=["app"])
async def metrics(ctx: Ctx):
    return metrics_response(ctx)


if __name__ == "__main__":
    serve(app, settings)
