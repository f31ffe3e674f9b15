"""Test-only probe of the molecule ops scenario: writes and checks data in every service with real clients.

  ops_probe.py before|after|check VAULT_DIR OFFSET

Credentials come from Vault (hvac, root token from VAULT_DIR); TLS is verified with VAULT_DIR/ca/root-ca.pem
where the service requires it. Ports are the design's plus OFFSET. Prints one JSON object; `check` exits 1
unless exactly the data written before the backup is there (and nothing written after it).

  before: PostgreSQL row 'before' in ops_probe; MySQL row 'before'; 50 Redis keys ops:b:N=vN across the
          cluster's slots; RabbitMQ durable queue ops_before; Vault secret/ops-probe value=before; MongoDB document
          v=before in ops_probe with a unique index v_1; an Alertmanager silence for alertname=OpsBefore.
  after:  PostgreSQL/MySQL row 'after' and a table ops_later; Redis ops:b:0 changed and 50 keys ops:a:N;
          RabbitMQ queue ops_before deleted and ops_after declared; Vault value=after; MongoDB document v=after and
          index v_1 dropped; the OpsBefore silence expired and one for OpsAfter created.
"""
import datetime
import json
import os
import sys
import urllib.request

import hvac
import pika
import psycopg
import pymysql
from pymongo import MongoClient
from redis.cluster import ClusterNode, RedisCluster


def vault(vault_dir, offset):
    with open(os.path.join(vault_dir, "root-token")) as handle:
        return hvac.Client(url="http://127.0.0.1:%d" % (8200 + offset), token=handle.read().strip())


def secret(client, name):
    return client.secrets.kv.v2.read_secret_version(path=name, mount_point="secret",
                                                    raise_on_deleted_version=True)["data"]["data"]


def pg(client, ca, offset):
    s = secret(client, "postgresql")
    return psycopg.connect(host="localhost", port=5432 + offset, user=s["username"], password=s["password"],
                           dbname=s["database"], sslmode="verify-full", sslrootcert=ca, connect_timeout=5,
                           autocommit=True)


def my(client, ca, offset):
    s = secret(client, "mysql")
    return pymysql.connect(host="localhost", port=3306 + offset, user=s["username"], password=s["password"],
                           database=s["database"], ssl={"ca": ca, "check_hostname": True}, autocommit=True,
                           connect_timeout=5)


def rc(client, offset):
    s = secret(client, "redis-1")
    # The nodes announce their container IPs: map each to its published port (design port + offset).
    nodes = dict((n, 6378 + n + offset) for n in (1, 2, 3))

    def remap(address):
        host, port = address
        last = int(host.rsplit(".", 1)[-1])
        index = {13: 1, 16: 2, 17: 3}.get(last)
        return ("127.0.0.1", nodes[index]) if index and int(port) == 6379 else address

    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", nodes[1])], password=s["password"],
                        address_remap=remap, decode_responses=True, socket_timeout=5)


def amqp(client, offset):
    s = secret(client, "rabbitmq")
    return pika.BlockingConnection(pika.ConnectionParameters(
        host="127.0.0.1", port=5672 + offset, virtual_host=s["vhost"], connection_attempts=3, retry_delay=1,
        credentials=pika.PlainCredentials(s["username"], s["password"]), socket_timeout=5))


def mongo(client, ca, offset):
    s = secret(client, "mongodb")
    conn = MongoClient("localhost", 27017 + offset, username=s["username"], password=s["password"], authSource="admin",
                       tls=True, tlsCAFile=ca, serverSelectionTimeoutMS=5000, directConnection=True)
    return conn, conn[s["database"]]


