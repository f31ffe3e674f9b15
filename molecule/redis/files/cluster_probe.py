"""Test-only probe of the molecule redis scenario, run on the host with the password in
REDIS_PASSWORD. Prints one JSON object.

  slots PORT...                 per-master slot counts and cluster_state, via the plain ports
  read PREFIX N PORT=IP:PORT... reads PREFIX1..N through a cluster client on the host, using
                                address_remap (MOVED names container IPs; we map them to ports)
  tls PORT CA                   PING over TLS, verifying the certificate and 127.0.0.1 with CA
  roles PORT...                 each node's replication role, replicas' link status, followed masters
"""
import json
import os
import sys

import redis
from redis.cluster import ClusterNode, RedisCluster

PASSWORD = os.environ["REDIS_PASSWORD"]


def slots(ports):
    client = redis.Redis(port=int(ports[0]), password=PASSWORD, decode_responses=True)
    counts = {}
    for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
        key = "%s:%s" % (master[0], master[1])
        counts[key] = counts.get(key, 0) + end - start + 1
    states = [redis.Redis(port=int(p), password=PASSWORD, decode_responses=True).cluster("info")["cluster_state"]
              for p in ports]
    return {"counts": counts, "states": states}


def read(prefix, count, mapping):
    remap = dict((tuple(v.split(":")), int(k)) for k, v in (m.split("=") for m in mapping))

    def address_remap(address):
        host, port = address
        mapped = remap.get((host, str(port)))
        return ("127.0.0.1", mapped) if mapped else address

    first = next(iter(remap.values()))
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", first)], password=PASSWORD,
                          decode_responses=True, address_remap=address_remap)
    values = [client.get("%s%d" % (prefix, i)) for i in range(1, count + 1)]
    return {"found": sum(1 for i, v in enumerate(values, 1) if v == "v%d" % i), "count": count}


def tls(port, ca):
    client = redis.Redis(host="127.0.0.1", port=int(port), password=PASSWORD, ssl=True, ssl_ca_certs=ca,
                         ssl_cert_reqs="required", ssl_check_hostname=True, decode_responses=True)
    return {"ping": client.ping()}


def roles(ports):
    out = {"roles": [], "links": [], "masters_followed": set(), "states": []}
    for port in ports:
        client = redis.Redis(port=int(port), password=PASSWORD, decode_responses=True)
        info = client.info("replication")
        out["roles"].append(info["role"])
        out["states"].append(client.cluster("info")["cluster_state"])
        if info["role"] == "slave":
            out["links"].append(info["master_link_status"])
            out["masters_followed"].add("%s:%s" % (info["master_host"], info["master_port"]))
    out["masters_followed"] = sorted(out["masters_followed"])
    first = redis.Redis(port=int(ports[0]), password=PASSWORD)
    out["slots"] = sum(end - start + 1 for start, end, *_ in first.execute_command("CLUSTER", "SLOTS"))
    return out


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "slots":
        print(json.dumps(slots(args)))
    elif command == "read":
        print(json.dumps(read(args[0], int(args[1]), args[2:])))
    elif command == "roles":
        print(json.dumps(roles(args)))
    elif command == "tls":
        print(json.dumps(tls(args[0], args[1])))
