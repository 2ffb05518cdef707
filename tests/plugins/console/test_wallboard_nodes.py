"""Pure logic: one wallboard fed by the bridges of two Asterisk nodes (多节点)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from callcenter.plugins.console.wallboard import Wallboard

TZ = ZoneInfo("Asia/Shanghai")
T0 = "2026-11-23T02:00:00+00:00"
T1 = "2026-11-23T02:00:05+00:00"
T2 = "2026-11-23T02:00:09+00:00"


def _member(node: str, iface: str = "PJSIP/8001") -> dict[str, object]:
    return {
        "queue": "hotline",
        "agent": f"{node}-a",
        "interface": iface,
        "status": 1,
        "change": "added",
        "node": node,
    }


def test_same_extension_on_two_nodes_is_two_agents_and_counters_add_up() -> None:
    b = Wallboard(TZ, sla_seconds=20)
    b.apply("agent.status", _member("pbx1"), T0)
    b.apply("agent.status", _member("pbx2"), T0)
    b.apply("queue.caller_join", {"uniqueid": "pbx1-1.1", "queue": "hotline", "node": "pbx1"}, T0)
    b.apply("queue.caller_join", {"uniqueid": "pbx2-1.1", "queue": "hotline", "node": "pbx2"}, T0)
    b.apply("queue.caller_join", {"uniqueid": "pbx2-1.2", "queue": "hotline", "node": "pbx2"}, T0)
    snap = b.snapshot()
    assert [(a["node"], a["interface"]) for a in snap["agents"]] == [
        ("pbx1", "PJSIP/8001"),
        ("pbx2", "PJSIP/8001"),
    ]
    q = snap["queues"][0]
    assert q["waiting"] == 3 and q["offered"] == 3
    assert q["by_node"] == {"pbx1": 1, "pbx2": 2}
    assert [n["node"] for n in snap["nodes"]] == ["pbx1", "pbx2"]
    # pbx2's agent answers: only that agent talks
    b.apply(
        "agent.connect",
        {"uniqueid": "pbx2-1.1", "queue": "hotline", "interface": "PJSIP/8001", "wait": 5.0, "node": "pbx2"},
        T1,
    )
    states = {a["node"]: a["state"] for a in b.snapshot()["agents"]}
    assert states == {"pbx1": "idle", "pbx2": "talking"}
    assert b.agent("PJSIP/8001", node="pbx2")["state"] == "talking"  # type: ignore[index]
    assert b.snapshot()["queues"][0]["answered"] == 1


def test_a_node_resync_replaces_only_its_own_callers_and_agents() -> None:
    b = Wallboard(TZ)
    b.apply("agent.status", _member("pbx1"), T0)
    b.apply("agent.status", _member("pbx2", "PJSIP/8002"), T0)
    b.apply("queue.caller_join", {"uniqueid": "pbx1-1.1", "queue": "hotline", "node": "pbx1"}, T0)
    b.apply("queue.caller_join", {"uniqueid": "pbx2-1.1", "queue": "hotline", "node": "pbx2"}, T0)
    # pbx2 restarted: its re-sync shows no callers and no members
    b.apply(
        "queue.snapshot", {"node": "pbx2", "queues": [{"queue": "hotline", "callers": [], "members": []}]}, T2
    )
    snap = b.snapshot()
    assert [c["uniqueid"] for c in snap["queues"][0]["callers"]] == ["pbx1-1.1"]
    assert [(a["node"], a["interface"]) for a in snap["agents"]] == [("pbx1", "PJSIP/8001")]
    # pbx1's re-sync keeps its caller's original join time
    b.apply(
        "queue.snapshot",
        {
            "node": "pbx1",
            "queues": [
                {
                    "queue": "hotline",
                    "callers": [{"uniqueid": "pbx1-1.1", "position": 1}],
                    "members": [{"interface": "PJSIP/8001", "status": 1, "queue": "hotline"}],
                }
            ],
        },
        T2,
    )
    callers = b.snapshot()["queues"][0]["callers"]
    assert callers[0]["since"] == T0 and callers[0]["node"] == "pbx1"