def alertmanager(offset, method="GET", path="/api/v2/silences", body=None):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (9093 + offset, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def silence(offset, name):
    now = datetime.datetime.now(datetime.timezone.utc)
    alertmanager(offset, "POST", body={
        "matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + datetime.timedelta(days=1)).isoformat(),
        "createdBy": "ops-probe", "comment": "molecule ops"})


def active_silences(offset):
    return dict((s["matchers"][0]["value"], s["id"]) for s in alertmanager(offset)
                if s["status"]["state"] == "active" and s["createdBy"] == "ops-probe")


def queue_exists(conn, name):
    channel = conn.channel()
    try:
        channel.queue_declare(queue=name, durable=True, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False


def main(command, vault_dir, offset):
    offset = int(offset)
    ca = os.path.join(vault_dir, "ca", "root-ca.pem")
    client = vault(vault_dir, offset)
    out = {}
    with pg(client, ca, offset) as conn, my(client, ca, offset) as mconn:
        cur, mcur = conn.cursor(), mconn.cursor()
        if command == "before":
            # From a clean slate, so that a second verify run starts like the first.
            cur.execute("DROP TABLE IF EXISTS ops_probe, ops_later")
            cur.execute("CREATE TABLE ops_probe (v text)")
            cur.execute("INSERT INTO ops_probe VALUES ('before')")
            mcur.execute("DROP TABLE IF EXISTS ops_probe, ops_later")
            mcur.execute("CREATE TABLE ops_probe (v varchar(32))")
            mcur.execute("INSERT INTO ops_probe VALUES ('before')")
        elif command == "after":
            cur.execute("INSERT INTO ops_probe VALUES ('after')")
            cur.execute("CREATE TABLE ops_later (v text)")
            mcur.execute("INSERT INTO ops_probe VALUES ('after')")
            mcur.execute("CREATE TABLE ops_later (v int)")
        cur.execute("SELECT v FROM ops_probe ORDER BY v")
        out["postgres_rows"] = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT to_regclass('public.ops_later') IS NOT NULL")
        out["postgres_later_table"] = cur.fetchone()[0]
        mcur.execute("SELECT v FROM ops_probe ORDER BY v")
        out["mysql_rows"] = [r[0] for r in mcur.fetchall()]
        mcur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                     "AND table_name = 'ops_later'")
        out["mysql_later_table"] = bool(mcur.fetchone()[0])
    cluster = rc(client, offset)
    if command == "before":
        for i in range(50):
            cluster.set("ops:b:%d" % i, "v%d" % i)
            cluster.delete("ops:a:%d" % i)
    elif command == "after":
        cluster.set("ops:b:0", "changed")
        for i in range(50):
            cluster.set("ops:a:%d" % i, "x")
    out["redis_before_intact"] = all(cluster.get("ops:b:%d" % i) == "v%d" % i for i in range(50))
    out["redis_before_keys"] = sum(1 for i in range(50) if cluster.get("ops:b:%d" % i) is not None)
    out["redis_after_keys"] = sum(1 for i in range(50) if cluster.get("ops:a:%d" % i) is not None)
    cluster.close()
    conn = amqp(client, offset)
    if command == "before":
        conn.channel().queue_delete(queue="ops_after")
        conn.channel().queue_declare(queue="ops_before", durable=True)
    elif command == "after":
        channel = conn.channel()
        channel.queue_delete(queue="ops_before")
        channel.queue_declare(queue="ops_after", durable=True)
    out["rabbitmq_before_queue"] = queue_exists(conn, "ops_before")
    out["rabbitmq_after_queue"] = queue_exists(conn, "ops_after")
    conn.close()
    mconn, mdb = mongo(client, ca, offset)
    with mconn:
        if command == "before":
            mdb.drop_collection("ops_probe")
            mdb.ops_probe.create_index("v", unique=True, name="v_1")
            mdb.ops_probe.insert_one({"v": "before"})
        elif command == "after":
            mdb.ops_probe.insert_one({"v": "after"})
            mdb.ops_probe.drop_index("v_1")
        out["mongodb_docs"] = sorted(d["v"] for d in mdb.ops_probe.find({}, {"_id": 0, "v": 1}))
        out["mongodb_unique_index"] = bool((mdb.ops_probe.index_information().get("v_1") or {}).get("unique"))
    if command == "before":
        for sid in active_silences(offset).values():
            alertmanager(offset, "DELETE", "/api/v2/silence/%s" % sid)
        silence(offset, "OpsBefore")
    elif command == "after":
        alertmanager(offset, "DELETE", "/api/v2/silence/%s" % active_silences(offset)["OpsBefore"])
        silence(offset, "OpsAfter")
    out["alertmanager_silences"] = sorted(active_silences(offset))
    if command in ("before", "after"):
        client.secrets.kv.v2.create_or_update_secret(path="ops-probe", secret={"value": command}, mount_point="secret")
    out["vault_value"] = secret(client, "ops-probe")["value"]
    expected_before = {"postgres_rows": ["before"], "postgres_later_table": False, "mysql_rows": ["before"],
                       "mysql_later_table": False, "redis_before_intact": True, "redis_before_keys": 50,
                       "redis_after_keys": 0, "rabbitmq_before_queue": True, "rabbitmq_after_queue": False,
                       "vault_value": "before", "mongodb_docs": ["before"], "mongodb_unique_index": True,
                       "alertmanager_silences": ["OpsBefore"]}
    out["as_before"] = dict((k, out[k]) for k in expected_before if out[k] != expected_before[k])
    return out, command != "check" or not out["as_before"]


if __name__ == "__main__":
    result, ok = main(*sys.argv[1:4])
    print(json.dumps(result, sort_keys=True))
    sys.exit(0 if ok else 1)
