"""Clients of Vault and of every data service, each with a pool, a timeout on every call and (data services) a
circuit breaker. TLS is verify-full against the Vault root CA (the certificate names the service; Redis nodes are
verified by their IP, which their certificates carry). A client that fails is dropped and built again on the next
call, with the passwords read from Vault again: a restarted service, or a rotated password, needs no app restart."""

import asyncio
import json
import logging
import ssl
import time
import urllib.parse

from .breaker import Breaker, BreakerOpen
from .errors import Forbidden, NotFound, Unavailable

log = logging.getLogger("devenv_app")


def tls_context(ca_file):
    """verify-full: the chain up to the Vault root, and the name (or IP) the client connects to."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def elapsed_ms(start):
    return round((time.perf_counter() - start) * 1000, 2)


class Vault:
    """The app's own AppRole login (role_id and secret_id from a 0600 file), renewed when the token expires."""

    name = "vault"

    def __init__(self, settings):
        import httpx
        self._httpx = httpx
        self.url, self.approle_file = settings.vault_url.rstrip("/"), settings.approle_file
        self.timeout = settings.timeout
        self._http = httpx.AsyncClient(timeout=settings.timeout, limits=httpx.Limits(max_connections=20))
        self._token, self._expires, self._lock = None, 0.0, asyncio.Lock()

    async def close(self):
        await self._http.aclose()

    async def _request(self, method, path, **kwargs):
        try:
            return await self._http.request(method, self.url + path, **kwargs)
        except self._httpx.HTTPError as exc:
            raise Unavailable("vault at %s is unavailable: %s" % (self.url, type(exc).__name__)) from None

    async def _login(self, force=False):
        async with self._lock:
            if not force and self._token and self._expires > time.time() + 30:
                return self._token
            try:
                with open(self.approle_file, encoding="utf-8") as handle:
                    cred = json.load(handle)
            except (OSError, ValueError) as exc:
                raise Unavailable("vault: cannot read the AppRole credential %s (%s); the reference_apps role writes it"
                                  % (self.approle_file, type(exc).__name__)) from None
            response = await self._request("POST", "/v1/auth/approle/login",
                                           json={"role_id": cred["role_id"], "secret_id": cred["secret_id"]})
            if response.status_code != 200:
                raise Unavailable("vault: the AppRole login answered %s; run the reference_apps role again (it writes "
                                  "the credential file)" % response.status_code)
            auth = response.json()["auth"]
            self._token, self._expires = auth["client_token"], time.time() + int(auth.get("lease_duration") or 300)
            return self._token

    async def read(self, secret):
        """secret/<name>, as the app's policy allows it: Forbidden when it does not, NotFound when it is not there."""
        for attempt in (0, 1):
            token = await self._login(force=attempt == 1)
            response = await self._request("GET", "/v1/secret/data/" + urllib.parse.quote(secret, safe=""),
                                           headers={"X-Vault-Token": token})
            if response.status_code == 200:
                return response.json()["data"]["data"]
            if response.status_code == 404:
                raise NotFound("secret/%s does not exist" % secret)
            if response.status_code != 403 or attempt == 1:
                break
        if response.status_code == 403:
            raise Forbidden("the app's Vault policy does not allow reading secret/%s" % secret)
        raise Unavailable("vault answered %s reading secret/%s" % (response.status_code, secret))

    async def check(self):
        start = time.perf_counter()
        response = await self._request("GET", "/v1/sys/health", params={"standbyok": "true"})
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        details = {"initialized": body.get("initialized"), "sealed": body.get("sealed"), "version": body.get("version"),
                   "latency_ms": elapsed_ms(start)}
        if response.status_code != 200:
            raise Unavailable("vault: sys/health answered %s" % response.status_code, details)
        return details


