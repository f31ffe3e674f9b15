# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""Redis Cluster logic for the redis_cluster module: parsing, classification, slot plans.

Private to this collection. Pure functions over what the nodes report, so that they can be
tested without servers. Nodes are identified by node ID, never by address: the address a node
announces (its container IP) differs from the address the module connects to (a published port).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SLOTS = 16384


class ClusterError(Exception):
    """A failure with a message fit for fail_json."""


def parse_nodes(text):
    """CLUSTER NODES output -> {id: {address, flags, master_id, slots (list of (a, b))}}."""
    nodes = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, address, flags, master = parts[0], parts[1], parts[2].split(","), parts[3]
        slots = []
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being migrated or imported
            a, _, b = item.partition("-")
            slots.append((int(a), int(b or a)))
        nodes[node_id] = dict(
            id=node_id,
            address=address.split("@")[0].split(",")[0],
            flags=flags,
            myself="myself" in flags,
            master_id=None if master == "-" else master,
            link=parts[7],
            slots=slots,
        )
    return nodes


def slot_count(ranges):
    return sum(b - a + 1 for a, b in ranges)


def ranges_text(ranges):
    return ["%d-%d" % (a, b) if a != b else "%d" % a for a, b in sorted(ranges)]


def to_ranges(slots):
    """Sorted slot numbers -> contiguous (a, b) ranges."""
    out = []
    for slot in sorted(slots):
        if out and slot == out[-1][1] + 1:
            out[-1] = (out[-1][0], slot)
        else:
            out.append((slot, slot))
    return out


def even_split(masters):
    """Slot ranges for `masters` masters, as redis-cli --cluster create splits them
    (0-5460, 5461-10922, 10923-16383 for three)."""
    per = SLOTS / float(masters)
    out, first, cursor = [], 0, 0.0
    for i in range(masters):
        last = round(cursor + per - 1)
        if last > SLOTS - 1 or i == masters - 1:
            last = SLOTS - 1
        out.append((first, last))
        first, cursor = last + 1, cursor + per
    return out


def classify(views, ours, our_addresses=()):
    """Classify the cluster from every node's view.

    views: {node_id: {"nodes": parse_nodes(...), "keys": int, "cluster_state": str,
                      "role": str, "link_up": bool, "label": str}}
    ours:  set of our node IDs.
    our_addresses: "ip:port" cluster addresses of our nodes. An unknown ID at one of them is the old
           identity of a node that was replaced (new container, lost nodes.conf): stale, not foreign.
    Returns (state, foreign, stale): state is fresh | formed | partial | foreign; foreign is a list of
    (label, reason); stale lists the fail/noaddr entries of IDs that are not ours.
    """
    foreign, stale = [], []
    for node_id, view in sorted(views.items()):
        others = [n for i, n in view["nodes"].items() if i not in ours]
        for entry in others:
            if (set(entry["flags"]) & {"fail", "fail?", "noaddr"}) or entry["address"] in our_addresses:
                stale.append(dict(seen_by=view["label"], id=entry["id"], address=entry["address"],
                                  flags=entry["flags"], slots=ranges_text(entry["slots"])))
            else:
                foreign.append((view["label"], "knows node %s (%s), which is not one of the given nodes: it "
                                "belongs to another cluster" % (entry["id"], entry["address"])))
        me = view["nodes"].get(node_id, {})
        if view["keys"] and not me.get("slots") and not me.get("master_id"):
            foreign.append((view["label"], "holds %d keys but owns no slots: it is not an empty node"
                            % view["keys"]))
    if foreign:
        return "foreign", foreign, stale
    alone = all(set(v["nodes"]) <= {i} and not v["nodes"].get(i, {}).get("slots") and not v["keys"]
                for i, v in views.items())
    if alone:
        return "fresh", [], stale
    return "formed_or_partial", [], stale


def is_formed(views, ours, masters_wanted, replicas):
    """True when every node knows exactly our nodes, all slots are covered, state is ok everywhere,
    and the master/replica layout is the expected one."""
    for view in views.values():
        if set(view["nodes"]) != ours or view["cluster_state"] != "ok":
            return False
        if any(set(n["flags"]) & {"handshake", "fail", "fail?", "noaddr"} for n in view["nodes"].values()):
            return False
    any_view = next(iter(views.values()))["nodes"]
    masters = [n for n in any_view.values() if n["slots"]]
    if len(masters) != masters_wanted or slot_count([r for m in masters for r in m["slots"]]) != SLOTS:
        return False
    for master in masters:
        followers = [n for n in any_view.values() if n["master_id"] == master["id"]]
        if len(followers) != replicas:
            return False
    for view in views.values():
        if view["role"] == "slave" and not view["link_up"]:
            return False
    return True


def unowned_slots(nodes):
    owned = set()
    for node in nodes.values():
        for a, b in node["slots"]:
            owned.update(range(a, b + 1))
    return [s for s in range(SLOTS) if s not in owned]


def plan_slots(nodes, master_ids):
    """{master_id: [(a, b), ...]} for the slots nobody owns, never touching owned slots.

    Fresh cluster: the even split. Otherwise each run of unowned slots goes to a master that
    has none yet, else to the master with the fewest slots.
    """
    free = unowned_slots(nodes)
    if not free:
        return {}
    if len(free) == SLOTS:
        return dict((m, [r]) for m, r in zip(master_ids, even_split(len(master_ids)), strict=True))
    counts = dict((m, slot_count(nodes.get(m, {}).get("slots", []))) for m in master_ids)
    plan = {}
    for run in to_ranges(free):
        target = min(master_ids, key=lambda m: (counts[m], master_ids.index(m)))
        plan.setdefault(target, []).append(run)
        counts[target] += run[1] - run[0] + 1
    return plan


def choose_masters(nodes, order, masters_wanted):
    """Masters: nodes owning slots first, then slot-less masters that replicate nobody, in the
    given order, up to masters_wanted."""
    with_slots = [i for i in order if nodes.get(i, {}).get("slots")]
    free = [i for i in order if i not in with_slots and not nodes.get(i, {}).get("master_id")]
    return (with_slots + free)[:max(masters_wanted, len(with_slots))]


def plan_replicas(nodes, order, masters, replicas, host_of):
    """[(replica_id, master_id)] so that each master gets `replicas` replicas, away from its own host
    when possible. Nodes already replicating one of our masters keep their master."""
    counts = dict((m, 0) for m in masters)
    for i in order:
        master = nodes.get(i, {}).get("master_id")
        if master in counts:
            counts[master] += 1
    candidates = [i for i in order if i not in masters and nodes.get(i, {}).get("master_id") not in counts]
    # One place per missing replica, masters in order; then rotate the pairing until no replica
    # shares its master's host (as redis-cli does), else keep the plain order.
    places = [m for m in masters for _ in range(max(replicas - counts[m], 0))]
    candidates = candidates[:len(places)]
    if not candidates:
        return []
    for shift in range(len(places)):
        plan = [(r, places[(k + shift) % len(places)]) for k, r in enumerate(candidates)]
        if all(host_of(r) != host_of(m) for r, m in plan):
            return plan
    return [(r, places[k]) for k, r in enumerate(candidates)]
