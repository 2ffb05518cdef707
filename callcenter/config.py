"""Typed configuration (配置).

Defaults are layered under an optional settings file (``CALLCENTER_CONFIG_FILE``, TOML or env format)
and environment variables prefixed ``CALLCENTER_`` (nested with ``__``, e.g.
``CALLCENTER_AMI__SECRET``). Secrets must be set explicitly and pass :mod:`callcenter.secret_policy`
unless ``mode`` is ``demo`` (random secrets generated once per installation) or ``test``
(deterministic values).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from callcenter.domain.callbacks import FollowUp, SurveyPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
SHARED_DIR = PROJECT_ROOT.parent / "shared"


class AMISettings(BaseModel):
    """Asterisk Manager Interface connection (AMI)."""

    host: str = Field(
        default="127.0.0.1",
        description="Address of the Asterisk Manager Interface the AMI bridge connects to.",
    )
    port: int = Field(default=5038, description="AMI TCP port (rendered into `manager.conf`).")
    username: str = Field(
        default="callcenter",
        description="AMI user rendered into `manager.conf` and used by the AMI bridge.",
    )
    secret: str = Field(
        default="",
        description=(
            "AMI password; required in production mode and checked by the secrets policy (12+ "
            "characters, no default or demo value, no common words, no padding; see "
            "docs/operations.md). Demo mode generates one per installation under `security.secrets_dir`."
        ),
    )
    reconnect_min_s: float = Field(
        default=0.5,
        description=(
            "First pause of the AMI bridge before reconnecting after a lost connection (doubles each try)."
        ),
    )
    reconnect_max_s: float = Field(
        default=10.0,
        description="Longest pause between AMI reconnection attempts.",
    )


class AsteriskSettings(BaseModel):
    """Where the Asterisk 22 root filesystem lives and how it is run."""

    rootfs: Path = Field(
        default=VAR_DIR / "asterisk" / "rootfs",
        description=(
            "Debian root filesystem (chroot) with Asterisk 22, built by `callcenter asterisk provision`."
        ),
    )
    conf_dir: Path = Field(
        default=PROJECT_ROOT / "asterisk_conf",
        description="Asterisk configuration templates and recordings rendered into the chroot.",
    )
    debian_suite: str = Field(
        default="sid",
        description="Debian suite the Asterisk chroot is bootstrapped from.",
    )
    sip_port: int = Field(default=5060, description="SIP (PJSIP) UDP port of Asterisk.")
    hotline_numbers: list[str] = Field(
        default_factory=lambda: ["12345", "96010"],
        description="Dialled numbers (DIDs) routed into the hotline IVR.",
    )
    queue: str = Field(default="hotline", description="Name of the app_queue queue agents answer.")
    outbound_caller_id: str = Field(
        default="12345",
        description="Caller ID shown on callbacks and return visits (回访).",
    )
    node: str = Field(
        default="pbx1",
        description=(
            "Name of this Asterisk node (`systemname`: prefixes channel uniqueids, tags call "
            "rows and queue state); every node of a multi-node center needs its own name and "
            "its own AMI bridge."
        ),
    )

    @field_validator("node")
    @classmethod
    def _valid_node(cls, value: str) -> str:
        from callcenter.domain.nodes import validate_node

        return validate_node(value)


class TelephonySettings(BaseModel):
    """Dialplan and queue knobs rendered into Asterisk by ``callcenter asterisk provision`` (电话).

    The ``agi_*`` settings are the limits of the FastAGI IVR server (``callcenter agi``).
    """

    speech_step: bool = Field(
        default=True,
        description="Ask new-request callers to describe the matter (描述诉求) to the speech service.",
    )
    business_hours: str = Field(
        default="00:00-23:59",
        description="Hours the hotline queue is staffed (HH:MM-HH:MM); outside them callers hear a notice.",
    )
    business_days: str = Field(
        default="mon-sun",
        description="Days the hotline queue is staffed (Asterisk GotoIfTime day range, e.g. `mon-fri`).",
    )
    queue_max_wait_s: int = Field(
        default=300, ge=1, description="Longest wait in the queue before the caller is offered a callback."
    )
    ring_timeout_s: int = Field(default=15, ge=1, description="Seconds an agent's phone rings per attempt.")
    wrapup_time_s: int = Field(
        default=2,
        ge=0,
        description="After-call work (话后处理) in seconds before the agent gets the next call.",
    )
    record_calls: bool = Field(default=False, description="Record answered calls (MixMonitor).")
    sim_citizen_keys: str = Field(
        default="",
        description=(
            "Keypad answers of the simulated citizen (`[sim-citizen]`, global `SIM_KEYS_ALL`) for numbers "
            "without their own script, e.g. `1|1` (resolved, satisfied) so the demo's return visits "
            "complete; empty outside simulations. Only 0-9 * # and |."
        ),
    )
    agent_extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["8101", "8102", "8103", "8104"],
        description=(
            "Hard SIP phone extensions of agents rendered as pjsip endpoints (env: comma-separated); the "
            "browser softphone's extensions are `softphone.extensions`."
        ),
    )
    max_calls: int = Field(
        default=500,
        ge=1,
        description="Asterisk `maxcalls`: simultaneous channels before new calls are refused.",
    )
    agi_max_sessions: int = Field(
        default=256,
        ge=1,
        description="FastAGI: connections served at once; more are closed at once (the caller is queued).",
    )
    agi_env_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "FastAGI: total time a connection has to send its whole AGI environment (Asterisk sends it in "
            "one write); a slower peer is cut off, however it spreads its bytes."
        ),
    )
    agi_idle_timeout_s: float = Field(
        default=180.0,
        gt=0,
        description="FastAGI: longest wait for one answer of Asterisk during a session (prompts, keypad).",
    )
    agi_max_pending_per_peer: int = Field(
        default=32,
        ge=0,
        description=(
            "FastAGI: connections from one address still sending their AGI environment; more are refused "
            "(a slow sender holds at most this many slots, each for `agi_env_timeout_s`). 0 = no limit."
        ),
    )
    agi_max_sessions_per_peer: int = Field(
        default=0,
        ge=0,
        description=(
            "FastAGI: connections open from one address (0 = only `agi_max_sessions`); with several "
            "Asterisk nodes on one FastAGI server, the calls one node may carry."
        ),
    )
    agi_allowed_peers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "FastAGI: addresses or networks allowed to connect (env: comma-separated, e.g. "
            "`10.0.0.5,10.0.1.0/24`); empty = any. Set it to the Asterisk nodes in production."
        ),
    )

    @field_validator("agent_extensions", "agi_allowed_peers", mode="before")
    @classmethod
    def _split_extensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [x.strip() for x in value.split(",") if x.strip()]
        return value

    @field_validator("agi_allowed_peers")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or network: {item!r}") from exc
        return value


class SoftphoneSettings(BaseModel):
    """Browser softphone of the console (网页软电话): WebRTC endpoints over secure WebSocket.

    Each extension listed here is a WebRTC endpoint (pjsip over WSS, DTLS-SRTP, ICE) instead of a
    hard SIP phone; its password is issued at each console login (`callcenter.plugins.softphone`).
    """

    extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["8001", "8002", "8003", "8004", "8009"],
        description=(
            "Extensions served by the browser softphone (env: comma-separated); they are not rendered "
            "as hard-phone endpoints even when listed in `telephony.agent_extensions`."
        ),
    )
    wss_bind: str = Field(
        default="127.0.0.1",
        description="Address Asterisk's HTTPS/WSS server binds (`0.0.0.0` when browsers reach it directly).",
    )
    wss_port: int = Field(default=8189, description="TLS port of Asterisk's secure WebSocket (SIP over WSS).")
    http_port: int = Field(
        default=8088,
        description="Plain HTTP port of Asterisk's HTTP server (loopback only, needed to run TLS).",
    )
    ws_url: str = Field(
        default="",
        description=(
            "WebSocket URL browsers connect to (e.g. `wss://pbx.example.cn:8189/ws`); empty = "
            "`wss://<host of the console page>:<wss_port>/ws`."
        ),
    )
    sip_domain: str = Field(
        default="",
        description="SIP domain of the browser's address of record; empty = the host of the console page.",
    )
    media_address: str = Field(
        default="",
        description=(
            "Address Asterisk announces for WebRTC media (ICE); empty = the first non-loopback address of "
            "the host (browsers gather no loopback candidates)."
        ),
    )
    credential_ttl_s: int = Field(
        default=12 * 3600,
        ge=60,
        description="Lifetime of a softphone password issued at login; a new login issues a new one.",
    )
    auto_answer: bool = Field(
        default=False, description="Default of the console's auto-answer switch (自动应答) for agents."
    )

    @field_validator("extensions", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [x.strip() for x in value.split(",") if x.strip()]
        return value

    @field_validator("extensions")
    @classmethod
    def _digits(cls, value: list[str]) -> list[str]:
        for ext in value:
            if not ext.isdigit():
                raise ValueError(f"softphone extension {ext!r} must be digits")
        return value


class RecordingSettings(BaseModel):
    """Call recordings (通话录音): where they are kept, how long, who may hear them."""

    enabled: bool = Field(
        default=True,
        description="Record every answered call (MixMonitor, both legs), linked to the call and its case.",
    )
    root: Path = Field(
        default=VAR_DIR / "recordings",
        description=(
            "Storage root of recordings (moved there from the Asterisk spool after hangup, "
            "`YYYY/MM/DD/<uniqueid>.wav`); include it in backups."
        ),
    )
    retention_days: int = Field(
        default=180,
        ge=1,
        description="Days a recording is kept; older files are deleted by the retention loop (row kept).",
    )
    listen_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["supervisor", "admin"],
        description="Roles allowed to play recordings (env: comma-separated); every playback is audited.",
    )
    sweep_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the recordings loop collects finished files and applies retention.",
    )
    transcribe_after_hangup: bool = Field(
        default=False,
        description=(
            "Transcribe each party of a recorded call after hangup (faster-whisper) when live whole-call "
            "transcription was off or did not keep up; costs about the call's length in CPU per party."
        ),
    )

    @field_validator("listen_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [x.strip() for x in value.split(",") if x.strip()]
        return value


class SpeechSettings(BaseModel):
    """Speech recognition (语音识别) models and service."""

    models_dir: Path = Field(
        default=VAR_DIR / "models",
        description="Folder of installed speech models (`callcenter models install`).",
    )
    audiosocket_host: str = Field(
        default="127.0.0.1",
        description="Address of the AudioSocket speech service (Asterisk streams call audio there).",
    )
    audiosocket_port: int = Field(default=9092, description="AudioSocket TCP port.")
    audiosocket_max_sessions: int = Field(
        default=64,
        ge=1,
        description=(
            "AudioSocket: connections reading audio (or in their handshake) at once; one more is closed "
            "at once and the caller skips the speech step. A caller's slot is freed when their audio "
            "ends; the finals still to decode wait in the final queue."
        ),
    )
    audiosocket_handshake_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description=(
            "AudioSocket: total time a connection has to send its UUID frame (Asterisk sends it at "
            "once); a slower peer is cut off, however it spreads its bytes."
        ),
    )
    audiosocket_min_audio_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "AudioSocket: least audio an intake session must deliver, as a share of real time (Asterisk "
            "sends 1.0); a slower sender is closed (`slow_audio`). 0 = no minimum. Spy sessions "
            "(whole-call transcription, mapped by the worker) are exempt."
        ),
    )
    audiosocket_min_audio_grace_s: float = Field(
        default=3.0,
        gt=0,
        description="AudioSocket: seconds a new session may send nothing before the minimum rate applies.",
    )
    audiosocket_min_audio_window_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "AudioSocket: most wall time a burst of audio earns ahead (the minimum rate is held over "
            "about this window: a sender cannot bank a minute of audio and then trickle)."
        ),
    )
    audiosocket_max_pending_per_peer: int = Field(
        default=16,
        ge=0,
        description=(
            "AudioSocket: connections from one address still in their handshake; more are refused "
            "(a slow sender holds at most this many slots, each for `audiosocket_handshake_timeout_s`). "
            "0 = no limit."
        ),
    )
    audiosocket_max_sessions_per_peer: int = Field(
        default=0,
        ge=0,
        description=(
            "AudioSocket: connections open from one address (0 = only `audiosocket_max_sessions`); with "
            "several Asterisk nodes on one speech service, the calls one node may stream."
        ),
    )
    audiosocket_allowed_peers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "AudioSocket: addresses or networks allowed to connect (env: comma-separated); empty = any. "
            "Set it to the Asterisk nodes in production."
        ),
    )
    partial_engine: str = Field(
        default="vosk",
        description="Engine for live partial transcripts (`vosk`, `whisper` or `none`).",
    )
    final_engine: str = Field(
        default="whisper",
        description="Engine for the final transcript of each utterance (`whisper` or `vosk`).",
    )
    max_utterance_s: float = Field(
        default=120.0,
        description=(
            "Longest intake description (描述诉求) in seconds; then the speech service ends the "
            "session and the call goes on to the queue."
        ),
    )
    workers: int = Field(
        default=0,
        description="Recognition worker processes of the speech service (0 = number of cores).",
    )
    speculative_finals: bool = Field(
        default=True,
        description=(
            "Start an utterance's final decode during its end-of-utterance silence and keep it if the "
            "silence holds (lower end-of-speech → final latency); only when the final queue is idle."
        ),
    )
    final_batch: int = Field(
        default=4,
        ge=0,
        description=(
            "Finals of up to this many waiting utterances (of any calls) decoded in one Whisper call, "
            "with the encoder window cut to the longest of them; 0 = one `transcribe()` per utterance "
            "on Whisper's full 30 s window (the behaviour before)."
        ),
    )
    final_min_window_s: float = Field(
        default=10.0,
        ge=5,
        description=(
            "Shortest Whisper encoder window of the batched final decode (seconds; 30 or more = Whisper's "
            "trained 30 s window). The 10 s default costs about 2.5× less CPU and half the end-of-speech → "
            "final latency of 30 s; on the shared 8 kHz clips it scored 13.3 % CER against 9.6 % at 30 s "
            "(3 characters of 80; within 1 character on the 374-character unreferenced set): see "
            "docs/benchmarks.md."
        ),
    )
    final_queue_shed_partials_s: float = Field(
        default=20.0,
        ge=0,
        description=(
            "Final queue: seconds of ended speech waiting for a final decode above which sessions skip "
            "live partials (the cores go to finals; no final is dropped)."
        ),
    )
    final_queue_cheap_after_s: float = Field(
        default=45.0,
        ge=0,
        description=(
            "Final queue: backlog (seconds of speech) above which finals are decoded greedily (beam 1) "
            "until it is short again."
        ),
    )
    final_queue_max_backlog_s: float = Field(
        default=900.0,
        gt=0,
        description=(
            "Final queue: backlog (seconds of speech) above which new AudioSocket connections are refused "
            "(those callers skip the speech step); running sessions are never cut."
        ),
    )
    whole_call: bool = Field(
        default=False,
        description=(
            "Transcribe whole agent conversations (通话全程转写): when an agent answers, the worker "
            "starts a ChanSpy → AudioSocket leg on the caller's channel. Costs one recognition "
            "stream per talking agent."
        ),
    )

    @field_validator("audiosocket_allowed_peers", mode="before")
    @classmethod
    def _split_peers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [x.strip() for x in value.split(",") if x.strip()]
        return value

    @field_validator("audiosocket_allowed_peers")
    @classmethod
    def _valid_peers(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or network: {item!r}") from exc
        return value


class ClassifierSettings(BaseModel):
    """Matter suggester (智能派单建议)."""

    model_dir: Path = Field(
        default=VAR_DIR / "classifier",
        description="Folder of trained suggester models (versions under `models/`, `current` pointer).",
    )
    auto_dispatch_threshold: float = Field(
        default=0.85,
        description=(
            "Suggestion confidence at or above which one-click dispatch (`auto_dispatch`) is offered."
        ),
    )
    out_of_domain_threshold: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description=(
            "Probability that a text is not a citizen request (问候, 闲聊, 识别噪声 …) at or above which the "
            "suggester answers 'no matter recognised' instead of proposing matters. Higher = fewer "
            "real requests wrongly rejected, more chit-chat let through (see docs/classifier.md)."
        ),
    )


class CallbackSettings(BaseModel):
    """Callbacks and return visits (回拨 / 回访)."""

    window_start: str = Field(
        default="08:00",
        description=(
            "Start of the daily calling window for callbacks and return visits (local time, HH:MM)."
        ),
    )
    window_end: str = Field(
        default="21:00",
        description="End of the daily calling window (local time, HH:MM).",
    )
    max_attempts: int = Field(
        default=3,
        description="Call attempts per callback or return visit before it is given up.",
    )
    retry_backoff_s: list[int] = Field(
        default_factory=lambda: [600, 1800, 3600],
        description=("Pause before each retry after a failed attempt, in seconds (the last value repeats)."),
    )
    max_concurrent_calls: int = Field(
        default=4,
        description="Outbound callback / return-visit calls in progress at once.",
    )
    return_visit_after: Literal["closed", "feedback"] = Field(
        default="closed",
        description=(
            "Workflow step that schedules the return visit (回访): `closed` (结案) or `feedback` (反馈)."
        ),
    )
    dial_template: str = Field(
        default="PJSIP/{phone}@carrier-1",
        description="Asterisk channel dialled for the citizen (`{phone}` is replaced), e.g. a carrier trunk.",
    )
    return_visit_context: str = Field(
        default="return-visit", description="Dialplan context the answered return-visit call runs in."
    )
    queue_callback_context: str = Field(
        default="queue-callback", description="Dialplan context the answered queue callback runs in."
    )
    originate_timeout_ms: int = Field(
        default=30_000, ge=1000, description="How long the citizen's phone rings for a callback (ms)."
    )
    lease_s: float = Field(
        default=150.0,
        description=(
            "How long a claimed attempt may stay without an originate result before it counts as lost; "
            "must exceed the bridge's command max age (60 s) + action timeout (45 s)."
        ),
    )
    call_max_s: float = Field(
        default=900.0, description="How long an answered callback may last before the attempt counts as lost."
    )
    ended_grace_s: float = Field(
        default=5.0,
        description="After the call row ended, wait this long for the IVR to report before calling it lost.",
    )
    poll_interval_s: float = Field(default=1.0, description="Pause of the dialler loop between ticks.")
    claim_batch: int = Field(default=50, ge=1, description="Callbacks claimed per dialler tick at most.")
    worker_id: str = Field(
        default="", description="Consumer name of this dialler (empty = host name and process id)."
    )
    return_visit_delay_s: int = Field(
        default=0, ge=0, description="Delay between a case closing and its return visit (window applies too)."
    )
    second_visit_delay_s: int = Field(
        default=3600, ge=0, description="Delay before the second return visit after an unsatisfied answer."
    )
    on_unresolved: FollowUp = Field(
        default=FollowUp.REOPEN, description="What an answer 'not resolved' (未解决) leads to."
    )
    on_unsatisfied: FollowUp = Field(
        default=FollowUp.SECOND_VISIT, description="What an answer 'unsatisfied' (不满意) leads to."
    )
    max_visits: int = Field(default=2, ge=1, description="Return visits per case at most.")
    queue_wait_horizon_s: int = Field(
        default=3600,
        description="Callers waiting longer than this are ignored for callback fairness (a lost call row).",
    )
    queue_callback_priority: int = Field(
        default=10, description="Queue priority of a called-back citizen (only older callers wait ahead)."
    )
    voice_lang: str = Field(
        default="zh", description="Language of the built-in spoken-answer phrase table (`zh`, `ko`)."
    )
    voice_model: Path | None = Field(
        default=None,
        description="Vosk model folder for spoken return-visit answers (语音回访); unset = keypad only.",
    )
    voice_grammar_file: Path | None = Field(
        default=None, description="JSON phrase table replacing the built-in one (see docs/callbacks.md)."
    )
    voice_record_s: int = Field(default=4, ge=1, description="Longest spoken answer recorded, in seconds.")

    def survey_policy(self) -> SurveyPolicy:
        """What unresolved / unsatisfied answers lead to (pure policy of the return visit)."""
        return SurveyPolicy(self.on_unresolved, self.on_unsatisfied, self.max_visits)


class ConsoleSettings(BaseModel):
    """Agent console and wallboard (坐席工作台 / 班长监控)."""

    sla_seconds: float = Field(
        default=20.0,
        gt=0,
        description="Service level of the wallboard: share of calls answered within this many seconds.",
    )
    stream_recheck_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How often an open live stream (SSE) re-reads its user: a user deactivated, or whose role or "
            "unit changed, loses the stream within this many seconds. A stream also ends when its login "
            "token expires."
        ),
    )


class DeadlineSettings(BaseModel):
    """How time limits (时限) are counted: working days (工作日) with the official holiday calendar."""

    default_unit: Literal["hours", "calendar_days", "working_days"] = Field(
        default="working_days",
        description=(
            "How a matter's handling limit counts when the matter does not say (`matters.limit_unit`): "
            "`working_days` skips weekends and official holidays and counts 调休 make-up workdays; "
            "`calendar_days` / `hours` count the clock. See docs/reports.md (Deadlines)."
        ),
    )


ReportKind = Literal["daily", "weekly", "monthly"]


class ReportSettings(BaseModel):
    """Periodic reports for leaders (日报 / 周报 / 月报), built by the worker (plugin `reports`)."""

    schedule: list[ReportKind] = Field(
        default_factory=lambda: list[ReportKind](["daily", "weekly", "monthly"]),
        description=(
            "Which periodic reports the worker builds after each period ends (daily after midnight, "
            "weekly on Monday, monthly on the 1st; local time). Empty: none."
        ),
    )
    out_dir: Path = Field(
        default=VAR_DIR / "reports",
        description="Where generated report files (PDF, XLSX) are kept.",
    )
    center_name: str = Field(
        default="12345政务服务便民热线",
        description="Issuing center printed on the cover of every report.",
    )
    top_n: int = Field(default=10, ge=1, description="Rows in the 高频事项 / 高频区域 tables.")
    check_interval_s: float = Field(
        default=300.0, gt=0, description="How often the worker checks whether a periodic report is due."
    )
    repeat_window_days: int = Field(
        default=30,
        ge=1,
        description="屡诉: same caller (or same place) and matter again within this many days.",
    )


class ObservabilitySettings(BaseModel):
    """Logs and Prometheus metrics (日志与监控指标) of every process.

    ``/metrics`` of the API is served on ``api_port``; the other processes serve their own registry on
    the port below (0 = off). Two processes of one kind on a host need different ports (env override
    per process, e.g. ``CALLCENTER_OBSERVABILITY__AMI_BRIDGE_METRICS_PORT``).
    """

    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log line format of every process: `text` or `json`.",
    )
    log_level: str = Field(
        default="INFO",
        description="Log level of every process (DEBUG, INFO, WARNING, ERROR).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the non-API processes serve `/metrics` on.",
    )
    agi_metrics_port: int = Field(
        default=9101,
        description="`/metrics` port of the FastAGI server (0 = off).",
    )
    ami_bridge_metrics_port: int = Field(
        default=9102,
        description="`/metrics` port of the AMI bridge (0 = off).",
    )
    speech_metrics_port: int = Field(
        default=9103,
        description="`/metrics` port of the speech service (0 = off).",
    )
    worker_metrics_port: int = Field(
        default=9104,
        description="`/metrics` port of the worker (0 = off).",
    )


class SecuritySettings(BaseModel):
    """Request limits, login throttling and per-installation secrets (安全)."""

    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description=(
            "Largest request body the API accepts, counted on the bytes received (chunked or not); "
            "larger requests get 413 before authentication and parsing."
        ),
    )
    login_max_failures_per_user: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed logins for one username within `login_window_s` before that username is locked "
            "out (429 with Retry-After, also for the right password)."
        ),
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description=(
            "Failed logins from one client address within `login_window_s` before that address is "
            "locked out (against password spraying over many usernames)."
        ),
    )
    login_window_s: int = Field(
        default=900,
        ge=1,
        description="Window in which failed logins are counted, in seconds (fixed window per key).",
    )
    login_lockout_s: int = Field(
        default=60,
        ge=1,
        description=(
            "First lockout after too many failed logins, in seconds; each further lockout of the same "
            "username or address within a day doubles it, up to `login_lockout_max_s`."
        ),
    )
    login_lockout_max_s: int = Field(
        default=3600,
        ge=1,
        description="Longest lockout after repeated failed logins, in seconds.",
    )
    secrets_dir: Path = Field(
        default=VAR_DIR / "secrets",
        description=(
            "Demo mode only: folder of the secrets generated once per installation (signing key, AMI "
            "secret; files readable by their owner only)."
        ),
    )


class CityPartner(BaseModel):
    """An upstream platform allowed to push orders (市级派单)."""

    key: str = Field(description="Shared HMAC-SHA256 key of the partner (signs requests both ways).")
    callback_url: str = Field(
        default="", description="Where status changes and the final reply are pushed back (POST)."
    )


class IntakeSettings(BaseModel):
    """Intake from every source (多渠道受理): the public web form, Open311, 市级派单, grid workers."""

    uploads_dir: Path = Field(
        default=VAR_DIR / "uploads",
        description="Root folder of uploaded photos and their thumbnails (outside the database; back it up).",
    )
    auto_dispatch: bool = Field(
        default=False,
        description=(
            "Register and dispatch a web / Open311 / city / grid case at once when the suggestion is "
            "confident enough (`classifier.auto_dispatch_threshold`); otherwise an agent registers it."
        ),
    )
    web_max_description_chars: int = Field(
        default=2000, description="Longest description accepted from the public form and Open311."
    )
    web_rate_limit: int = Field(
        default=5, description="Submissions accepted per client address per window (public form, Open311)."
    )
    web_rate_window_s: int = Field(default=3600, description="Window of `intake.web_rate_limit`, seconds.")
    lookup_rate_limit: int = Field(
        default=30, description="Status lookups (number + code) per client address per window."
    )
    open311_api_keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Open311 clients allowed to POST requests: client name → api_key (e.g. the WeChat "
            "mini-program). JSON in the environment."
        ),
    )
    open311_jurisdiction: str = Field(
        default="", description="Open311 `jurisdiction_id` this server answers for (empty: any or none)."
    )
    city_partners: dict[str, CityPartner] = Field(
        default_factory=dict,
        description="Upstream platforms pushing orders: partner name → key and callback URL (JSON).",
    )
    city_signature_window_s: int = Field(
        default=300, description="How far a partner request's timestamp may be from our clock, seconds."
    )
    city_push_backoff_s: list[float] = Field(
        default_factory=lambda: [2.0, 5.0, 15.0, 30.0, 60.0],
        description="Pauses between push-back retries (the last one repeats).",
    )
    city_push_max_attempts: int = Field(
        default=60,
        description="Attempts before a push-back goes to the dead-letter list (死信, shown to supervisors).",
    )
    city_push_timeout_s: float = Field(default=5.0, description="Timeout of one push-back request.")
    photo_max_bytes: int = Field(default=8_000_000, description="Largest photo accepted, bytes.")
    photo_max_count: int = Field(default=6, description="Most photos in one report.")
    photo_max_pixels: int = Field(
        default=40_000_000, description="Largest photo accepted, pixels (refuses decompression bombs)."
    )
    thumb_px: int = Field(default=320, description="Longest side of a photo thumbnail, pixels.")


class Settings(BaseSettings):
    """All settings of the platform."""

    model_config = SettingsConfigDict(
        env_prefix="CALLCENTER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    mode: Literal["production", "demo", "test"] = Field(
        default="production",
        description=(
            "`production` refuses empty, default or weak secrets; `demo` generates random secrets once "
            "per installation (`security.secrets_dir`); `test` fills deterministic values."
        ),
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description=(
            "Local time zone of the center: case numbers, time limits, calling windows, daily KPIs."
        ),
    )
    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'callcenter.sqlite3'}",
        description=(
            "SQLAlchemy URL of the database (source of truth): SQLite file or "
            "`postgresql://user:pass@host/db`."
        ),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis for event streams, commands to AMI and live state.",
    )
    redis_stream_maxlen: int = Field(
        default=100_000,
        description="Approximate length cap of each Redis event stream.",
    )
    secret_key: str = Field(
        default="",
        description=(
            "Signing key of login tokens; required in production mode and checked by the secrets "
            "policy (as `ami.secret`). Demo mode generates one per installation under "
            "`security.secrets_dir`."
        ),
    )
    token_ttl_minutes: int = Field(
        default=12 * 60,
        description="Lifetime of a login token, in minutes.",
    )
    api_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the API and web console (`callcenter serve`).",
    )
    api_port: int = Field(
        default=8000,
        description="Port of the API and web console; its `/metrics` is served here too.",
    )
    fastagi_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the FastAGI IVR server (also rendered into the dialplan).",
    )
    fastagi_port: int = Field(default=4573, description="Port of the FastAGI IVR server.")
    max_description_chars: int = Field(
        default=5000,
        description="Longest case description accepted; longer ones are refused (HTTP 413).",
    )
    ami: AMISettings = Field(default_factory=AMISettings)
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    softphone: SoftphoneSettings = Field(default_factory=SoftphoneSettings)
    recordings: RecordingSettings = Field(default_factory=RecordingSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls), file_secret_settings)

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        from callcenter.secret_policy import installation_secret, weakness

        if self.mode == "production":
            problems = [
                (name, why)
                for name, value in (("secret_key", self.secret_key), ("ami.secret", self.ami.secret))
                if (why := weakness(value)) is not None
            ]
            if problems:
                raise ValueError(
                    "refusing to start in production mode with empty, default or weak secrets: "
                    + ", ".join(name for name, _ in problems)
                    + " ("
                    + "; ".join(f"{name}: {why}" for name, why in problems)
                    + "; set CALLCENTER_SECRET_KEY / CALLCENTER_AMI__SECRET to generated values, "
                    "or CALLCENTER_MODE=demo)"
                )
        elif self.mode == "demo":  # one random secret per installation, shared by the demo's processes
            if not self.secret_key:
                self.secret_key = installation_secret(self.security.secrets_dir, "secret_key")
            if not self.ami.secret:
                self.ami.secret = installation_secret(self.security.secrets_dir, "ami_secret")
        else:  # test: deterministic values
            if not self.secret_key:
                self.secret_key = "test-signing-key-not-for-production"
            if not self.ami.secret:
                self.ami.secret = "test-ami-secret"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ami_reload_user(self) -> tuple[str, str]:
        """The reload-only AMI user (``<ami user>-pjsip``, ``write = system``) and its secret, derived
        from the AMI secret: the telephony provisioning renders it into manager.conf, the softphone
        plugin uses it to reload res_pjsip after writing per-login WebRTC passwords."""
        import hashlib
        import hmac

        master = (self.ami.secret or self.secret_key).encode()
        secret = hmac.new(master, b"ami-pjsip-reload", hashlib.sha256).hexdigest()[:24]
        return f"{self.ami.username}-pjsip", secret


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads ``CALLCENTER_CONFIG_FILE`` (TOML) when set; lowest priority above defaults."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("CALLCENTER_CONFIG_FILE")
        if not path:
            return {}
        with open(path, "rb") as fh:
            return tomllib.load(fh)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests call ``get_settings.cache_clear()``."""
    return Settings()
