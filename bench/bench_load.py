"""Whole-stack load test (全链路压测): N simulated callers for D seconds through every service.

Starts the whole stack the way ``callcenter demo`` does — Asterisk 22 (chroot, speech step on), then
``serve`` (API + console), ``agi``, ``ami-bridge``, ``speech-service`` and ``worker`` as separate
processes under :class:`callcenter.supervisor.Supervisor` — on a fresh database (SQLite in a temp
dir, or ``--postgres`` for a fresh PostgreSQL database) and its own Redis db (13). It keeps
``--callers`` simulated callers on the line for ``--duration`` seconds (each caller dials 12345 /
96010, presses 1, speaks a real Mandarin clip through AudioSocket, waits in the queue for a simulated
agent, hangs up, dials again), and follows the console like a browser: a logged-in supervisor
subscribed to ``/api/console/events`` (Server-Sent Events, httpx streaming) timestamps every
``transcript.final`` and ``suggestion.ready`` as it arrives.

End of speech is the wall-clock end of the utterance the speech service reports in
``transcript.final`` (``ended_at`` = stream start + ``end_s``) minus the VAD's ``tail_s`` (the audio kept
after the last voiced frame), so latencies are measured from the last voiced 20 ms frame.

Report (JSON on stdout, also written to ``<log dir>/report.json``): calls placed / answered / lost,
HTTP 5xx of the API (its ``/metrics``), ERROR lines and restarts per service, intakes completed vs
with a transcript vs with a suggestion (database) vs with a suggestion on the console, end of speech
→ transcript final and → suggestion on the console p50 / p95 / max (per utterance and per call's last
utterance), the backlog of the suggestion pipeline and CPU use per service, machine and date.

Only one Asterisk can run on a machine: the run holds the telephony test lock
(``callcenter.plugins.telephony.provision.TEST_LOCK_PATH``), so it waits while tests use Asterisk.

    .venv/bin/python bench/bench_load.py --callers 30 --duration 600
    .venv/bin/python bench/bench_load.py --callers 3 --duration 60        # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import platform
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from callcenter.config import TelephonySettings

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVICES = ("serve", "agi", "ami-bridge", "speech-service", "worker")
BENCH_USER = "bench-load"
BENCH_PASSWORD = "bench-load-password-1"
#: How an error line looks in a service log (text or JSON format).
ERROR_MARKS = (" ERROR ", " CRITICAL ", '"level": "ERROR"', '"level": "CRITICAL"')


# --------------------------------------------------------------------------- figures (pure)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def distribution(values: list[float]) -> dict[str, Any]:
    """``n``, p50, p95 and max of ``values`` in seconds (rounded to ms)."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "n": len(values),
        "p50_s": r(percentile(values, 50)),
        "p95_s": r(percentile(values, 95)),
        "max_s": r(max(values) if values else None),
    }


@dataclass(frozen=True)
class FinalSeen:
    """A ``transcript.final`` as the console received it."""

    uniqueid: str
    seq: int
    text: str
    ended_at: float | None  # wall clock of the utterance's end (speech service)
    arrived: float  # wall clock at the console client


@dataclass(frozen=True)
class SuggestionSeen:
    """A ``suggestion.ready`` as the console received it."""

    uniqueid: str
    suggestion_id: int | None
    text: str
    arrived: float


@dataclass(frozen=True)
class UtteranceLatency:
    uniqueid: str
    seq: int
    end_of_speech: float
    to_final_s: float
    to_suggestion_s: float | None  # None: no suggestion with this utterance reached the console
    last_of_call: bool


@dataclass
class SSEMessage:
    event: str = "message"
    data: str = ""
    id: str | None = None


