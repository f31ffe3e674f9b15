"""Pure logic of the redis_cluster module (no servers)."""

from ansible_collections.colima_services.devenv.plugins.module_utils import _redis_cluster as rc

NODES = (
    "07c37dfeb235213a872192d90877d0cd55635b91 172.20.0.13:6379@16379 myself,master - 0 0 1 connected 0-5460\n"
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 172.20.0.16:6379@16379 master - 0 1426238317239 2 connected "
    "5461-10922 [5461->-abc]\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 172.20.0.17:6379@16379,redis-3 slave "
    "07c37dfeb235213a872192d90877d0cd55635b91 0 1 1 connected\n"
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f :0@0 master,fail,noaddr - 1 1 3 disconnected 10923-16383\n"
)


def test_parse_nodes():
    nodes = rc.parse_nodes(NODES)
    me = nodes["07c37dfeb235213a872192d90877d0cd55635b91"]
    assert me["myself"] and me["address"] == "172.20.0.13:6379" and me["slots"] == [(0, 5460)]
    assert nodes["e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"]["slots"] == [(5461, 10922)], "migrating entries skipped"
    replica = nodes["67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"]
    assert replica["master_id"] == me["id"] and replica["address"] == "172.20.0.17:6379"
    assert "noaddr" in nodes["292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"]["flags"]


def test_even_split_matches_redis_cli():
    assert rc.even_split(3) == [(0, 5460), (5461, 10922), (10923, 16383)]
    for masters in (1, 2, 4, 5, 7):
        ranges = rc.even_split(masters)
        assert ranges[0][0] == 0 and ranges[-1][1] == 16383 and rc.slot_count(ranges) == 16384
        assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(masters - 1))


def test_plan_slots_never_touches_owned_slots():
    nodes = {"a": {"slots": [(0, 99)]}, "b": {"slots": [(100, 199)]}, "c": {"slots": []}}
    plan = rc.plan_slots(nodes, ["a", "b", "c"])
    assert plan == {"c": [(200, 16383)]}
    nodes = {"a": {"slots": [(0, 5460), (10923, 16383)]}, "b": {"slots": []}}
    assert rc.plan_slots(nodes, ["a", "b"]) == {"b": [(5461, 10922)]}
    assert rc.plan_slots({"a": {"slots": [(0, 16383)]}}, ["a"]) == {}


def test_replicas_go_away_from_their_masters_host():
    nodes = dict((i, {"slots": [], "master_id": None}) for i in "abcdef")
    hosts = {"a": "h1", "b": "h2", "c": "h3", "d": "h1", "e": "h2", "f": "h3"}
    plan = rc.plan_replicas(nodes, list("abcdef"), ["a", "b", "c"], 1, hosts.get)
    assert sorted(m for _, m in plan) == ["a", "b", "c"]
    assert all(hosts[r] != hosts[m] for r, m in plan)


def test_classify_fresh_foreign_and_stale():
    def alone(i, keys=0):
        return {"nodes": {i: {"id": i, "flags": ["myself", "master"], "slots": [], "master_id": None, "address": ""}},
                "keys": keys, "label": i}

    assert rc.classify({"a": alone("a"), "b": alone("b"), "c": alone("c")}, {"a", "b", "c"})[0] == "fresh"
    state, foreign, _ = rc.classify({"a": alone("a", keys=3), "b": alone("b"), "c": alone("c")}, {"a", "b", "c"})
    assert state == "foreign" and "holds 3 keys" in foreign[0][1]
    view = alone("a")
    view["nodes"]["x"] = {"id": "x", "flags": ["master"], "slots": [], "master_id": None, "address": "10.0.0.9:6379"}
    assert rc.classify({"a": view, "b": alone("b"), "c": alone("c")}, {"a", "b", "c"})[0] == "foreign"
    state, _, stale = rc.classify({"a": view, "b": alone("b"), "c": alone("c")}, {"a", "b", "c"}, {"10.0.0.9:6379"})
    assert state != "foreign" and stale[0]["id"] == "x"
