"""Logs and per-process Prometheus metrics (日志与监控指标).

* :func:`setup_logging` — one handler on the root logger, either the human text format or one JSON
  object per line (``ts``, ``level``, ``logger``, ``message``, ``service``, ``node``, ``pid``, any
  ``extra={...}`` fields such as ``uniqueid`` / ``case_number`` / ``call_id``, ``exception``).
* :func:`install_access_log_redaction` — the access log (``uvicorn.access``, text and JSON alike) shows
  ``token=[redacted]`` instead of the JWT of ``?token=…`` (SSE streams authenticate that way).
* :func:`start_metrics_server` — each long-running process other than the API (FastAGI, AMI bridge,
  speech service, worker) serves the default ``prometheus_client`` registry on its own port; the
  API serves its own registry at ``/metrics`` (``callcenter.metrics``) and includes the counters
  of :data:`API_SHARED`.
* The metric objects of every process, all prefixed ``cc_``. They live in the process that sees the
  event, so a figure is per process: Prometheus sums over the scraped processes.

Counters whose event is part of a database transaction (case transitions, callback outcomes) are
counted with :func:`count_on_commit`, so a rolled-back change (a lost race, a refused savepoint) is
never counted.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, SessionTransaction

    from callcenter.config import Settings

log = logging.getLogger(__name__)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Subcommand → service name in logs and metrics (the rest use the subcommand itself).
SERVICE_NAMES = {"serve": "api", "speech-service": "speech"}

# --------------------------------------------------------------------------- logs


def service_for_argv(argv: list[str]) -> str:
    """The service name of a ``callcenter`` command line (first non-option word after the program)."""
    for arg in argv[1:]:
        if not arg.startswith("-"):
            return SERVICE_NAMES.get(arg, arg)
    return "callcenter"


def json_formatter(service: str, node: str) -> logging.Formatter:
    """The JSON-lines formatter (python-json-logger): one object per record, UTF-8 text kept as is."""
    from pythonjsonlogger.json import JsonFormatter

    class _Formatter(JsonFormatter):
        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            ts = log_data.pop("ts", None)
            return {"ts": ts, **log_data}  # the time first, for people reading the raw lines

    return _Formatter(
        ["levelname", "name", "message", "process"],
        rename_fields={
            "levelname": "level",
            "name": "logger",
            "process": "pid",
            "exc_info": "exception",
            "stack_info": "stack",
        },
        static_fields={"service": service, "node": node},
        timestamp="ts",
        json_ensure_ascii=False,
    )


#: ``token=`` / ``access_token=`` query values (case-insensitive), up to the next ``&``, space or quote.
_TOKEN_IN_QUERY = re.compile(r"([?&](?:access_)?token=)[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_query_tokens(text: str) -> str:
    """``/events?token=eyJ…&x=1`` → ``/events?token=[redacted]&x=1``."""
    return _TOKEN_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Removes query-string tokens from a record's message and arguments (uvicorn passes the path with
    its query string as an argument of the access log line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg.lower():
            record.msg = redact_query_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact_query_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


#: Loggers that print request URLs.
ACCESS_LOGGERS = ("uvicorn.access",)


def install_access_log_redaction() -> None:
    """Put :class:`RedactTokens` on the access loggers (idempotent; survives uvicorn's dictConfig,
    which replaces handlers, not logger filters)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class _OurHandler(logging.StreamHandler):
    """Marks the handler :func:`setup_logging` installed (replaced on a second call)."""


