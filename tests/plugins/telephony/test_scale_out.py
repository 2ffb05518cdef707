"""Scale-out (多节点): two Asterisk 22 nodes, each with its own AMI bridge, one database, one Redis,
one FastAGI server and one supervisor wallboard.

Node pbx1 is the session's test Asterisk (``asterisk`` fixture: AMI 5038, SIP 5060). Node pbx2 runs
from a second root filesystem (a copy of the first: ``provision(..., clone_from=...)``) with its own
``systemname``, AMI port 5039 and SIP port 5062. Both dialplans use the same FastAGI server.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis as redis_lib
from prometheus_client import REGISTRY
from sqlalchemy import select

from callcenter.commands import send_command, wait_result
from callcenter.config import VAR_DIR, TelephonySettings
from callcenter.db.models import Call
from callcenter.db.session import session_scope
from callcenter.plugins.telephony.ami.bridge import AMIBridge, health_key
from callcenter.plugins.telephony.simulator import SimOptions, Simulator
from tests.plugins.console.conftest import seed_console, start_server, stop_server
from tests.support.asterisk import AsteriskHandle, BridgeThread, TelephonyStack, start_stack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

NODE2_ROOT = VAR_DIR / "asterisk" / "rootfs-pbx2"


@pytest.fixture(scope="module")
def node2(asterisk: AsteriskHandle) -> Iterator[AsteriskHandle]:
    """The second node, started while the session's Asterisk lock is held (``asterisk`` fixture)."""
    from callcenter.plugins.telephony.provision import AsteriskProcess, provision

    base = asterisk.settings
    settings = base.model_copy(
        update={
            "ami": base.ami.model_copy(update={"port": 5039}),
            "asterisk": base.asterisk.model_copy(
                update={"node": "pbx2", "rootfs": NODE2_ROOT, "sip_port": 5062}
            ),
        }
    )
    provision(
        settings,
        TelephonySettings(speech_step=False, wrapup_time_s=0, ring_timeout_s=10),
        clone_from=base.asterisk.rootfs,
    )
    proc = AsteriskProcess(settings)
    assert proc.state_dir != AsteriskProcess(base).state_dir  # its own pid file
    proc.stop()  # a leftover of an interrupted run
    proc.start()
    handle = AsteriskHandle(settings, proc)
    handle.reset_globals()
    try:
        yield handle
    finally:
        proc.stop()


@pytest.fixture
def two_nodes(
    asterisk: AsteriskHandle, node2: AsteriskHandle, pg_url: str, telephony_redis_url: str
) -> Iterator[tuple[TelephonyStack, BridgeThread]]:
    asterisk.ensure_running()
    asterisk.reset_globals()
    node2.ensure_running()
    node2.reset_globals()
    bridge2 = BridgeThread(
        AMIBridge(node2.ami_config(), pg_url, telephony_redis_url, default_queue="hotline", node="pbx2")
    )
    with start_stack(asterisk, pg_url, telephony_redis_url) as stack:
        bridge2.start()
        try:
            yield stack, bridge2
        finally:
            bridge2.stop()


def _calls(db_url: str) -> list[Call]:
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(Call).where(Call.direction == "in")))
        for r in rows:
            s.expunge(r)
        return rows


def _run_in_thread(r: redis_lib.Redis, opts: SimOptions, out: list[dict[str, Any]]) -> threading.Thread:
    t = threading.Thread(target=lambda: out.extend(Simulator(r, opts).run()), daemon=True)
    t.start()
    return t


