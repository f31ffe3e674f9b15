"""redis_cluster against real redis-server processes on loopback ports (cluster bus = port + 10000)."""

import json
import shutil
import socket
import subprocess
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from ansible_collections.colima_services.devenv.plugins.modules import redis_cluster

PASSWORD = "test-cluster-pass-0123456789"
REDIS_SERVER = shutil.which("redis-server")


def free_port_pair():
    """A port P with P and P + 10000 both free (the node and its cluster bus)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port > 55000:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


class Nodes(object):
    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}

    def start(self, count, password=PASSWORD):
        ports = []
        for _ in range(count):
            port = free_port_pair()
            ports.append(port)
            self.start_port(port, password)
        return ports

    def start_port(self, port, password=PASSWORD):
        directory = self.workdir / str(port)
        directory.mkdir(exist_ok=True)
        conf = directory / "redis.conf"
        conf.write_text("port %d\nbind 127.0.0.1\ncluster-enabled yes\ncluster-config-file nodes.conf\n"
                        "cluster-node-timeout 2000\nappendonly no\nsave \"\"\ndir %s\nrequirepass %s\nmasterauth %s\n"
                        % (port, directory, password, password))
        self.procs[port] = subprocess.Popen([REDIS_SERVER, str(conf)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                redis.Redis(port=port, password=password).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server on %d did not start" % port)

    def stop(self, port):
        proc = self.procs.pop(port)
        proc.terminate()
        proc.wait(timeout=10)

    def stop_all(self):
        for port in list(self.procs):
            self.stop(port)


@pytest.fixture
def nodes(tmp_path):
    if not REDIS_SERVER:
        pytest.fail("redis-server is missing: the harness's deps stage installs it (apt-get install redis-server)")
    pool = Nodes(tmp_path)
    yield pool
    pool.stop_all()


def client(port):
    return redis.Redis(port=port, password=PASSWORD, decode_responses=True)


def run(run_module, ports, check=False, **extra):
    args = dict(nodes=[{"address": "127.0.0.1:%d" % p} for p in ports], password=PASSWORD, timeout=20,
                _ansible_check_mode=check)
    args.update(extra)
    failed, result = run_module(redis_cluster.main, args)
    assert PASSWORD not in json.dumps(result)
    return failed, result


def cluster_client(ports):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports], password=PASSWORD,
                        decode_responses=True)


def assert_formed(ports, masters, replicas):
    info = client(ports[0]).execute_command("CLUSTER", "INFO")
    assert "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info
    roles = [client(p).info("replication")["role"] for p in ports]
    assert roles.count("master") == masters and roles.count("slave") == masters * replicas


def test_three_masters_then_noop(nodes, run_module):
    ports = nodes.start(3)
    failed, result = run(run_module, ports)
    assert not failed, result
    assert result["state"] == "fresh" and result["changed"]
    assert sorted(n["slots"][0] for n in result["nodes"]) == ["0-5460", "10923-16383", "5461-10922"]
    assert_formed(ports, 3, 0)
    rc = cluster_client(ports)
    for i in range(200):
        rc.set("key:%d" % i, i)
    assert all(rc.get("key:%d" % i) == str(i) for i in range(200))
    failed, again = run(run_module, ports)
    assert not failed and not again["changed"] and again["state"] == "formed" and again["actions"] == []


def test_six_nodes_with_one_replica_each(nodes, run_module):
    ports = nodes.start(6)
    failed, result = run(run_module, ports, replicas=1)
    assert not failed, result
    assert_formed(ports, 3, 1)
    masters = [n for n in result["nodes"] if n["role"] == "master"]
    replicas = [n for n in result["nodes"] if n["role"] == "replica"]
    assert len(masters) == 3 and len(replicas) == 3
    assert sorted(r["master_id"] for r in replicas) == sorted(m["id"] for m in masters)
    for port in ports:
        repl = client(port).info("replication")
        if repl["role"] == "slave":
            assert repl["master_link_status"] == "up"
    assert not run(run_module, ports, replicas=1)[1]["changed"]


def test_partial_cluster_is_completed_without_moving_owned_slots(nodes, run_module):
    ports = nodes.start(3)
    a, b = client(ports[0]), client(ports[1])
    b_id = b.execute_command("CLUSTER", "MYID")
    a.execute_command("CLUSTER", "MEET", "127.0.0.1", ports[1], ports[1] + 10000)
    a.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 99)
    b.execute_command("CLUSTER", "ADDSLOTSRANGE", 100, 199)
    deadline = time.time() + 10
    while b_id not in a.execute_command("CLUSTER", "NODES") and time.time() < deadline:
        time.sleep(0.1)
    failed, result = run(run_module, ports)
    assert not failed, result
    assert result["state"] == "partial"
    assert not any("0-99" in act or "100-199" in act for act in result["actions"])
    owner = dict((n["address"], n["slots"]) for n in result["nodes"])
    assert "0-99" in owner["127.0.0.1:%d" % ports[0]] and "100-199" in owner["127.0.0.1:%d" % ports[1]]
    assert_formed(ports, 3, 0)
    assert not run(run_module, ports)[1]["changed"]


def test_node_with_keys_is_refused(nodes, run_module):
    ports = nodes.start(3)
    # A node holding data of its own: give it the key's slot, write, take the slot away again.
    plain = client(ports[0])
    slot = plain.execute_command("CLUSTER", "KEYSLOT", "leftover")
    plain.execute_command("CLUSTER", "ADDSLOTS", slot)
    plain.config_set("cluster-require-full-coverage", "no")
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            plain.set("leftover", "data")
            break
        except redis.exceptions.ClusterDownError:
            time.sleep(0.1)
    plain.execute_command("CLUSTER", "DELSLOTS", slot)
    failed, result = run(run_module, ports)
    assert failed
    assert "127.0.0.1:%d" % ports[0] in result["msg"] and "holds 1 keys but owns no slots" in result["msg"]
    failed, result = run(run_module, ports, force_reset=True)
    assert failed and "refuses to reset" in result["msg"] and "holding 1 keys" in result["msg"]
    assert plain.dbsize() == 1, "a refused node keeps its data"


def test_node_from_another_cluster_is_refused_then_formed_with_force_reset(nodes, run_module):
    ports = nodes.start(3)
    other = nodes.start(1)[0]
    client(ports[2]).execute_command("CLUSTER", "MEET", "127.0.0.1", other, other + 10000)
    time.sleep(1)
    failed, result = run(run_module, ports)
    assert failed and "127.0.0.1:%d" % ports[2] in result["msg"] and "belongs to another cluster" in result["msg"]
    failed, result = run(run_module, ports, force_reset=True)
    assert not failed, result
    assert "reset 127.0.0.1:%d (CLUSTER RESET HARD)" % ports[2] in result["actions"]
    assert_formed(ports, 3, 0)


def test_wrong_password(nodes, run_module):
    ports = nodes.start(3)
    args = dict(nodes=[{"address": "127.0.0.1:%d" % p} for p in ports], password="not-the-password", timeout=5)
    failed, result = run_module(redis_cluster.main, args)
    assert failed and "refused the password" in result["msg"]
    assert "not-the-password" not in json.dumps(result)


def test_node_down_fails_within_the_timeout(nodes, run_module):
    ports = nodes.start(3)
    nodes.stop(ports[1])
    start = time.time()
    failed, result = run(run_module, ports, timeout=3)
    assert failed and time.time() - start < 10
    assert "127.0.0.1:%d did not answer" % ports[1] in result["msg"] and "within 3 s" in result["msg"]


def test_check_mode_plans_and_changes_nothing(nodes, run_module):
    ports = nodes.start(3)
    failed, result = run(run_module, ports, check=True)
    assert not failed and result["changed"] and result["state"] == "fresh"
    assert any(a.startswith("meet ") for a in result["actions"])
    assert any(a.startswith("assign slots 0-5460") for a in result["actions"])
    assert "cluster_known_nodes:1" in client(ports[0]).execute_command("CLUSTER", "INFO")
    assert "cluster_slots_assigned:0" in client(ports[0]).execute_command("CLUSTER", "INFO")


def test_too_few_nodes_for_replicas(nodes, run_module):
    ports = nodes.start(3)
    failed, result = run(run_module, ports, replicas=1)
    assert failed and "at least 6 are needed" in result["msg"]


def test_replaced_node_rejoins_and_other_data_survives(nodes, run_module):
    ports = nodes.start(3)
    assert not run(run_module, ports)[0]
    rc = cluster_client(ports)
    for i in range(300):
        rc.set("k%d" % i, i)
    # The node loses its nodes.conf (a new container without its volume): a new, empty node.
    victim = ports[1]
    nodes.stop(victim)
    shutil.rmtree(nodes.workdir / str(victim))
    nodes.start_port(victim)
    failed, result = run(run_module, ports)
    assert not failed, result
    assert result["stale"], "the old ID must be reported as stale"
    assert any(a.startswith("forget stale node") for a in result["actions"])
    assert_formed(ports, 3, 0)
    rc = cluster_client(ports)
    survivors = [i for i in range(300) if rc.get("k%d" % i) == str(i)]
    lost = 300 - len(survivors)
    # Only the keys of the replaced master's slots are gone (no replicas); everything else is intact.
    assert 0 < lost < 150 and len(survivors) > 150
