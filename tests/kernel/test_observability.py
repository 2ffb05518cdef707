"""Structured logs and per-process metrics (日志与监控指标) of real processes and servers.

Real ``callcenter`` subprocesses (FastAGI server, worker) with JSON logs and their own metrics port,
scraped over HTTP and parsed with ``prometheus_client.parser``; the API's ``/metrics``; the
transcript → suggestion pipeline on the real Redis with a real trained model.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from callcenter import events
from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import TranscriptUtterance
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.exceptions import CallCenterError
from callcenter.observability import start_metrics_server, stop_metrics_server
from callcenter.pipeline import SuggestionPipeline
from callcenter.services.calls import get_or_create_call
from callcenter.services.cases import NewCase, create_case, transition
from tests.kernel.conftest import Login

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

LOG_FIELDS = {"ts", "level", "logger", "message", "service", "node", "pid"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(port: int, timeout: float = 5.0) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
        return parse(r.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_scrape(port: int, proc: subprocess.Popen[str] | None = None, timeout: float = 90.0) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return scrape(port)
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"process exited with {proc.returncode}: {proc.communicate()}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line of a JSON-logging process, parsed (fails on any line that is not JSON)."""
    records = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"stderr line is not JSON: {line!r}")
    return records


def cc_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", *args],
        env=os.environ | {"CALLCENTER_MODE": "test", "CALLCENTER_OBSERVABILITY__LOG_FORMAT": "json"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


# --------------------------------------------------------------------------- FastAGI process


def agi_session(port: int, lines: list[str], *, read: bool = True) -> bytes:
    """Talk to the FastAGI server like Asterisk: send an environment block, then hang up."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("".join(f"{line}\n" for line in lines).encode())
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while read and (chunk := sock.recv(4096)):
            data += chunk
        return data


def agi_answering_session(port: int, lines: list[str]) -> list[str]:
    """Like Asterisk on a channel where nothing happens: every command answers ``200 result=0``."""
    commands = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("".join(f"{line}\n" for line in lines).encode())
        rfile = sock.makefile("rb")
        while line := rfile.readline():
            commands.append(line.decode().strip())
            sock.sendall(b"200 result=0\n")
    return commands


def env_block(script: str, uniqueid: str) -> list[str]:
    return [
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1/{script}",
        "agi_channel: PJSIP/citizen-00000001",
        f"agi_uniqueid: {uniqueid}",
        "agi_callerid: 13800138000",
        "agi_extension: 12345",
        "",
    ]


@pytest.mark.redis
def test_fastagi_process_logs_json_and_serves_its_metrics(sqlite_url: str, redis_url: str) -> None:
    agi_port, metrics_port = free_port(), free_port()
    proc = cc_process(
        ["agi", "--port", str(agi_port)],
        {
            "CALLCENTER_DATABASE_URL": sqlite_url,
            "CALLCENTER_REDIS_URL": redis_url,
            "CALLCENTER_OBSERVABILITY__AGI_METRICS_PORT": str(metrics_port),
            "CALLCENTER_ASTERISK__NODE": "pbx7",
        },
    )
    try:
        before = wait_scrape(metrics_port, proc)
        assert value(before, "cc_service_info", service="agi", node="pbx7") == 1.0
        agi_session(agi_port, ["this is not AGI", ""])  # malformed environment
        agi_session(agi_port, env_block("no-such-script", "1763850000.77"))  # unknown script
        agi_session(agi_port, env_block("intake", "1763850000.78"))  # the caller hangs up at once
        # a caller who presses nothing: the menu is asked again, then the call goes on to the queue
        commands = agi_answering_session(agi_port, env_block("intake", "1763850000.79"))
        assert any(c.startswith("GET DATA callcenter/menu") for c in commands), commands
        deadline = time.monotonic() + 30
        while True:
            after = scrape(metrics_port)
            moved = value(after, "cc_agi_sessions_total", script="intake", outcome="completed")
            if moved >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        _out, err = stop(proc)
    assert value(after, "cc_agi_sessions_total", script="none", outcome="malformed") == 1.0
    assert value(after, "cc_agi_sessions_total", script="unknown", outcome="unknown_script") == 1.0
    assert value(after, "cc_agi_sessions_total", script="intake", outcome="hangup") == 1.0
    assert value(after, "cc_agi_sessions_total", script="intake", outcome="completed") == 1.0
    assert value(after, "cc_agi_session_seconds_count", script="intake") == 2.0
    assert value(after, "cc_agi_command_seconds_count") >= 1.0  # control commands (SET/GET VARIABLE)
    assert value(after, "cc_agi_active_sessions") == 0.0
    assert "process_cpu_seconds_total" in {name for name, _ in after}  # the default process collectors

    records = json_lines(err)
    assert records, "the FastAGI process logged nothing"
    for rec in records:
        assert set(rec) >= LOG_FIELDS, rec
        assert rec["service"] == "agi" and rec["node"] == "pbx7" and rec["pid"] == proc.pid
        assert rec["ts"].endswith("+00:00")  # ISO time in UTC
    messages = [r["message"] for r in records]
    assert any(m.startswith("FastAGI listening on 127.0.0.1:") for m in messages), messages
    assert any(m.startswith(f"metrics of agi on http://127.0.0.1:{metrics_port}") for m in messages)
    unknown = next(r for r in records if "unknown script" in r["message"])
    assert unknown["level"] == "WARNING" and unknown["uniqueid"] == "1763850000.77"
    assert unknown["logger"] == "callcenter.plugins.telephony.agi.server"
    gone = next(r for r in records if r.get("uniqueid") == "1763850000.78")
    assert "caller gone" in gone["message"]


def test_a_taken_metrics_port_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(mode="test")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.INFO, logger="callcenter.observability"):
            assert start_metrics_server(settings, "speech", port=port) is None
    err = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "cannot listen" in err.getMessage() and "CALLCENTER_OBSERVABILITY__SPEECH_METRICS_PORT" in (
        err.getMessage()
    )
    settings.observability.worker_metrics_port = 0
    assert start_metrics_server(settings, "worker") is None  # 0 = off


def test_json_logs_of_a_failing_command_are_json_too(tmp_path: Path) -> None:
    """Even a crash (here: a database without tables) comes out as one JSON record with the traceback."""
    proc = cc_process(["sweep-overdue"], {"CALLCENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    (record,) = json_lines(err)
    assert record["level"] == "CRITICAL" and record["service"] == "sweep-overdue"
    assert "no such table" in record["exception"] and "Traceback" in record["exception"]


# --------------------------------------------------------------------------- worker process


def overdue_case(url: str) -> str:
    with session_scope(url) as s:
        case = create_case(
            s,
            NewCase(
                description="小区门口井盖丢失，晚上很危险",
                matter_code="0601001",
                district_code="110101",
                street_code="110101001",
                dispatch_unit_code="S110101001",
            ),
            Actor(Role.AGENT, user_id=1),
            now=utcnow() - timedelta(days=60),
        )
        return case.number


@pytest.mark.redis
def test_worker_process_counts_the_supervision_sweep(seeded_sqlite: str, redis_url: str) -> None:
    overdue_case(seeded_sqlite)
    metrics_port = free_port()
    proc = cc_process(
        ["worker", "--only", "sweep"],
        {
            "CALLCENTER_DATABASE_URL": seeded_sqlite,
            "CALLCENTER_REDIS_URL": redis_url,
            "CALLCENTER_OBSERVABILITY__WORKER_METRICS_PORT": str(metrics_port),
        },
    )
    labels = {"action": "supervise", "from_status": "dispatched", "to_status": "dispatched"}
    try:
        wait_scrape(metrics_port, proc)
        deadline = time.monotonic() + 60
        while (n := value(scrape(metrics_port), "cc_case_transitions_total", **labels)) < 1:
            assert time.monotonic() < deadline, "the sweep was not counted"
            time.sleep(0.2)
    finally:
        _out, err = stop(proc)
    assert n == 1.0
    records = json_lines(err)
    assert all(r["service"] == "worker" for r in records)
    assert any(r["message"] == "督办: 1 overdue case(s) flagged" for r in records), records  # UTF-8 kept


# --------------------------------------------------------------------------- API /metrics


def test_case_transitions_are_on_the_api_metrics(client: TestClient, auth: Login) -> None:
    def transitions() -> Samples:
        return parse(client.get("/metrics").text)

    before = transitions()
    agent = auth("agent1")
    body = {"description": "东华门街道多福巷小区楼下餐馆油烟太大", "matter_code": "0601001"}
    created = client.post("/api/cases", json=body, headers=agent)
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    registered = client.post(f"/api/cases/{number}/transitions", json={"action": "register"}, headers=agent)
    assert registered.status_code == 200, registered.text
    refused = client.post(f"/api/cases/{number}/transitions", json={"action": "register"}, headers=agent)
    assert refused.status_code == 409  # refused: not counted
    after = transitions()

    def delta(**labels: str) -> float:
        name = "cc_case_transitions_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(action="create", from_status="none", to_status="received") == 1.0
    assert delta(action="register", from_status="received", to_status="registered") == 1.0
    assert (
        sum(v for (name, _), v in after.items() if name == "cc_case_transitions_total")
        - sum(v for (name, _), v in before.items() if name == "cc_case_transitions_total")
        == 2.0
    )
    assert ("cc_cases", frozenset({("status", "registered")})) in after  # the database figures stay


def test_rolled_back_transitions_are_not_counted(seeded_sqlite: str) -> None:
    from prometheus_client import REGISTRY

    def count(action: str) -> float:
        return sum(
            s.value
            for family in REGISTRY.collect()
            if family.name == "cc_case_transitions"
            for s in family.samples
            if s.name.endswith("_total") and s.labels["action"] == action
        )

    created, registered = count("create"), count("register")
    with pytest.raises(RuntimeError), session_scope(seeded_sqlite) as s:
        create_case(s, NewCase(description="测试回滚", matter_code="0601001"), Actor(Role.AGENT, user_id=1))
        raise RuntimeError("rolled back")
    assert count("create") == created
    with session_scope(seeded_sqlite) as s:
        number = create_case(
            s, NewCase(description="测试保存点", matter_code="0601001"), Actor(Role.AGENT, user_id=1)
        ).number
        with pytest.raises(CallCenterError), s.begin_nested():
            transition(s, number, Command("register", matter_code="0601001"), Actor(Role.AGENT, user_id=1))
            raise CallCenterError("the savepoint is rolled back")
    assert count("create") == created + 1 and count("register") == registered


# --------------------------------------------------------------------------- pipeline (worker)


@pytest.fixture(scope="module")
def metrics_port() -> Iterator[int]:
    """This test process's own metrics server (the default registry, as in the worker)."""
    port = start_metrics_server(Settings(mode="test"), "worker", port=free_port())
    assert port is not None
    yield port
    stop_metrics_server(port)


@pytest.mark.redis
def test_suggestion_latency_and_confidence(
    sqlite_url: str, redis_client: redis_lib.Redis, trained_model_dir: Path, metrics_port: int
) -> None:
    from callcenter.plugins.classifier.suggester import SuggesterHolder

    holder = SuggesterHolder(trained_model_dir)

    def suggest(text: str, hint: dict[str, Any] | None) -> dict[str, Any]:
        return holder.get().suggest(text, caller_hint=hint).to_dict()

    pipeline = SuggestionPipeline(get_sessionmaker(sqlite_url), redis_client, suggest, consumer="obs")
    pipeline.ensure_group()
    before = scrape(metrics_port)
    text = "我家楼下的饭馆油烟特别大，熏得窗户都不敢开"
    with session_scope(sqlite_url) as s:
        call = get_or_create_call(s, "1763850000.91", caller_number="13800001111")
        s.add(TranscriptUtterance(call_id=call.id, seq=0, text=text, engine="whisper"))
    payload = {"uniqueid": "1763850000.91", "seq": 0, "text": text, "final": True}
    events.publish_now(redis_client, events.STREAM_TRANSCRIPTS, "transcript.final", payload)
    events.publish_now(redis_client, events.STREAM_TRANSCRIPTS, "transcript.final", payload)  # same text
    assert pipeline.run_once(block_ms=100) == 2
    after = scrape(metrics_port)

    def delta(name: str) -> float:
        return value(after, name) - value(before, name)

    assert delta("cc_suggestion_confidence_count") == 1.0  # the repeat stored nothing new
    assert delta("cc_suggestion_latency_seconds_count") == 1.0
    assert 0.0 <= delta("cc_suggestion_confidence_sum") <= 1.0
    assert delta("cc_suggestion_latency_seconds_sum") >= 0.0


@pytest.mark.redis
def test_api_process_access_logs_are_json(sqlite_url: str, redis_url: str) -> None:
    port = free_port()
    proc = cc_process(
        ["serve", "--port", str(port)],
        {"CALLCENTER_DATABASE_URL": sqlite_url, "CALLCENTER_REDIS_URL": redis_url},
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert "cc_case_transitions" in r.read().decode()
    finally:
        _out, err = stop(proc)
    records = json_lines(err)
    assert all(r["service"] == "api" for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/healthz" in r["message"] for r in access), records