def setup_logging(settings: Settings, service: str, *, stream: Any = None) -> logging.Handler:
    """Configure the root logger of this process (``settings.observability.log_format`` text|json).

    Idempotent: a second call replaces the handler of the first. With JSON, Python warnings are
    routed through logging too, so every line on stderr that the process logs is one JSON object.
    """
    obs = settings.observability
    handler = _OurHandler(stream or sys.stderr)
    if obs.log_format == "json":
        handler.setFormatter(json_formatter(service, settings.asterisk.node))
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _OurHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    install_access_log_redaction()
    level = logging.getLevelName(obs.log_level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    return handler


# --------------------------------------------------------------------------- metrics server

_servers: dict[int, Any] = {}
_servers_lock = threading.Lock()


def metrics_port(settings: Settings, service: str) -> int:
    """The metrics port of ``service`` (0 = off; the API serves ``/metrics`` itself)."""
    obs = settings.observability
    return {
        "agi": obs.agi_metrics_port,
        "ami-bridge": obs.ami_bridge_metrics_port,
        "speech": obs.speech_metrics_port,
        "worker": obs.worker_metrics_port,
    }.get(SERVICE_NAMES.get(service, service), 0)


def start_metrics_server(settings: Settings, service: str, *, port: int | None = None) -> int | None:
    """Serve the default registry on ``metrics_host``:port of ``service``; returns the port or None.

    Port 0 in the settings means off. A port that is taken is logged as an error and the service
    runs on without metrics (it must not die because of its metrics).
    """
    service = SERVICE_NAMES.get(service, service)
    port = metrics_port(settings, service) if port is None else port
    if port <= 0:
        log.info("metrics of %s are off (port 0)", service)
        return None
    host = settings.observability.metrics_host
    SERVICE_INFO.labels(service, settings.asterisk.node).set(1)
    try:
        server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        log.error(
            "metrics of %s: cannot listen on %s:%d (%s); running without /metrics — set "
            "CALLCENTER_OBSERVABILITY__%s_METRICS_PORT to a free port",
            service,
            host,
            port,
            exc,
            service.upper().replace("-", "_"),
            extra={"metrics_port": port},
        )
        return None
    bound = int(server.server_address[1])
    with _servers_lock:
        _servers[bound] = server
    log.info("metrics of %s on http://%s:%d/metrics", service, host, bound, extra={"metrics_port": bound})
    return bound


def stop_metrics_server(port: int) -> None:
    """Stop a server started by :func:`start_metrics_server` (tests, clean shutdown)."""
    with _servers_lock:
        server = _servers.pop(port, None)
    if server is not None:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- count on commit

_PENDING = "cc_metrics_pending"
_listeners_installed = False


def count_on_commit(session: Session, counter: Any, amount: float = 1.0) -> None:
    """Increment ``counter`` (a labelled child) when the session's outer transaction commits.

    A savepoint that rolls back drops what was counted inside it; a rollback or a close without
    commit drops everything.
    """
    if not _listeners_installed:
        _install_listeners()
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((tx, counter, amount))


def _within(tx: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _count_committed(session: Session) -> None:
    for _tx, counter, amount in session.info.pop(_PENDING, ()):
        counter.inc(amount)


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [p for p in pending if not _within(p[0], previous_transaction)]


def _drop_unfinished(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outer transaction ended without after_commit: discard
        session.info.pop(_PENDING, None)


def _install_listeners() -> None:
    """Hook the session events once (imported lazily: ``callcenter --help`` stays fast)."""
    global _listeners_installed
    from sqlalchemy import event
    from sqlalchemy.orm import Session as SessionClass

    with _servers_lock:
        if _listeners_installed:
            return
        event.listen(SessionClass, "after_commit", _count_committed)
        event.listen(SessionClass, "after_soft_rollback", _drop_rolled_back)
        event.listen(SessionClass, "after_transaction_end", _drop_unfinished)
        _listeners_installed = True


# --------------------------------------------------------------------------- metric objects

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
_WAIT_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)

SERVICE_INFO = Gauge(
    "cc_service_info",
    "本进程的服务名与节点 (service and node of this process; always 1)",
    ["service", "node"],
)

# AMI bridge (wired in callcenter/telephony/ami by its owner)
AMI_EVENTS = Counter("cc_ami_events", "收到的 AMI 事件数 (AMI events received, by event name)", ["event"])
AMI_CONNECTED = Gauge("cc_ami_connected", "AMI 连接状态 (1 = logged in to Asterisk, 0 = disconnected)")
AMI_RECONNECTS = Counter("cc_ami_reconnects", "AMI 重连次数 (AMI reconnections after a lost connection)")
QUEUE_WAIT_SECONDS = Histogram(
    "cc_queue_wait_seconds",
    "排队等待时长 (seconds a caller waited in the queue, observed when the call leaves the queue)",
    ["queue"],
    buckets=_WAIT_BUCKETS,
)
CALLS_STARTED = Counter("cc_calls_started", "呼入/呼出开始的通话数 (calls started)", ["direction"])
CALLS_ENDED = Counter(
    "cc_calls_ended",
    "结束的通话数 (calls ended, by direction and disposition: answered, abandoned, ...)",
    ["direction", "disposition"],
)

# FastAGI IVR
AGI_SESSIONS = Counter(
    "cc_agi_sessions",
    "FastAGI 会话数 (IVR sessions by script and outcome: completed, hangup, error, timeout, ...)",
    ["script", "outcome"],
)
AGI_ACTIVE = Gauge("cc_agi_active_sessions", "正在进行的 FastAGI 会话 (IVR sessions in progress)")
AGI_SESSION_SECONDS = Histogram(
    "cc_agi_session_seconds",
    "FastAGI 会话时长 (IVR session duration by script, including the caller's time)",
    ["script"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
AGI_COMMAND_SECONDS = Histogram(
    "cc_agi_command_seconds",
    "AGI 控制命令往返时延 (round trip of AGI control commands; prompts and keypad input excluded)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

# speech service
ASR_FINAL_LATENCY = Histogram(
    "cc_asr_final_latency_seconds",
    "识别时延: 说话结束 (VAD 断句) 到最终转写 (end of speech detected → final transcript), by engine",
    ["engine"],
    buckets=_LATENCY_BUCKETS,
)
ASR_PARTIAL_LATENCY = Histogram(
    "cc_asr_partial_latency_seconds",
    "中间结果时延: 一段音频送入到中间结果产出 (audio chunk in → partial transcript out), by engine",
    ["engine"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)
ASR_AUDIO_SECONDS = Counter(
    "cc_asr_audio_seconds", "已处理的音频秒数 (seconds of call audio processed)", ["mode"]
)
ASR_SESSIONS = Counter(
    "cc_asr_sessions",
    "转写会话数 (AudioSocket sessions ended, by mode intake|spy and reason caller_done, hangup, ...)",
    ["mode", "reason"],
)
ASR_ACTIVE = Gauge("cc_asr_active_sessions", "正在转写的会话 (AudioSocket sessions in progress)")
ASR_ERRORS = Counter(
    "cc_asr_errors",
    "识别错误 (recognition failures: stage stream = partial pass/VAD, final = final decoding)",
    ["stage"],
)
ASR_EVENTS_DROPPED = Counter(
    "cc_asr_events_dropped", "未能发布到 Redis 的转写事件 (transcript events not published to Redis)"
)
ASR_REFUSED = Counter(
    "cc_asr_connections_refused",
    "拒绝的 AudioSocket 连接 (AudioSocket connections refused or cut in their handshake, by reason: "
    "max_sessions, per_peer, pending_per_peer, not_allowed, handshake_timeout, backlog)",
    ["reason"],
)
ASR_FINAL_BACKLOG = Gauge(
    "cc_asr_final_backlog_seconds",
    "待解码的最终识别音频秒数 (seconds of ended utterances waiting in the final queue)",
)
ASR_SPECULATIVE = Counter(
    "cc_asr_speculative_finals",
    "推测解码 (final decodes started during the end-of-utterance silence: hit = kept, miss = speech resumed)",
    ["outcome"],
)
ASR_DEGRADED = Counter(
    "cc_asr_degraded_seconds",
    "降级处理的音频秒数 (load shedding, seconds of audio: partial_skipped = no partial pass, "
    "cheap_final = final decoded greedy under a long final queue)",
    ["kind"],
)

# transcript → suggestion pipeline (worker)
SUGGESTION_LATENCY = Histogram(
    "cc_suggestion_latency_seconds",
    "辅助受理时延: 转写事件到建议入库 (transcript event published → suggestion stored)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
)
SUGGESTION_CONFIDENCE = Histogram(
    "cc_suggestion_confidence",
    "建议置信度 (confidence of the stored suggestions)",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
SUGGESTION_ERRORS = Counter(
    "cc_suggestion_errors", "处理失败的转写事件 (transcript events whose suggestion failed; retried)"
)

# cases and callbacks (API and worker)
CASE_TRANSITIONS = Counter(
    "cc_case_transitions",
    "工单流转次数 (committed case workflow actions, by action and from/to status)",
    ["action", "from_status", "to_status"],
)
CALLBACK_OUTCOMES = Counter(
    "cc_callback_outcomes",
    "回拨/回访结果 (callback and return-visit attempts finished, by kind, outcome and result)",
    ["kind", "outcome", "result"],
)

#: Counters the API process also records (callbacks and cases change through the API too).
API_SHARED: tuple[Collector, ...] = (CASE_TRANSITIONS, CALLBACK_OUTCOMES)


def register_all(registry: Any, collectors: Iterable[Collector]) -> None:
    """Register ``collectors`` in another registry (the API's own)."""
    for c in collectors:
        registry.register(c)