class Dependency:
    """One data service: a lazily built client, a timeout on every call, a breaker, and a reset on failure."""

    kind = ""

    def __init__(self, settings, vault, spec):
        self.settings, self.vault, self.spec = settings, vault, spec
        self.timeout = float(spec.get("timeout") or settings.timeout)
        self.breaker = Breaker(self.kind)
        self._client, self._lock, self._closing = None, asyncio.Lock(), set()

    @property
    def tls(self):
        return bool(self.spec.get("tls", True))

    def ssl(self):
        return tls_context(self.settings.ca_file) if self.tls else None

    async def _connect(self, secret):
        raise NotImplementedError

    async def _close(self, client):
        raise NotImplementedError

    async def client(self):
        async with self._lock:
            if self._client is None:
                secret = await self.vault.read(self.spec["secret"])
                self._client = await self._connect(secret)
            return self._client

    async def reset(self, wait=True):
        """Drop the client (the next call builds a new one); its close runs in the background unless wait."""
        client, self._client = self._client, None
        if client is not None:
            closing = asyncio.ensure_future(self._quietly_close(client))
            self._closing.add(closing)  # a reference until it is done
            closing.add_done_callback(self._closing.discard)
            if wait:
                await closing

    async def _quietly_close(self, client):
        try:
            await asyncio.wait_for(self._close(client), self.timeout)
        except Exception:  # a broken client: nothing more to close
            pass

    async def call(self, operation):
        """Run operation(client) within the timeout and through the breaker; any failure is a 503 (Unavailable)."""
        try:
            self.breaker.before()
        except BreakerOpen as exc:
            raise Unavailable(str(exc)) from None
        try:
            result = await asyncio.wait_for(self._run(operation), self.timeout)
        except (NotFound, Forbidden):
            self.breaker.success()
            raise
        except asyncio.CancelledError:
            # The caller gave up (an outer timeout): no verdict, but a half-open breaker's trial is over; counted as a
            # failure, so that the breaker never waits for a trial that will not end.
            self.breaker.failure()
            await self.reset(wait=False)
            raise
        except Exception as exc:
            self.breaker.failure()
            await self.reset(wait=False)  # the 503 does not wait for a broken client to close
            if isinstance(exc, Unavailable):
                raise
            reason = ("timed out after %.1f s" % self.timeout if isinstance(exc, asyncio.TimeoutError)
                      else type(exc).__name__)
            log.warning("%s unavailable: %s", self.kind, reason)
            raise Unavailable("%s is unavailable: %s" % (self.kind, reason)) from None
        self.breaker.success()
        return result

    async def _run(self, operation):
        return await operation(await self.client())

    async def check(self):
        start = time.perf_counter()
        details = await self.call(self._probe)
        details["latency_ms"] = elapsed_ms(start)
        return details

    async def _probe(self, client):
        raise NotImplementedError


class Postgres(Dependency):
    kind = "postgres"

    async def _connect(self, secret):
        import asyncpg
        return await asyncpg.create_pool(
            host=self.spec["host"], port=int(self.spec["port"]), user=secret["username"], password=secret["password"],
            database=secret.get("database"), ssl=self.ssl(), min_size=1, max_size=10, timeout=self.timeout,
            command_timeout=self.timeout)

    async def _close(self, pool):
        await pool.close()

    async def _probe(self, pool):
        row = await pool.fetchrow("SELECT current_user AS user, current_database() AS database, version() AS version, "
                                  "(SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS tls")
        return dict(row)

    async def query(self, pool):
        start = time.perf_counter()
        row = await pool.fetchrow("SELECT now() AS server_time, count(*) AS tables FROM information_schema.tables")
        return {"query": "SELECT now(), count(*) FROM information_schema.tables",
                "server_time": row["server_time"].isoformat(), "tables": row["tables"], "query_ms": elapsed_ms(start)}


class MySQL(Dependency):
    kind = "mysql"

    async def _connect(self, secret):
        import aiomysql
        return await aiomysql.create_pool(
            host=self.spec["host"], port=int(self.spec["port"]), user=secret["username"], password=secret["password"],
            db=secret.get("database"), ssl=self.ssl(), minsize=1, maxsize=10, connect_timeout=self.timeout,
            autocommit=True, pool_recycle=300)

    async def _close(self, pool):
        pool.close()
        await pool.wait_closed()

    async def _fetch(self, pool, sql):
        async with pool.acquire() as conn:
            async with conn.cursor() as cursor:
                await cursor.execute(sql)
                return await cursor.fetchone()

    async def _probe(self, pool):
        user, database, version, tls = await self._fetch(
            pool, "SELECT CURRENT_USER(), DATABASE(), VERSION(), (SELECT VARIABLE_VALUE FROM "
                  "information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version')")
        return {"user": user, "database": database, "version": version, "tls": tls}

    async def query(self, pool):
        start = time.perf_counter()
        server_time, tables = await self._fetch(pool, "SELECT NOW(6), COUNT(*) FROM information_schema.TABLES")
        return {"query": "SELECT NOW(6), COUNT(*) FROM information_schema.TABLES",
                "server_time": server_time.isoformat(), "tables": tables, "query_ms": elapsed_ms(start)}