def test_calls_on_both_nodes_reach_one_case_store_and_one_wallboard(
    two_nodes: tuple[TelephonyStack, BridgeThread], asterisk: AsteriskHandle, node2: AsteriskHandle
) -> None:
    stack, _bridge2 = two_nodes
    r = stack.redis
    assert re.search(r"System name:\s+pbx1\b", asterisk.cli("core show settings"))
    assert re.search(r"System name:\s+pbx2\b", node2.cli("core show settings"))
    deadline = time.monotonic() + 15
    while not all(r.get(health_key(n)) for n in ("pbx1", "pbx2")):
        assert time.monotonic() < deadline, "a bridge did not report its health"
        time.sleep(0.2)

    answered = {"direction": "in", "disposition": "answered"}
    ended_before = REGISTRY.get_sample_value("cc_calls_ended_total", answered) or 0.0
    waits_before = REGISTRY.get_sample_value("cc_queue_wait_seconds_count", {"queue": "hotline"}) or 0.0

    seed_console(stack.database_url)
    live = start_server(stack.database_url, stack.redis_url)
    try:
        started_day = datetime.now(ZoneInfo(stack.asterisk.settings.timezone)).date().isoformat()
        results: dict[str, list[dict[str, Any]]] = {"pbx1": [], "pbx2": []}
        threads = [
            _run_in_thread(
                r,
                SimOptions(count=2, rate=2, keys="1", agents=1, talk_s=2, node=node, seed=i),
                results[node],
            )
            for i, node in enumerate(("pbx1", "pbx2"))
        ]
        for t in threads:
            t.join(240)
        for node, res in results.items():
            assert len(res) == 2, (node, res)
            for call in res:
                assert call["answered"] is True and call["lost"] is False, (node, call)

        rows = {c.uniqueid: c for c in _calls(stack.database_url)}
        for node, res in results.items():
            for call in res:
                row = rows[call["uniqueid"]]
                assert row.node == node, (call["uniqueid"], row.node)
                assert row.ended_at is not None and row.disposition == "answered"
                assert row.ivr_choice == "1" and row.queue == "hotline"
        # the bridges' own metrics (both run in this process: one registry)
        assert (REGISTRY.get_sample_value("cc_calls_ended_total", answered) or 0) >= ended_before + 4
        assert (REGISTRY.get_sample_value("cc_queue_wait_seconds_count", {"queue": "hotline"}) or 0) >= (
            waits_before + 4
        )
        assert (REGISTRY.get_sample_value("cc_ami_events_total", {"event": "QueueCallerJoin"}) or 0) >= 4
        assert REGISTRY.get_sample_value("cc_ami_connected") == 1

        # one wallboard: the supervisor sees both nodes and the counters of both
        with httpx.Client(base_url=live.url, timeout=15) as c:
            deadline = time.monotonic() + 120  # the hub folds events as they come: slow on a loaded machine
            while True:
                board = c.get("/api/console/wallboard", headers=live.headers("chief1")).json()
                hotline = next((q for q in board["queues"] if q["queue"] == "hotline"), None)
                nodes = {n["node"] for n in board.get("nodes", [])}
                if hotline and hotline["handled"] >= 4 and {"pbx1", "pbx2"} <= nodes:
                    break
                if board.get("day") != started_day:
                    # local midnight passed during the test: the board's day counters start again at 0
                    # (intended); both nodes still have to be on it
                    assert {"pbx1", "pbx2"} <= nodes, board.get("nodes")
                    hotline = None
                    break
                # the message names what is missing (pytest cuts a long dict short)
                assert time.monotonic() < deadline, (board.get("day"), hotline, sorted(nodes))
                time.sleep(0.5)
            if hotline is not None:
                assert hotline["offered"] >= 4 and hotline["answered"] >= 4
    finally:
        stop_server(live)


def test_commands_reach_only_their_node(
    two_nodes: tuple[TelephonyStack, BridgeThread], asterisk: AsteriskHandle, node2: AsteriskHandle
) -> None:
    stack, _bridge2 = two_nodes
    r = stack.redis
    iface = "Local/sim-77-2@sim-agents/n"
    res = wait_result(
        r, send_command(r, "queue_add", node="pbx2", interface=iface, member_name="pbx2-77"), 20
    )
    try:
        assert res["ok"] and res["node"] == "pbx2", res
        assert "sim-77" in node2.cli("queue show hotline")
        assert "sim-77" not in asterisk.cli("queue show hotline")
    finally:
        assert wait_result(r, send_command(r, "queue_remove", node="pbx2", interface=iface), 20)["ok"]
    # a command for a node without a bridge waits; nobody else takes it
    aid = send_command(r, "queue_add", node="pbx9", interface=iface)
    with pytest.raises(TimeoutError):
        wait_result(r, aid, 3)
    assert "sim-77" not in asterisk.cli("queue show hotline") + node2.cli("queue show hotline")


def test_a_node_restart_closes_only_that_nodes_calls(
    two_nodes: tuple[TelephonyStack, BridgeThread], asterisk: AsteriskHandle, node2: AsteriskHandle
) -> None:
    """kill -9 of pbx2 while a caller waits on each node: pbx2's bridge re-syncs and closes its own
    lost call; pbx1's waiting call is neither closed nor touched, and finishes normally."""
    stack, bridge2 = two_nodes
    r = stack.redis
    results: dict[str, list[dict[str, Any]]] = {"pbx1": [], "pbx2": []}
    threads = [
        _run_in_thread(
            r, SimOptions(count=1, keys="1", agents=0, hold_s=25, node=node, timeout_s=90), results[node]
        )
        for node in ("pbx1", "pbx2")
    ]

    def queued() -> dict[str, Call]:
        return {c.node or "": c for c in _calls(stack.database_url) if c.queued_at and c.ended_at is None}

    deadline = time.monotonic() + 40
    while set(queued()) != {"pbx1", "pbx2"}:
        assert time.monotonic() < deadline, _calls(stack.database_url)
        time.sleep(0.2)
    before = queued()
    generation = bridge2.bridge.generation
    node2.kill()
    node2.restart()
    bridge2.wait_synced(60, generation=generation + 1)

    deadline = time.monotonic() + 20
    while True:
        rows = {c.uniqueid: c for c in _calls(stack.database_url)}
        lost = rows[before["pbx2"].uniqueid]
        if lost.ended_at is not None:
            break
        assert time.monotonic() < deadline, "pbx2's lost call was not closed by its bridge's re-sync"
        time.sleep(0.2)
    assert lost.data.get("closed_by_resync") is True
    survivor = rows[before["pbx1"].uniqueid]
    assert survivor.ended_at is None and not survivor.data.get("closed_by_resync")

    for t in threads:
        t.join(120)
    assert results["pbx1"] and results["pbx1"][0].get("lost") is False, results
    final = {c.uniqueid: c for c in _calls(stack.database_url)}[before["pbx1"].uniqueid]
    assert final.ended_at is not None and not final.data.get("closed_by_resync")
    assert final.node == "pbx1"
