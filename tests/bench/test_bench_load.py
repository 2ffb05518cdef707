"""The whole-stack load harness (bench/bench_load.py): its figures from real messages and rows, and
one real caller through the real stack (Asterisk, IVR, speech service, worker, console SSE).

No timing is asserted here: speed goes to docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.bench_load import (
    ConsoleLog,
    FinalSeen,
    LoadOptions,
    SSEParser,
    SuggestionSeen,
    UtteranceLatency,
    backlog_profile,
    count_error_lines,
    count_lines,
    distribution,
    http_5xx,
    intake_counts,
    latency_report,
    match_latencies,
    metric_by_label,
    metric_totals,
    percentile,
    run_load,
)
from callcenter import events as ev
from callcenter.plugins.console.hub import Event, encode_cursor, sse


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None
    assert distribution([0.25, 0.5, 2.0]) == {"n": 3, "p50_s": 0.5, "p95_s": 2.0, "max_s": 2.0}


def _hub_message(stream: str, entry_id: str, type_: str, data: dict[str, Any], role: str) -> str:
    """An SSE message exactly as the console hub sends it."""
    event = Event(
        stream, entry_id, type_, data, "2026-11-23T01:00:00+00:00", encode_cursor({stream: entry_id})
    )
    return sse(json.dumps(event.message(role), ensure_ascii=False), id_=event.cursor)


def test_console_log_reads_the_hubs_messages() -> None:
    body = "retry: 1000\n\n"
    body += sse(json.dumps({"cursor": "T:0-0", "resumed": False}), id_="T:0-0", event="hello")
    body += ": keep-alive\n\n"
    final = {"uniqueid": "sim-a-2", "seq": 1, "text": "路灯坏了", "ended_at": 1795395873.809, "final": True}
    body += _hub_message(ev.STREAM_TRANSCRIPTS, "5-0", "transcript.final", final, "supervisor")
    sugg = {"uniqueid": "sim-a-2", "suggestion_id": 7, "text": "我家门口路灯坏了", "matters": []}
    body += _hub_message(ev.STREAM_SUGGESTIONS, "6-0", "suggestion.ready", sugg, "supervisor")
    body += _hub_message(ev.STREAM_CALLS, "7-0", "call.new", {"uniqueid": "sim-a-2"}, "supervisor")
    body += sse("not json")

    log = ConsoleLog()
    parser = SSEParser()
    for n, line in enumerate(body.split("\n")):
        msg = parser.feed(line)
        if msg is not None:
            log.on_message(msg, 1000.0 + n)
    assert log.hello.is_set()
    finals, suggestions = log.snapshot()
    assert [(f.uniqueid, f.seq, f.text, f.ended_at) for f in finals] == [
        ("sim-a-2", 1, "路灯坏了", 1795395873.809)
    ]
    assert [(s.uniqueid, s.suggestion_id, s.text) for s in suggestions] == [
        ("sim-a-2", 7, "我家门口路灯坏了")
    ]
    assert log.events == 3  # final, suggestion, call.new; not hello, keep-alive or the bad payload
    assert log.last_cursor == encode_cursor({ev.STREAM_CALLS: "7-0"})


def test_match_latencies_takes_the_suggestion_that_includes_the_utterance() -> None:
    finals = [
        FinalSeen("a", 0, "我家门口", ended_at=100.3, arrived=101.0),
        FinalSeen("a", 1, "路灯坏了", ended_at=103.3, arrived=104.5),
        FinalSeen("a", 1, "路灯坏了", ended_at=103.3, arrived=104.6),  # a replay: counted once
        FinalSeen("b", 0, "噪音扰民", ended_at=110.3, arrived=111.0),
        FinalSeen("c", 0, "", ended_at=120.3, arrived=121.0),  # nothing recognised
        FinalSeen("d", 0, "没有时间戳", ended_at=None, arrived=121.0),  # an older speech service
    ]
    suggestions = [
        SuggestionSeen("a", 1, "我家门口", arrived=101.2),
        # "b" arrives at the console before its final (same hub batch): still matched
        SuggestionSeen("b", 3, "噪音扰民", arrived=110.95),
        SuggestionSeen("a", 2, "我家门口路灯坏了", arrived=104.9),
    ]
    lat = match_latencies(finals, suggestions, tail_s=0.3)
    got = {(u.uniqueid, u.seq): u for u in lat}
    assert set(got) == {("a", 0), ("a", 1), ("b", 0), ("c", 0)}
    assert got["a", 0].to_final_s == pytest.approx(1.0)
    assert got["a", 0].to_suggestion_s == pytest.approx(1.2)
    assert not got["a", 0].last_of_call
    assert got["a", 1].to_suggestion_s == pytest.approx(1.9)  # not the earlier, shorter suggestion
    assert got["a", 1].last_of_call
    assert got["b", 0].to_suggestion_s == pytest.approx(0.95)
    assert got["c", 0].to_suggestion_s is None

    report = latency_report(lat)
    per_call = report["per_call_last_utterance"]
    assert per_call["to_transcript_final"]["n"] == 3
    assert per_call["to_suggestion_on_console"]["n"] == 2
    assert per_call["without_suggestion"] == 1
    assert report["per_utterance"]["final_to_suggestion"]["n"] == 3
    assert sum(t["utterances"] for t in report["by_third_of_run"]) == 4


def test_backlog_profile_counts_utterances_waiting_for_their_final() -> None:
    lat = [
        UtteranceLatency("a", 0, end_of_speech=0.0, to_final_s=4.5, to_suggestion_s=None, last_of_call=True),
        UtteranceLatency("b", 0, end_of_speech=1.0, to_final_s=2.5, to_suggestion_s=None, last_of_call=True),
    ]
    # waiting: a from 0.5 to 4.5, b from 1.5 to 3.5; sampled at 0.5, 1.5, 2.5, 3.5, 4.5
    assert backlog_profile(lat, detect_s=0.5) == {"max": 2, "mean": 1.2}
    assert backlog_profile([], detect_s=0.5) == {"max": 0, "mean": 0.0}


def test_http_5xx_and_totals_from_the_apis_metrics_page(sqlite_url: str) -> None:
    from prometheus_client import generate_latest

    from callcenter.metrics import Metrics

    m = Metrics(sqlite_url)
    m.requests.labels("GET", "/api/cases", "200").inc(40)
    m.requests.labels("POST", "/api/cases", "500").inc(2)
    m.requests.labels("GET", "/api/console/events", "503").inc()
    m.requests.labels("GET", "/api/cases/{id}", "404").inc(5)
    m.latency.labels("GET", "/api/cases").observe(0.5)
    m.latency.labels("GET", "/api/cases").observe(1.5)
    page = generate_latest(m.registry).decode()
    assert http_5xx(page) == 3
    totals = metric_totals(page)
    assert totals["cc_http_requests_total"] == 48
    assert totals["cc_http_request_seconds_count"] == 2
    assert totals["cc_http_request_seconds_sum"] == pytest.approx(2.0)
    assert metric_by_label(page, "cc_http_requests_total", "status") == {
        "200": 40.0,
        "500": 2.0,
        "503": 1.0,
        "404": 5.0,
    }
    assert metric_by_label(page, "cc_http_requests_total", "route")["/api/cases/{id}"] == 5.0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_error_lines_of_a_service_log(tmp_path: Path, fmt: str) -> None:
    import logging

    from callcenter.observability import TEXT_FORMAT, json_formatter

    path = tmp_path / "speech-service.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(TEXT_FORMAT) if fmt == "text" else json_formatter("speech", "n1"))
    logger = logging.getLogger(f"bench-load-test-{fmt}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.info("audiosocket sim-1-2: ending session (caller_done)")
        logger.warning("audiosocket: %d sessions already running, refusing %s", 64, ("127.0.0.1", 5))
        logger.error("speech: could not store final utterance 0 of sim-1-2")
        try:
            raise RuntimeError("decoder failed")
        except RuntimeError:
            logger.exception("audiosocket sim-2-2: recognition failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert count_error_lines(path) == (3 if fmt == "text" else 2)  # text: the traceback has its own line
    assert count_lines(path, "already running, refusing") == 1
    assert count_error_lines(tmp_path / "missing.log") == 0


def test_intake_counts_from_the_database(sqlite_url: str) -> None:
    from datetime import UTC, datetime

    from callcenter.db.models import Call, Suggestion, TranscriptUtterance
    from callcenter.db.session import session_scope

    now = datetime.now(UTC)
    intake = {"ivr": {"intake": {"audio_uuid": "u"}}}
    with session_scope(sqlite_url) as s:
        full = Call(uniqueid="full", ivr_choice="1", ended_at=now, data=intake)
        text_only = Call(uniqueid="text-only", ivr_choice="1", ended_at=now, data=intake)
        silent = Call(uniqueid="silent", ivr_choice="1", ended_at=now, data=intake)
        running = Call(uniqueid="running", ivr_choice="1", data=intake)  # not ended yet
        no_speech_step = Call(uniqueid="keypad", ivr_choice="1", ended_at=now, data={})
        status = Call(uniqueid="status", ivr_choice="2", ended_at=now, data={})
        s.add_all([full, text_only, silent, running, no_speech_step, status])
        s.flush()
        s.add_all(
            [
                TranscriptUtterance(call_id=full.id, seq=0, text="路灯坏了"),
                TranscriptUtterance(call_id=text_only.id, seq=0, text="噪音"),
                TranscriptUtterance(call_id=silent.id, seq=0, text=""),
                Suggestion(
                    call_id=full.id,
                    model_version="t",
                    text="路灯坏了",
                    matters=[],
                    area={},
                    evidence=[],
                    confidence=0.9,
                ),
            ]
        )
    assert intake_counts(sqlite_url) == {
        "calls_in_database": 6,
        "intakes_completed": 3,
        "with_transcript": 2,
        "with_suggestion": 1,
    }
    assert intake_counts(sqlite_url, {"full", "keypad"})["intakes_completed"] == 1


@pytest.mark.asterisk
@pytest.mark.speech
@pytest.mark.redis
@pytest.mark.slow
def test_one_caller_through_the_whole_stack(asterisk: Any, trained_model_dir: Path, tmp_path: Path) -> None:
    """One caller, one call: every service as its own process, the console as an SSE client."""
    import redis

    model_dir = tmp_path / "classifier"
    model_dir.mkdir()
    (model_dir / "models").symlink_to(trained_model_dir, target_is_directory=True)
    redis_url = "redis://127.0.0.1:6379/14"  # the telephony db: only used while the Asterisk lock is held
    opts = LoadOptions(
        callers=1,
        duration_s=1.0,  # the one caller places one call
        drain_s=60.0,
        settle_s=5.0,
        redis_url=redis_url,
        model_dir=model_dir,
        log_dir=tmp_path / "logs",
        quiet=True,
    )
    try:
        report = run_load(opts, asterisk=asterisk)
    finally:
        redis.Redis.from_url(redis_url).flushdb()

    calls = report["calls"]
    assert (calls["placed"], calls["completed"], calls["answered"], calls["lost"]) == (1, 1, 1, 0)
    errors = report["server_errors"]
    assert errors["api_http_5xx"] == 0
    assert set(errors["service_restarts"].values()) == {0}
    intakes = report["intakes"]
    assert intakes["intakes_completed"] == 1
    assert (
        intakes["with_transcript"] == intakes["with_suggestion"] == intakes["with_suggestion_on_console"] == 1
    )
    per_call = report["end_of_speech"]["per_call_last_utterance"]
    assert per_call["to_transcript_final"]["n"] == 1
    assert per_call["to_suggestion_on_console"]["n"] == 1
    assert (tmp_path / "logs" / "report.json").is_file()
    for name in ("serve", "agi", "ami-bridge", "speech-service", "worker"):
        assert (tmp_path / "logs" / f"{name}.log").is_file()