class MongoDB(Dependency):
    kind = "mongodb"

    async def _connect(self, secret):
        from pymongo import AsyncMongoClient
        ms = int(self.timeout * 1000)
        client = AsyncMongoClient(
            host=self.spec["host"], port=int(self.spec["port"]),
            username=secret["username"], password=secret["password"],
            authSource="admin", tls=self.tls, tlsCAFile=self.settings.ca_file if self.tls else None,
            directConnection=True, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms,
            maxPoolSize=10, appname=self.settings.name)
        client.devenv_database = secret.get("database") or "dev_database"
        return client

    async def _close(self, client):
        await client.close()

    async def _probe(self, client):
        info = await client[client.devenv_database].command("buildInfo")
        return {"database": client.devenv_database, "version": info.get("version"), "tls": self.tls}

    async def query(self, client):
        """A document written and read back: the app's own visit counter."""
        start = time.perf_counter()
        collection = client[client.devenv_database]["reference_apps"]
        await collection.update_one({"_id": self.settings.name}, {"$inc": {"queries": 1}, "$currentDate": {"at": True}},
                                    upsert=True)
        doc = await collection.find_one({"_id": self.settings.name})
        return {"query": "update_one + find_one on reference_apps",
                "document": {"_id": doc["_id"], "queries": doc["queries"], "at": doc["at"].isoformat()},
                "query_ms": elapsed_ms(start)}


class Redis(Dependency):
    """The Redis Cluster through a cluster-aware client (slot map, MOVED/ASK redirects), over the nodes' TLS port."""

    kind = "redis"

    def _remap(self, address):
        """The cluster announces its nodes' plain port; TLS clients reach each node's TLS port at the same IP."""
        host, port = address
        return host, self._tls_ports.get(host, port) if self.tls else port

    async def _connect(self, secret):
        from redis.asyncio.cluster import ClusterNode, RedisCluster
        nodes = self.spec["nodes"]
        self._tls_ports = dict((n["host"], int(n["port"])) for n in nodes)
        client = RedisCluster(
            startup_nodes=[ClusterNode(n["host"], int(n["port"])) for n in nodes], password=secret["password"],
            ssl=self.tls, ssl_ca_certs=self.settings.ca_file if self.tls else None, ssl_cert_reqs="required",
            ssl_check_hostname=self.tls, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
            address_remap=self._remap, max_connections=20, require_full_coverage=True)
        await client.initialize()
        return client

    async def _close(self, client):
        await client.aclose()

    async def _probe(self, client):
        info = await client.cluster_info()
        if info.get("cluster_state") != "ok":
            raise Unavailable("redis: cluster_state is %s" % info.get("cluster_state"))
        return {"cluster_state": info.get("cluster_state"), "known_nodes": int(info.get("cluster_known_nodes", 0)),
                "slots_assigned": int(info.get("cluster_slots_assigned", 0)), "tls": self.tls}

    def node_named(self, client, name):
        for node in self.spec["nodes"]:
            if node["name"] == name:
                found = client.get_node(host=node["host"], port=self._remap((node["host"], int(node["port"])))[1])
                if found is None:
                    raise Unavailable("redis: %s is not in the cluster's slot map" % name)
                return found
        raise NotFound("%s is not a Redis node of this environment (%s)"
                       % (name, ", ".join(n["name"] for n in self.spec["nodes"])))


class RabbitMQ(Dependency):
    kind = "rabbitmq"

    async def _connect(self, secret):
        import aio_pika
        url = "%s://%s:%s@%s:%s/%s" % ("amqps" if self.tls else "amqp", urllib.parse.quote(secret["username"], safe=""),
                                       urllib.parse.quote(secret["password"], safe=""),
                                       self.spec["host"], self.spec["port"],
                                       urllib.parse.quote(secret.get("vhost") or "/", safe=""))
        return await aio_pika.connect(url, ssl_context=self.ssl(), timeout=self.timeout,
                                      client_properties={"connection_name": self.settings.name})

    async def _close(self, connection):
        await connection.close()

    async def _probe(self, connection):
        props = connection.transport.connection.server_properties if connection.transport else {}
        async with connection.channel():
            pass
        return {"version": (props or {}).get("version", b"").decode() if isinstance((props or {}).get("version"), bytes)
                else (props or {}).get("version"), "tls": self.tls}


KINDS = {cls.kind: cls for cls in (Postgres, MySQL, MongoDB, Redis, RabbitMQ)}


def build(settings, vault):
    """The configured services (settings.services: kind -> spec), in the order of the contract."""
    return dict((kind, KINDS[kind](settings, vault, spec)) for kind, spec in settings.services.items() if kind in KINDS)
