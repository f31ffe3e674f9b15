#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: redis_cluster
short_description: Form, complete or check a Redis Cluster, by node ID, without ever moving an owned slot
version_added: 0.1.0
description:
  - Reads every node (CLUSTER MYID, CLUSTER NODES, INFO, DBSIZE), classifies the cluster as C(fresh),
    C(formed), C(partial) or C(foreign), and acts on it.
  - C(fresh) (every node alone, no slots, no keys) is formed; C(formed) (one cluster, all 16384 slots,
    state ok, the expected masters and replicas) is left alone; C(partial) is completed with only what
    is missing, never reassigning an owned slot; C(foreign) (a node knows nodes that are not given, or
    holds keys while it should be empty) fails and names the node, unless O(force_reset).
  - Forming sets distinct config epochs on fresh nodes, MEETs every node by IP with its bus port,
    waits until all nodes agree, assigns slots (ADDSLOTSRANGE on Redis 7.0 and later, else ADDSLOTS),
    attaches replicas to masters (away from their master's host when possible), and waits for
    C(cluster_state:ok) everywhere and C(master_link_status:up) on replicas.
  - Nodes are identified by node ID; the address the module connects to (O(nodes[].address), for
    example a published 127.0.0.1 port) may differ from the address the nodes use among themselves
    (O(nodes[].cluster_address), the container IP).
author:
  - colima_services.devenv maintainers
requirements:
  - redis (redis-py) >= 5.0
attributes:
  check_mode:
    support: full
    description: Returns the state and the actions it would take; sends no command that changes anything.
  diff_mode:
    support: none
options:
  nodes:
    description: The cluster's nodes.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description: C(host:port) the module connects to.
        type: str
        required: true
      cluster_address:
        description:
          - C(ip:port) (or C(name:port), resolved here) the nodes use to reach each other. The bus port is
            this port + 10000. Defaults to O(nodes[].address).
        type: str
  password:
    description: The nodes' password (C(requirepass)).
    type: str
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  ca_cert:
    description: CA file to verify the nodes' certificates (and their name or IP) with, when O(tls=true).
    type: path
  client_cert:
    description: Client certificate, when the nodes require one.
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  replicas:
    description: Replicas per master. There must be at least 3 x (replicas + 1) nodes.
    type: int
    default: 0
  timeout:
    description: Seconds to wait for the nodes to answer, and for each phase (agreement, replication, state ok).
    type: int
    default: 60
  force_reset:
    description:
      - Reset foreign nodes (CLUSTER RESET HARD) and form the cluster with them. Refuses a master that holds keys.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Three masters reached through published ports; nodes meet by container IP
  colima_services.devenv.redis_cluster:
    nodes:
      - {address: "127.0.0.1:6379", cluster_address: "172.20.0.13:6379"}
      - {address: "127.0.0.1:6380", cluster_address: "172.20.0.16:6379"}
      - {address: "127.0.0.1:6381", cluster_address: "172.20.0.17:6379"}
    password: "{{ redis_password }}"
"""

RETURN = r"""
state:
  description: What the cluster looked like before the module acted (fresh, formed, partial, foreign).
  returned: always
  type: str
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
nodes:
  description: The nodes after the module ran.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: Node ID., type: str}
    address: {description: Address the module connected to., type: str}
    cluster_address: {description: Address the node announces to the cluster., type: str}
    role: {description: master or replica., type: str}
    master_id: {description: The master's node ID, for a replica., type: str}
    slots: {description: Slot ranges owned by a master., type: list, elements: str}
stale:
  description:
    - Entries of node IDs that are not given but are flagged fail or noaddr (a stale nodes.conf), or sit at a given
      node's address (the old identity of a replaced node). They are forgotten when the module acts.
  returned: always
  type: list
  elements: dict
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.colima_services.devenv.plugins.module_utils import _redis_cluster as rc

try:
    import redis

    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = exc


def split_address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise rc.ClusterError("%r is not host:port." % text)
    return host.strip("[]"), int(port)


class Node(object):
    def __init__(self, spec, params):
        self.address = spec["address"]
        self.host, self.port = split_address(spec["address"])
        cluster = spec.get("cluster_address") or spec["address"]
        chost, self.cluster_port = split_address(cluster)
        try:
            self.cluster_ip = socket.gethostbyname(chost)
        except socket.error as exc:
            raise rc.ClusterError("Cannot resolve %s (cluster_address of %s)." % (chost, self.address)) from exc
        kwargs = dict(host=self.host, port=self.port, password=params["password"] or None,
                      socket_timeout=5, socket_connect_timeout=3, decode_responses=True)
        if params["tls"]:
            kwargs.update(ssl=True, ssl_ca_certs=params["ca_cert"], ssl_certfile=params["client_cert"],
                          ssl_keyfile=params["client_key"], ssl_cert_reqs="required" if params["ca_cert"] else "none",
                          ssl_check_hostname=bool(params["ca_cert"]))
        self.client = redis.Redis(**kwargs)
        self.id = None

    def call(self, *args):
        try:
            return self.client.execute_command(*args)
        except redis.AuthenticationError:
            raise rc.ClusterError("%s refused the password (wrong password, or none set)." % self.address) from None
        except redis.ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                raise rc.ClusterError("%s refused the password (wrong password, or none set)." % self.address) from None
            raise
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise rc.ClusterError("%s did not answer (%s)." % (self.address, type(exc).__name__)) from exc

    def info(self, section):
        return self.client.info(section)


class Cluster(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.actions = []
        self.nodes = [Node(spec, self.p) for spec in self.p["nodes"]]

    # -- reading --------------------------------------------------------------------------------
    def wait_for_nodes(self):
        deadline = time.time() + self.p["timeout"]
        pending = list(self.nodes)
        last = {}
        while pending:
            for node in list(pending):
                try:
                    node.call("PING")
                    pending.remove(node)
                except rc.ClusterError as exc:
                    if "password" in str(exc):
                        raise
                    last[node.address] = str(exc)
            if pending and time.time() >= deadline:
                raise rc.ClusterError(
                    "These nodes did not answer PING within %s s: %s. Is the container running and its port "
                    "published?" % (self.p["timeout"], "; ".join(last.get(n.address, n.address) for n in pending)))
            if pending:
                time.sleep(0.5)
        self.read_ids()

    def read_ids(self):
        """Node IDs (a hard reset gives a node a new one), versions, and the cluster-mode check."""
        for node in self.nodes:
            if str(node.info("cluster").get("cluster_enabled")) != "1":
                raise rc.ClusterError("%s runs without cluster mode: set `cluster-enabled yes` in its config."
                                      % node.address)
            node.id = node.call("CLUSTER", "MYID")
            server = node.info("server")
            node.version = tuple(int(x) for x in str(server.get("redis_version", "0")).split(".")[:2])
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise rc.ClusterError("Two of the given addresses reach the same node: list each node once.")

    def views(self):
        out = {}
        for node in self.nodes:
            replication = node.info("replication")
            out[node.id] = dict(
                nodes=rc.parse_nodes(node.call("CLUSTER", "NODES")),
                keys=int(node.call("DBSIZE")),
                cluster_state=node.call("CLUSTER", "INFO").split("cluster_state:")[1].split()[0],
                role=replication.get("role"),
                link_up=replication.get("master_link_status") == "up",
                label="%s (%s)" % (node.address, node.id[:8]),
            )
        return out

    def by_id(self, node_id):
        return next(n for n in self.nodes if n.id == node_id)

    def act(self, description, node, *command):
        self.actions.append(description)
        if not self.check:
            return node.call(*command)
        return None

    # -- phases ---------------------------------------------------------------------------------
    def reset_foreign(self, views, foreign):
        labels = set(label for label, _ in foreign)
        for node in self.nodes:
            view = views[node.id]
            if view["label"] not in labels:
                continue
            me = view["nodes"].get(node.id, {})
            if view["keys"] and view["role"] == "master":
                raise rc.ClusterError("force_reset refuses to reset %s: it is a master holding %d keys. Empty it "
                                      "(FLUSHALL) yourself if the data can go." % (view["label"], view["keys"]))
            if me.get("slots") or len(view["nodes"]) > 1 or view["keys"]:
                self.act("reset %s (CLUSTER RESET HARD)" % node.address, node, "CLUSTER", "RESET", "HARD")

    def forget_stale(self, stale):
        for entry in stale:
            for node in self.nodes:
                description = "forget stale node %s on %s" % (entry["id"][:8], node.address)
                if description in self.actions:
                    continue
                try:
                    self.act(description, node, "CLUSTER", "FORGET", entry["id"])
                except redis.ResponseError:
                    pass  # this node did not know it

    def meet(self, views):
        anchor = self.nodes[0]
        known = set(views[anchor.id]["nodes"])
        fresh = [n for n in self.nodes if set(views[n.id]["nodes"]) <= {n.id}
                 and not views[n.id]["nodes"].get(n.id, {}).get("slots")]
        if len(fresh) == len(self.nodes):
            for epoch, node in enumerate(self.nodes, 1):
                self.act("set config epoch %d on %s" % (epoch, node.address), node,
                         "CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node in self.nodes[1:]:
            if node.id not in known:
                self.act("meet %s at %s:%d (bus %d)" % (node.address, node.cluster_ip, node.cluster_port,
                                                       node.cluster_port + 10000),
                         anchor, "CLUSTER", "MEET", node.cluster_ip, node.cluster_port, node.cluster_port + 10000)

    def wait(self, what, test, detail):
        if self.check:
            return
        deadline = time.time() + self.p["timeout"]
        while True:
            views = self.views()
            if test(views):
                return views
            if time.time() >= deadline:
                raise rc.ClusterError("Timed out after %s s waiting for %s: %s"
                                      % (self.p["timeout"], what, detail(views)))
            time.sleep(0.3)

    def agreement_detail(self, views):
        ours = set(n.id for n in self.nodes)
        missing = []
        for node in self.nodes:
            view = views[node.id]["nodes"]
            lacking = [self.by_id(i) for i in ours - set(view)]
            shaky = [self.by_id(i) for i, e in view.items() if i in ours and set(e["flags"]) & {"handshake", "noaddr"}]
            for other in lacking + shaky:
                missing.append("%s does not see %s (bus port %s:%d)" % (node.address, other.address, other.cluster_ip,
                                                                      other.cluster_port + 10000))
        return "; ".join(missing) or "no disagreement left"

    def all_agree(self, views):
        ours = set(n.id for n in self.nodes)
        for view in views.values():
            if set(view["nodes"]) != ours:
                return False
            if any(set(e["flags"]) & {"handshake", "noaddr"} for e in view["nodes"].values()):
                return False
        return True

    def assign_slots(self, nodes_view, masters):
        plan = rc.plan_slots(nodes_view, masters)
        for master_id in masters:
            node = self.by_id(master_id)
            for a, b in plan.get(master_id, []):
                if node.version >= (7, 0):
                    self.act("assign slots %d-%d to %s" % (a, b, node.address), node, "CLUSTER", "ADDSLOTSRANGE", a, b)
                else:
                    self.act("assign slots %d-%d to %s" % (a, b, node.address), node, "CLUSTER", "ADDSLOTS",
                             *range(a, b + 1))
        return plan

    def replicate(self, plan):
        for replica_id, master_id in plan:
            node, master = self.by_id(replica_id), self.by_id(master_id)
            description = "make %s a replica of %s" % (node.address, master.address)
            if self.check:
                self.actions.append(description)
                continue
            deadline = time.time() + self.p["timeout"]
            while True:
                try:
                    node.call("CLUSTER", "REPLICATE", master_id)
                    self.actions.append(description)
                    break
                except redis.ResponseError as exc:
                    if "Unknown node" not in str(exc) or time.time() >= deadline:
                        raise rc.ClusterError("%s cannot replicate %s: %s"
                                              % (node.address, master.address, exc)) from exc
                    time.sleep(0.3)

    def healthy(self, views):
        for view in views.values():
            if view["cluster_state"] != "ok":
                return False
            if view["role"] == "slave" and not view["link_up"]:
                return False
        return rc.unowned_slots(next(iter(views.values()))["nodes"]) == []

    def health_detail(self, views):
        bad = []
        for node in self.nodes:
            view = views[node.id]
            if view["cluster_state"] != "ok":
                bad.append("%s cluster_state:%s" % (node.address, view["cluster_state"]))
            if view["role"] == "slave" and not view["link_up"]:
                bad.append("%s master_link_status is not up" % node.address)
        return "; ".join(bad) or "slots not yet covered"

    # -- run ------------------------------------------------------------------------------------
    def run(self):
        p = self.p
        wanted_masters = len(self.nodes) // (p["replicas"] + 1)
        if len(self.nodes) < 3 * (p["replicas"] + 1):
            raise rc.ClusterError("%d nodes cannot make a cluster with %d replica(s) per master: at least %d are "
                                  "needed." % (len(self.nodes), p["replicas"], 3 * (p["replicas"] + 1)))
        self.wait_for_nodes()
        ours = set(n.id for n in self.nodes)
        views = self.views()
        addresses = set("%s:%d" % (n.cluster_ip, n.cluster_port) for n in self.nodes)
        state, foreign, stale = rc.classify(views, ours, addresses)
        if state == "foreign":
            if not p["force_reset"]:
                raise rc.ClusterError("Refusing to touch a foreign node. " + "; ".join(
                    "%s %s" % (label, reason) for label, reason in foreign)
                    + ". Point the module at the right nodes, or set force_reset to reset them (it refuses masters "
                    "holding keys).")
            self.reset_foreign(views, foreign)
            if not self.check:
                self.read_ids()
                ours = set(n.id for n in self.nodes)
                views = self.views()
                stale = rc.classify(views, ours, addresses)[2]
        elif state == "formed_or_partial":
            state = "formed" if rc.is_formed(views, ours, wanted_masters, p["replicas"]) and not stale else "partial"
        if state == "formed":
            return self.result(state, views, stale)

        if stale:
            self.forget_stale(stale)
        if not self.check:
            views = self.views()
        order = [n.id for n in self.nodes]
        if state == "fresh":
            # As redis-cli does: slots first, so that the MEET handshakes already carry them.
            masters = order[:wanted_masters]
            self.assign_slots({}, masters)
        self.meet(views)
        views = self.wait("all nodes to agree on the members", self.all_agree, self.agreement_detail) or views

        anchor_view = views[self.nodes[0].id]["nodes"]
        if state != "fresh":
            masters = rc.choose_masters(anchor_view, order, wanted_masters)
            self.assign_slots(anchor_view, masters)
        views = self.wait("every node to see all 16384 slots",
                          lambda v: all(not rc.unowned_slots(x["nodes"]) for x in v.values()),
                          lambda v: "; ".join("%s sees %d unowned slots"
                                              % (n.address, len(rc.unowned_slots(v[n.id]["nodes"])))
                                              for n in self.nodes)) or views
        anchor_view = views[self.nodes[0].id]["nodes"]
        plan = rc.plan_replicas(anchor_view, order, masters, p["replicas"], lambda i: self.by_id(i).cluster_ip)
        self.replicate(plan)
        views = self.wait("cluster_state:ok on every node and replicas in sync", self.healthy,
                          self.health_detail) or views
        return self.result(state, views, stale)

    def result(self, state, views, stale):
        nodes = []
        for node in self.nodes:
            entry = views[node.id]["nodes"].get(node.id, {})
            nodes.append(dict(id=node.id, address=node.address, cluster_address=entry.get("address"),
                              role="replica" if entry.get("master_id") else "master", master_id=entry.get("master_id"),
                              slots=rc.ranges_text(entry.get("slots", []))))
        return dict(changed=bool(self.actions), state=state, actions=self.actions, nodes=nodes, stale=stale)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type="list", elements="dict", required=True, options=dict(
                address=dict(type="str", required=True),
                cluster_address=dict(type="str"),
            )),
            password=dict(type="str", no_log=True),
            tls=dict(type="bool", default=False),
            ca_cert=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            replicas=dict(type="int", default=0),
            timeout=dict(type="int", default=60),
            force_reset=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis"), exception=str(REDIS_IMPORT_ERROR))
    try:
        result = Cluster(module).run()
    except rc.ClusterError as exc:
        module.fail_json(msg=str(exc))
    except redis.RedisError as exc:
        module.fail_json(msg="Redis error: %s: %s"
                         % (type(exc).__name__, str(exc).replace(module.params["password"] or "\0", "********")))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