class SSEParser:
    """Server-Sent Events line parser: :meth:`feed` one line, get a message at each blank line."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SSEMessage | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            msg = SSEMessage(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return msg
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


@dataclass
class ConsoleLog:
    """What one console client saw: transcript finals and suggestions, with arrival times."""

    finals: list[FinalSeen] = field(default_factory=list)
    suggestions: list[SuggestionSeen] = field(default_factory=list)
    events: int = 0
    hello: threading.Event = field(default_factory=threading.Event)
    reconnects: int = 0
    last_cursor: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, msg: SSEMessage, arrived: float) -> None:
        if msg.id:
            self.last_cursor = msg.id
        if msg.event == "hello":
            self.hello.set()
            return
        if msg.event != "message":
            return
        try:
            ev = json.loads(msg.data)
        except ValueError:
            return
        data = ev.get("data") if isinstance(ev, dict) else None
        if not isinstance(data, dict):
            return
        with self._lock:
            self.events += 1
            if ev.get("type") == "transcript.final":
                ended = data.get("ended_at")
                self.finals.append(
                    FinalSeen(
                        str(data.get("uniqueid", "")),
                        int(data.get("seq", 0)),
                        str(data.get("text") or ""),
                        float(ended) if isinstance(ended, int | float) else None,
                        arrived,
                    )
                )
            elif ev.get("type") == "suggestion.ready":
                sid = data.get("suggestion_id")
                self.suggestions.append(
                    SuggestionSeen(
                        str(data.get("uniqueid", "")),
                        int(sid) if isinstance(sid, int) else None,
                        str(data.get("text") or ""),
                        arrived,
                    )
                )

    def snapshot(self) -> tuple[list[FinalSeen], list[SuggestionSeen]]:
        with self._lock:
            return list(self.finals), list(self.suggestions)


def match_latencies(
    finals: list[FinalSeen], suggestions: list[SuggestionSeen], tail_s: float
) -> list[UtteranceLatency]:
    """End of speech → final on the console and → the first suggestion that includes the utterance.

    The pipeline suggests on the caller's whole text so far, so the suggestion answering utterance
    ``seq`` is the first one of the call whose text contains this utterance's text and is at least as
    long as the call's text up to it (an earlier, shorter suggestion cannot count). Finals without
    ``ended_at`` (an older speech service) are skipped.
    """
    by_call: dict[str, list[FinalSeen]] = {}
    for f in finals:
        by_call.setdefault(f.uniqueid, []).append(f)
    sugg_by_call: dict[str, list[SuggestionSeen]] = {}
    for s in sorted(suggestions, key=lambda s: s.arrived):
        sugg_by_call.setdefault(s.uniqueid, []).append(s)
    out: list[UtteranceLatency] = []
    for uid, call_finals in by_call.items():
        call_finals = sorted({f.seq: f for f in call_finals}.values(), key=lambda f: f.seq)
        last_seq = call_finals[-1].seq
        cumulative = 0
        for f in call_finals:
            text = f.text.strip()
            cumulative += len(text)
            if f.ended_at is None:
                continue
            eos = f.ended_at - tail_s
            to_sugg: float | None = None
            if text:
                for s in sugg_by_call.get(uid, []):
                    if text in s.text and len(s.text) >= cumulative:
                        to_sugg = s.arrived - eos
                        break
            out.append(UtteranceLatency(uid, f.seq, eos, f.arrived - eos, to_sugg, f.seq == last_seq))
    return sorted(out, key=lambda u: u.end_of_speech)


def latency_report(lat: list[UtteranceLatency]) -> dict[str, Any]:
    """Distributions per utterance and per call (its last utterance), and the final lag over time."""
    last = [u for u in lat if u.last_of_call]
    thirds: list[dict[str, Any]] = []
    if lat:
        n = len(lat)
        for i in range(3):
            part = lat[i * n // 3 : (i + 1) * n // 3]
            thirds.append(
                {
                    "utterances": len(part),
                    "to_final_p50_s": distribution([u.to_final_s for u in part])["p50_s"],
                    "to_suggestion_p50_s": distribution(
                        [u.to_suggestion_s for u in part if u.to_suggestion_s is not None]
                    )["p50_s"],
                }
            )
    return {
        "per_utterance": {
            "to_transcript_final": distribution([u.to_final_s for u in lat]),
            "to_suggestion_on_console": distribution(
                [u.to_suggestion_s for u in lat if u.to_suggestion_s is not None]
            ),
            "without_suggestion": sum(1 for u in lat if u.to_suggestion_s is None),
            "final_to_suggestion": distribution(
                [u.to_suggestion_s - u.to_final_s for u in lat if u.to_suggestion_s is not None]
            ),
        },
        "per_call_last_utterance": {
            "to_transcript_final": distribution([u.to_final_s for u in last]),
            "to_suggestion_on_console": distribution(
                [u.to_suggestion_s for u in last if u.to_suggestion_s is not None]
            ),
            "without_suggestion": sum(1 for u in last if u.to_suggestion_s is None),
        },
        "by_third_of_run": thirds,
    }


def http_5xx(metrics_text: str) -> int:
    """Sum of ``cc_http_requests_total`` samples with a 5xx status in a Prometheus text page."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith("cc_http_requests_total{"):
            continue
        labels, _, value = line.rpartition("} ")
        if 'status="5' in labels:
            total += float(value)
    return int(total)


def metric_samples(metrics_text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text page → ``(sample name, labels, value)`` for every sample line."""
    out: list[tuple[str, dict[str, str], float]] = []
    for line in metrics_text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, raw = name_labels.partition("{")
        labels = {}
        for part in raw.rstrip("}").split('",'):
            key, sep, val = part.partition('="')
            if sep:
                labels[key.strip(", ")] = val.rstrip('"')
        try:
            out.append((name, labels, float(value)))
        except ValueError:
            continue
    return out


def metric_totals(metrics_text: str) -> dict[str, float]:
    """``{sample name: sum over its label sets}`` (histograms keep ``_sum`` / ``_count``)."""
    out: dict[str, float] = {}
    for name, _labels, value in metric_samples(metrics_text):
        out[name] = out.get(name, 0.0) + value
    return out


def metric_by_label(metrics_text: str, name: str, label: str) -> dict[str, float]:
    """``{label value: sum}`` of one sample name."""
    out: dict[str, float] = {}
    for n, labels, value in metric_samples(metrics_text):
        if n == name:
            key = labels.get(label, "")
            out[key] = out.get(key, 0.0) + value
    return out


def backlog_profile(lat: list[UtteranceLatency], detect_s: float, step_s: float = 1.0) -> dict[str, Any]:
    """Utterances waiting for their final transcript (VAD closed, final not yet on the console).

    An utterance is waiting from ``end_of_speech + detect_s`` (the VAD's end silence) until its final
    reached the console; sampled every ``step_s`` over the run: the speech service's final-stage queue
    as the console sees it.
    """
    spans = [(u.end_of_speech + detect_s, u.end_of_speech + u.to_final_s) for u in lat]
    if not spans:
        return {"max": 0, "mean": 0.0}
    t, end = min(a for a, _ in spans), max(b for _, b in spans)
    counts = []
    while t <= end:
        counts.append(sum(1 for a, b in spans if a <= t < b))
        t += step_s
    return {"max": max(counts), "mean": round(sum(counts) / len(counts), 2)}


def _mean(metrics: dict[str, float], histogram: str) -> float | None:
    n = metrics.get(histogram + "_count")
    return round(metrics.get(histogram + "_sum", 0.0) / n, 3) if n else None


def count_lines(path: Path, *marks: str) -> int:
    """Lines of a log that contain one of ``marks``."""
    if not path.is_file():
        return 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        return sum(1 for line in fh if any(m in line for m in marks))


def count_error_lines(path: Path) -> int:
    """Lines of a service log that report an error (``ERROR`` / ``CRITICAL`` level or a traceback)."""
    return count_lines(path, *ERROR_MARKS, "Traceback (most recent call last)")


def intake_counts(database_url: str, uniqueids: set[str] | None = None) -> dict[str, int]:
    """Intakes (menu 1 with the speech step) that ended, and how many have a transcript / suggestion."""
    from sqlalchemy import func, select

    from callcenter.db.models import Call, Suggestion, TranscriptUtterance
    from callcenter.db.session import session_scope

    with session_scope(database_url) as session:
        calls = session.scalars(select(Call).where(Call.ivr_choice == "1", Call.ended_at.is_not(None))).all()
        ids = {
            c.id: c.uniqueid
            for c in calls
            if ((c.data or {}).get("ivr") or {}).get("intake", {}).get("audio_uuid")
            and (uniqueids is None or c.uniqueid in uniqueids)
        }
        with_text = set(
            session.scalars(
                select(TranscriptUtterance.call_id)
                .where(TranscriptUtterance.call_id.in_(ids), func.length(TranscriptUtterance.text) > 0)
                .distinct()
            )
        )
        with_sugg = set(
            session.scalars(select(Suggestion.call_id).where(Suggestion.call_id.in_(ids)).distinct())
        )
        all_calls = session.scalar(select(func.count()).select_from(Call)) or 0
    return {
        "calls_in_database": int(all_calls),
        "intakes_completed": len(ids),
        "with_transcript": len(with_text),
        "with_suggestion": len(with_sugg),
    }


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _git_head() -> str | None:
    import subprocess

    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


# --------------------------------------------------------------------------- the console client


class ConsoleClient:
    """A logged-in console on ``/api/console/events`` in a thread; reconnects with its cursor."""

    def __init__(self, base: str, token: str, log: ConsoleLog) -> None:
        self.base = base
        self.token = token
        self.log = log
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="console-sse", daemon=True)
        self.error: str | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        if not self.log.hello.wait(timeout):
            raise RuntimeError(f"console event stream did not start: {self.error}")

    def _run(self) -> None:
        timeout = httpx.Timeout(10.0, read=60.0)
        while not self.stop.is_set():
            headers = {"Authorization": f"Bearer {self.token}"}
            if self.log.last_cursor:
                headers["Last-Event-ID"] = self.log.last_cursor
            try:
                with (
                    httpx.Client(timeout=timeout) as client,
                    client.stream("GET", self.base + "/api/console/events", headers=headers) as resp,
                ):
                    resp.raise_for_status()
                    parser = SSEParser()
                    for line in resp.iter_lines():
                        msg = parser.feed(line)
                        if msg is not None:
                            self.log.on_message(msg, time.time())
                        if self.stop.is_set():
                            return
            except httpx.HTTPError as exc:
                self.error = f"{exc.__class__.__name__}: {exc}"
            if not self.stop.is_set():
                self.log.reconnects += 1
                time.sleep(1.0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(20)  # the hub sends a keep-alive every 15 s at the latest


# --------------------------------------------------------------------------- the run


@dataclass
class LoadOptions:
    callers: int = 30
    duration_s: float = 600.0
    agents: int = 0  # 0: one simulated agent per caller
    talk_s: int = 3
    hold_s: int = 300
    call_timeout_s: float = 300.0
    drain_s: float = 300.0  # after the last call: wait at most this long for transcripts / suggestions
    settle_s: float = 15.0  # drained = no new final or suggestion on the console for this long
    keys: str = "1"
    database_url: str | None = None  # None: fresh SQLite in a temp dir
    postgres: bool = False  # fresh PostgreSQL database on CALLCENTER_TEST_PG_URL's server
    redis_url: str = "redis://127.0.0.1:6379/13"
    model_dir: Path | None = (
        None  # callcenter.plugins.classifier.model_dir (default: the settings', trained if missing)
    )
    log_dir: Path | None = None
    seed: int = 1
    quiet: bool = False


@dataclass
class CallerPool:
    """``n`` threads, each placing one simulated call after the other until ``deadline``."""

    client: Any  # redis.Redis
    opts: LoadOptions
    sounds: tuple[str, ...]
    numbers: tuple[str, ...]
    queue: str
    deadline: float
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    placed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _caller(self, n: int) -> None:
        from callcenter.plugins.telephony.simulator import CALLER_NAMES, SimOptions, Simulator

        k = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            with self._lock:
                index = self.placed
                self.placed += 1
            opts = SimOptions(
                count=1,
                rate=1.0,
                numbers=(self.numbers[index % len(self.numbers)],),
                keys=self.opts.keys,
                sounds=(self.sounds[index % len(self.sounds)],),
                hold_s=self.opts.hold_s,
                agents=0,
                queue=self.queue,
                timeout_s=self.opts.call_timeout_s,
                seed=self.opts.seed * 100_003 + n * 1009 + k,
                caller_names=(CALLER_NAMES[index % len(CALLER_NAMES)],),
            )
            k += 1
            try:
                res = Simulator(self.client, opts).run()
            except Exception as exc:  # a failed Originate round: count it, go on
                with self._lock:
                    self.errors.append(f"caller {n}: {exc.__class__.__name__}: {exc}")
                    self.results.append({"index": index, "lost": True, "error": str(exc)})
                time.sleep(1.0)
                continue
            with self._lock:
                for r in res:
                    r["index"] = index
                    r["caller_thread"] = n
                    self.results.append(r)

    def run(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._caller, args=(n,), name=f"caller-{n}", daemon=True)
            for n in range(self.opts.callers)
        ]
        for i, t in enumerate(threads):
            t.start()
            if i < len(threads) - 1:
                time.sleep(min(1.0, 10.0 / max(1, self.opts.callers)))  # ramp up over ≤ 10 s
        return threads


def _echo(opts: LoadOptions, msg: str) -> None:
    if not opts.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _database(opts: LoadOptions, tmp: Path) -> Iterator[str]:
    """The run's database: given, fresh PostgreSQL (dropped afterwards) or fresh SQLite."""
    if opts.database_url:
        yield opts.database_url
        return
    if not opts.postgres:
        yield f"sqlite:///{tmp / 'load.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"cc_load_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        from callcenter.db.session import get_engine, get_sessionmaker

        get_engine.cache_clear()
        get_sessionmaker.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _prepare_database(db_url: str) -> None:
    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.seed import add_user, seed_all

    migrate.upgrade(db_url)
    with session_scope(db_url) as session:
        seed_all(session)
        add_user(session, BENCH_USER, BENCH_PASSWORD, "supervisor")


def _ensure_model(model_dir: Path, opts: LoadOptions) -> None:
    if (model_dir / "models" / "current").exists():
        return
    _echo(opts, f"training the suggester into {model_dir} (first run only, about a minute)")
    from callcenter.plugins.classifier.training import train

    train(model_dir / "models", (), progress=False)


def _wait(what: str, check: Any, timeout: float, sup: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        sup.poll()
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s (see the service logs)")


def _logged(path: Path, text: str) -> bool:
    try:
        return text in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _bridge_synced(client: Any) -> bool:
    from callcenter.plugins.telephony.ami.bridge import HEALTH_KEY

    for key in client.scan_iter(f"{HEALTH_KEY}:*"):
        raw = client.get(key)
        if raw and json.loads(raw).get("synced"):
            return True
    return False


def _pipeline_ready(client: Any) -> bool:
    import redis

    from callcenter import events
    from callcenter.pipeline import GROUP

    try:
        groups = client.xinfo_groups(events.STREAM_TRANSCRIPTS)
    except redis.ResponseError:
        return False
    return any((g.get("name") in (GROUP, GROUP.encode())) for g in groups)


def _pipeline_backlog(client: Any) -> int | None:
    """Transcript entries the pipeline has not acknowledged yet (pending + not yet read)."""
    import redis

    from callcenter import events
    from callcenter.pipeline import GROUP

    try:
        for g in client.xinfo_groups(events.STREAM_TRANSCRIPTS):
            if g.get("name") in (GROUP, GROUP.encode()):
                return int(g.get("pending") or 0) + int(g.get("lag") or 0)
    except redis.ResponseError:
        return None
    return None


def run_load(opts: LoadOptions, asterisk: Any = None) -> dict[str, Any]:
    """Run the load test; returns the report. ``asterisk``: a running AsteriskHandle (tests) whose
    lock the caller holds; None = take the lock and start Asterisk here."""
    import redis

    from callcenter.config import SHARED_DIR, Settings
    from callcenter.plugins.telephony.provision import TEST_LOCK_PATH
    from callcenter.plugins.telephony.simulator import SimOptions, Simulator, install_clips
    from callcenter.supervisor import Service, Supervisor

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        log_dir = opts.log_dir or ROOT / "var" / "bench-load" / time.strftime("%Y%m%dT%H%M%S")
        log_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:  # the supervisor appends; the readiness checks read these logs
            (log_dir / f"{name}.log").unlink(missing_ok=True)
        if asterisk is None:
            TEST_LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(TEST_LOCK_PATH, "w"))
            _echo(opts, f"waiting for the Asterisk lock {TEST_LOCK_PATH}")
            fcntl.flock(lock, fcntl.LOCK_EX)  # never run against the Asterisk a test run is using
            stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        settings: Settings = asterisk.settings if asterisk is not None else Settings(mode="test")
        busy = [
            f"{name} {port}"
            for name, port in (
                ("FastAGI", settings.fastagi_port),
                ("AudioSocket", settings.speech.audiosocket_port),
            )
            if port_open("127.0.0.1", port)
        ]
        if busy:
            raise RuntimeError(f"ports already in use ({', '.join(busy)}): another stack is running")

        db_url = stack.enter_context(_database(opts, tmp))
        _echo(opts, f"database {db_url.split('@')[-1]}: migrate and seed")
        _prepare_database(db_url)
        model_dir = opts.model_dir or settings.classifier.model_dir
        _ensure_model(model_dir, opts)

        client = redis.Redis.from_url(opts.redis_url)
        stack.callback(client.close)
        client.flushdb()

        # Asterisk with the speech step on
        from callcenter.plugins.telephony.provision import AsteriskProcess, provision
        from tests.support.asterisk import AsteriskHandle

        if asterisk is None:
            _echo(opts, "Asterisk 22: provision (speech step on) and start")
            provision(settings, TelephonySettings(speech_step=True, wrapup_time_s=1, ring_timeout_s=10))
            proc = AsteriskProcess(settings)
            proc.stop()  # a leftover (we hold the lock, so no test uses it)
            proc.start()
            stack.callback(proc.stop)
            handle = AsteriskHandle(settings, proc)
        else:
            handle = asterisk
            handle.ensure_running()
            stack.callback(handle.reset_globals)
        sp = settings.speech
        handle.set_global("SPEECH_STEP", "1")
        handle.set_global("AUDIOSOCKET_ADDR", f"{sp.audiosocket_host}:{sp.audiosocket_port}")
        ast_pid = handle.process.pid()
        sounds = install_clips(SHARED_DIR / "data" / "speech" / "8k", settings.asterisk.rootfs)

        # the services, as separate processes
        api_port = free_port()
        mports = {name: free_port() for name in ("agi", "speech-service", "worker", "ami-bridge")}
        env = {
            "CALLCENTER_MODE": "test",
            "CALLCENTER_DATABASE_URL": db_url,
            "CALLCENTER_REDIS_URL": opts.redis_url,
            "CALLCENTER_API_HOST": "127.0.0.1",
            "CALLCENTER_API_PORT": str(api_port),
            "CALLCENTER_CLASSIFIER__MODEL_DIR": str(model_dir),
            "CALLCENTER_OBSERVABILITY__AGI_METRICS_PORT": str(mports["agi"]),
            "CALLCENTER_OBSERVABILITY__AMI_BRIDGE_METRICS_PORT": str(mports["ami-bridge"]),
            "CALLCENTER_OBSERVABILITY__SPEECH_METRICS_PORT": str(mports["speech-service"]),
            "CALLCENTER_OBSERVABILITY__WORKER_METRICS_PORT": str(mports["worker"]),
        }
        services = [Service(name, (), log=log_dir / f"{name}.log", env=env) for name in SERVICES]
        sup = Supervisor(services, echo=lambda m: _echo(opts, m))
        sup.start_all()
        stack.callback(sup.stop_all)
        base = f"http://127.0.0.1:{api_port}"

        def scrape(name: str) -> str:
            url = base + "/metrics" if name == "serve" else f"http://127.0.0.1:{mports[name]}/metrics"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(url, timeout=10).text
            return ""

        def api_up() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            return False

        _wait("API", api_up, 120, sup)
        _wait("AMI bridge", lambda: _bridge_synced(client), 120, sup)
        # their start-up lines, not a probe connection (it would count as a malformed AGI session)
        _wait("FastAGI", lambda: _logged(log_dir / "agi.log", "FastAGI listening on"), 60, sup)
        _wait(
            "speech service", lambda: _logged(log_dir / "speech-service.log", "server listening on"), 180, sup
        )
        _wait("worker pipeline", lambda: _pipeline_ready(client), 120, sup)

        token = httpx.post(
            base + "/api/auth/token", data={"username": BENCH_USER, "password": BENCH_PASSWORD}, timeout=10
        ).json()["access_token"]
        console_log = ConsoleLog()
        console = ConsoleClient(base, token, console_log)
        console.start()
        stack.callback(console.close)

        n_agents = opts.agents or opts.callers
        agents_sim = Simulator(
            client, SimOptions(agents=n_agents, talk_s=opts.talk_s, queue=settings.asterisk.queue)
        )
        agents_sim.add_agents()
        if asterisk is not None:  # an Asterisk we do not stop: take our queue members out again
            stack.callback(agents_sim.remove_agents)

        # the load
        _echo(opts, f"{opts.callers} callers for {opts.duration_s:.0f} s ({n_agents} simulated agents)")
        cpu0 = {svc.name: cpu_seconds(svc.proc.pid) if svc.proc else None for svc in services}
        cpu0["asterisk"] = cpu_seconds(ast_pid) if ast_pid else None
        started_wall, started = time.time(), time.monotonic()
        pool = CallerPool(
            client,
            opts,
            sounds,
            tuple(settings.asterisk.hotline_numbers),
            settings.asterisk.queue,
            deadline=started + opts.duration_s,
        )
        threads = pool.run()
        samples: list[dict[str, Any]] = []
        next_sample = 0.0
        while any(t.is_alive() for t in threads):
            sup.poll()
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + 10.0
                finals, suggs = console_log.snapshot()
                samples.append(
                    {
                        "t_s": round(now - started),
                        "calls_done": len(pool.results),
                        "in_flight": pool.placed - len(pool.results),
                        "finals_seen": len(finals),
                        "suggestions_seen": len(suggs),
                        "pipeline_backlog": _pipeline_backlog(client),
                        **{
                            key: speech_now.get(name)
                            for speech_now in [metric_totals(scrape("speech-service"))]
                            for key, name in (
                                ("asr_active_sessions", "cc_asr_active_sessions"),
                                ("asr_final_backlog_s", "cc_asr_final_backlog_seconds"),
                            )
                        },
                        "load1": round(os.getloadavg()[0], 2),
                    }
                )
                if not opts.quiet:
                    _echo(opts, json.dumps(samples[-1]))
            time.sleep(0.5)
        calls_ended = time.monotonic()

        # drain: transcripts and suggestions of the last calls
        uids = {str(r["uniqueid"]) for r in pool.results if r.get("uniqueid")}
        drain_deadline = time.monotonic() + opts.drain_s
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < drain_deadline:
            sup.poll()
            counts = intake_counts(db_url, uids)
            finals, suggs = console_log.snapshot()
            if len(finals) + len(suggs) != seen:  # the speech service is still finishing utterances
                seen, quiet_since = len(finals) + len(suggs), time.monotonic()
            on_console = {s.uniqueid for s in suggs} & uids
            if (
                time.monotonic() - quiet_since >= opts.settle_s
                and not _pipeline_backlog(client)
                and counts["with_suggestion"] >= counts["with_transcript"]
                and len(on_console) >= counts["with_suggestion"]
            ):
                break
            time.sleep(1.0)
        drained = time.monotonic()
        time.sleep(1.0)

        cpu1 = {svc.name: cpu_seconds(svc.proc.pid) if svc.proc else None for svc in services}
        cpu1["asterisk"] = cpu_seconds(ast_pid) if ast_pid else None
        metrics_text = ""
        with contextlib.suppress(httpx.HTTPError):
            metrics_text = httpx.get(base + "/metrics", timeout=10).text
        speech_page, worker_page, agi_page = scrape("speech-service"), scrape("worker"), scrape("agi")
        restarts = {svc.name: svc.restarts for svc in services}
        finals, suggs = console_log.snapshot()
        counts = intake_counts(db_url, uids)
        elapsed = calls_ended - started
        console.close()

    from callcenter.plugins.speech.vad import VadConfig

    results = pool.results
    speech_m, worker_m = metric_totals(speech_page), metric_totals(worker_page)
    lat = match_latencies(finals, suggs, VadConfig().tail_s)
    wall: dict[str, float | None] = {}
    for k, v in cpu0.items():
        end = cpu1.get(k)
        wall[k] = None if v is None or end is None else end - v
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "load_at_end": os.getloadavg()},
        "commit": _git_head(),
        "database": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "callers": opts.callers,
        "duration_s": opts.duration_s,
        "agents": n_agents,
        "talk_s": opts.talk_s,
        "calls": {
            "placed": pool.placed,
            "completed": len(results),
            "answered": sum(1 for r in results if r.get("answered")),
            "lost": sum(1 for r in results if r.get("lost")),
            "errors": sum(1 for r in results if r.get("error")),
            "placed_per_min": round(pool.placed / (opts.duration_s / 60), 1) if opts.duration_s > 0 else None,
            "lost_calls": [
                {k: r.get(k) for k in ("uniqueid", "disposition", "hangup_cause", "error")}
                for r in results
                if r.get("lost")
            ][:20],
            "elapsed_s": round(elapsed, 1),
            "drain_s": round(drained - calls_ended, 1),
            "queue_wait": distribution(
                [float(r["queue_wait"]) for r in results if r.get("queue_wait") is not None]
            ),
        },
        "server_errors": {
            "api_http_5xx": http_5xx(metrics_text) if metrics_text else None,
            "error_log_lines": {name: count_error_lines(log_dir / f"{name}.log") for name in SERVICES},
            "service_restarts": restarts,
            "caller_thread_errors": pool.errors[:10],
        },
        "intakes": {
            **counts,
            "with_suggestion_on_console": len({s.uniqueid for s in suggs} & uids),
        },
        "console": {
            "events": console_log.events,
            "transcript_finals": len(finals),
            "suggestions": len(suggs),
            "reconnects": console_log.reconnects,
        },
        "end_of_speech": latency_report(lat),
        "speech_final_stage": {
            "utterances_waiting_for_final": backlog_profile(lat, VadConfig().end_silence_s),
            "asr_final_latency_mean_s": _mean(speech_m, "cc_asr_final_latency_seconds"),
            "asr_sessions_by_reason": metric_by_label(speech_page, "cc_asr_sessions_total", "reason"),
            # AudioSocket connections refused (max_sessions, final-queue backlog, ...): those callers
            # skip the speech step
            "asr_sessions_refused": count_lines(log_dir / "speech-service.log", "audiosocket: refusing"),
            "asr_refused_by_reason": metric_by_label(
                speech_page, "cc_asr_connections_refused_total", "reason"
            ),
            "asr_degraded_s": metric_by_label(speech_page, "cc_asr_degraded_seconds_total", "kind"),
            "asr_final_backlog_max_s": max(
                (x["asr_final_backlog_s"] for x in samples if x.get("asr_final_backlog_s") is not None),
                default=None,
            ),
            "asr_active_sessions_max": max(
                (x["asr_active_sessions"] for x in samples if x.get("asr_active_sessions") is not None),
                default=None,
            ),
            "finals_per_min_during_load": round(
                sum(1 for f in finals if f.arrived <= started_wall + elapsed) / (elapsed / 60), 1
            )
            if elapsed > 0
            else None,
            "asr_errors": metric_by_label(speech_page, "cc_asr_errors_total", "stage"),
            "asr_events_dropped": speech_m.get("cc_asr_events_dropped_total"),
        },
        "pipeline": {
            "suggestion_latency_mean_s": _mean(worker_m, "cc_suggestion_latency_seconds"),
            "suggestion_errors": worker_m.get("cc_suggestion_errors_total"),
        },
        "agi_sessions_by_outcome": metric_by_label(agi_page, "cc_agi_sessions_total", "outcome"),
        "cpu_seconds": {k: None if v is None else round(v, 1) for k, v in wall.items()},
        "cpu_share_of_machine": {
            k: None if v is None else round(v / (elapsed * (os.cpu_count() or 1)), 3) for k, v in wall.items()
        },
        "samples": samples,
        "log_dir": str(log_dir),
        "started": datetime.fromtimestamp(started_wall, UTC).isoformat(timespec="seconds"),
    }
    (log_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    (log_dir / "latencies.json").write_text(json.dumps([asdict(u) for u in lat]))
    (log_dir / "calls.json").write_text(json.dumps(results, ensure_ascii=False))
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callers", type=int, default=30, help="simulated callers on the line at once")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of load (new calls)")
    ap.add_argument("--agents", type=int, default=0, help="simulated agents (0 = one per caller)")
    ap.add_argument("--talk", type=int, default=3, help="seconds a simulated agent talks")
    ap.add_argument("--drain", type=float, default=300.0, help="max seconds to wait for the last suggestions")
    ap.add_argument("--database-url", default=None, help="an empty database (default: fresh SQLite)")
    ap.add_argument(
        "--postgres", action="store_true", help="a fresh PostgreSQL database (CALLCENTER_TEST_PG_URL)"
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="callcenter.plugins.classifier.model_dir (default: settings)",
    )
    ap.add_argument(
        "--log-dir", type=Path, default=None, help="service logs and report (default var/bench-load/)"
    )
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("CALLCENTER_MODE", "test")

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    opts = LoadOptions(
        callers=args.callers,
        duration_s=args.duration,
        agents=args.agents,
        talk_s=args.talk,
        drain_s=args.drain,
        database_url=args.database_url,
        postgres=args.postgres,
        redis_url=args.redis_url,
        model_dir=args.model_dir,
        log_dir=args.log_dir,
        quiet=args.quiet,
    )
    report = run_load(opts)
    if args.quiet:
        report.pop("samples")
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
