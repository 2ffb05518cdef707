"""SQLAlchemy models: the whole persistent state of the hotline center.

Timestamps are UTC (``UTCDateTime``); codes are strings (administrative division codes, matter codes,
unit codes) so that data files stay the source of the catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.base import Base, utcnow
from callcenter.db.types import UTCDateTime


class Area(Base):
    """Administrative area (行政区划): province / city / district / street (街道乡镇) / community (社区村)."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # province|city|district|street|community
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    #: A statistical unit handled by another street office (e.g. 经济技术开发区 → 亦庄地区).
    handled_by: Mapped[str | None] = mapped_column(String(12))


class Unit(Base):
    """Handling unit (承办单位): district bureau, street office (街道办), community (社区), utility."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))  # center|district_bureau|street_office|community|utility
    parent_code: Mapped[str | None] = mapped_column(String(32), index=True)
    area_code: Mapped[str | None] = mapped_column(String(12), index=True)
    industry: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MatterCategory(Base):
    """Matter category (事项大类), one of 29."""

    __tablename__ = "matter_categories"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))


class Matter(Base):
    """Matter (管理事项 / 诉求事项) of the catalogue, with time limits and owner rule."""

    __tablename__ = "matters"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("matter_categories.code"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_rule: Mapped[str] = mapped_column(String(16), default="locality")  # industry|locality
    industry: Mapped[str | None] = mapped_column(String(32))
    accept_hours: Mapped[float] = mapped_column(Float, default=2.0)
    handle_days: Mapped[float] = mapped_column(Float, default=7.0)
    # hours | calendar_days | working_days (工作日); None = settings.deadlines.default_unit
    limit_unit: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TimeLimitPolicy(Base):
    """Per-priority time-limit factors (时限): configuration data, not code constants."""

    __tablename__ = "time_limit_policies"

    priority: Mapped[str] = mapped_column(String(16), primary_key=True)  # normal|urgent|emergency
    accept_hours: Mapped[float | None] = mapped_column(Float)  # overrides matter accept_hours if set
    handle_factor: Mapped[float] = mapped_column(Float, default=1.0)  # multiplies matter handle_days
    max_handle_hours: Mapped[float | None] = mapped_column(Float)


class ResponsibilityRule(Base):
    """Responsibility list entry (权责清单): matter × area → unit, industry (行业) or locality (属地) rule.

    ``source``: ``catalogue`` (loaded by ``callcenter seed`` from the CSV files, replaced by the next seed)
    or ``admin`` (created, edited or deleted in the admin screen: the seed leaves it alone). A deleted
    rule is kept as ``active`` false (a tombstone), so the seed does not bring the catalogue's rule back;
    routing reads the active rows only.
    """

    __tablename__ = "responsibility_rules"
    __table_args__ = (UniqueConstraint("matter_code", "area_code", "rule_kind", name="uq_rule_matter_area"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter_code: Mapped[str] = mapped_column(ForeignKey("matters.code"), index=True)
    area_code: Mapped[str] = mapped_column(String(12), index=True)  # district or street code
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    rule_kind: Mapped[str] = mapped_column(String(16))  # industry|locality|override
    note: Mapped[str] = mapped_column(String(256), default="")
    source: Mapped[str] = mapped_column(String(16), default="catalogue")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Last change (seed or admin): part of the fingerprint of routing's cache of the rules.
    updated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )


class User(Base):
    """A person who logs in: agent (坐席), supervisor (班长), unit_handler (承办人), admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    extension: Mapped[str | None] = mapped_column(String(16))  # softphone endpoint / queue member
    #: Asterisk node the softphone registers on (None = the node of the API's settings).
    node: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Call(Base):
    """A telephone call as seen by Asterisk (来电 / 外呼)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")  # in|out
    dialled_number: Mapped[str | None] = mapped_column(String(32))
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(128))
    ivr_choice: Mapped[str | None] = mapped_column(String(16))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(
        String(32)
    )  # answered|abandoned|no_answer|busy|failed|ivr
    recording: Mapped[str | None] = mapped_column(String(256))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Asterisk node (``systemname``) that carries the call; its AMI bridge owns the row's lifecycle.
    node: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_calls_node_open", "node", "ended_at"),)


class TranscriptUtterance(Base):
    """A final transcript utterance (转写文本) of a call."""

    __tablename__ = "transcript_utterances"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_utterance_call_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16), default="caller")
    text: Mapped[str] = mapped_column(Text)
    start_s: Mapped[float] = mapped_column(Float, default=0.0)
    end_s: Mapped[float] = mapped_column(Float, default=0.0)
    engine: Mapped[str] = mapped_column(String(32), default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suggestion(Base):
    """A classifier suggestion (智能建议): ranked matters, place, owning unit, evidence words."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    matters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unit_code: Mapped[str | None] = mapped_column(String(32))
    area: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    auto_dispatch: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuggestionFeedback(Base):
    """An agent's confirmation or correction of a suggestion (人工确认 / 纠正), kept for retraining."""

    __tablename__ = "suggestion_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    text: Mapped[str] = mapped_column(Text)
    matter_code: Mapped[str] = mapped_column(String(16))
    unit_code: Mapped[str | None] = mapped_column(String(32))
    area_code: Mapped[str | None] = mapped_column(String(12))
    accepted: Mapped[bool] = mapped_column(Boolean)  # True = confirmed the top suggestion
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_in_model: Mapped[str | None] = mapped_column(String(64))


class Case(Base):
    """A citizen request (工单) through the closed loop 受理→立案→派遣→处置→反馈→核实→结案→评价."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_due", "status", "due_at"),
        Index("ix_cases_unit_status", "unit_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    hotline: Mapped[str | None] = mapped_column(String(16))  # 12345 | 96010
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", use_alter=True))
    caller_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="request")  # request|complaint|consultation|…
    matter_code: Mapped[str | None] = mapped_column(ForeignKey("matters.code"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(12), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    unit_code: Mapped[str | None] = mapped_column(String(32), index=True)
    co_unit_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    loop: Mapped[str | None] = mapped_column(String(8))  # small (小循环) | large (大循环)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accept_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A deadline set outside the center (市级派单): ``due_at`` is never later (services.cases).
    external_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_hours_requested: Mapped[float | None] = mapped_column(Float)
    extension_reason: Mapped[str | None] = mapped_column(String(512))
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    kpi_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    kpi_exclusion_reason: Mapped[str | None] = mapped_column(String(512))
    merged_into: Mapped[str | None] = mapped_column(String(20))
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    feedback_text: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # satisfied|basic|unsatisfied
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)  # 演示数据 (callcenter seed --demo-history)
    version: Mapped[int] = mapped_column(Integer, default=1)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", lazy="raise_on_sql"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    """Append-only audit trail of a case (工单流转记录): one row per change."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_event_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    unit_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseNumberCounter(Base):
    """Per-day sequence for human-readable case numbers (工单编号), e.g. 20261122 + 00042."""

    __tablename__ = "case_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key`` for creating a case (幂等键): a retried ``POST /api/cases`` after
    a lost reply returns the case the first request created instead of a second one.

    Scoped per user (one user's keys never match another's); ``fingerprint`` is a hash of the request
    body, so a key reused for a different case is refused. Written in the same transaction as the case.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Callback(Base):
    """A scheduled outbound call: queue callback (预约回拨) or return visit (回访)."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # queue_callback|return_visit
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResult(Base):
    """A return-visit answer (回访评价): resolved? satisfied?"""

    __tablename__ = "survey_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))  # dtmf|voice|agent
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoNotCall(Base):
    """Do-not-call list (免打扰名单)."""

    __tablename__ = "do_not_call"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """Transactional outbox: events written with the change, published to Redis after commit."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Security audit log (安全审计日志): failed logins, lockouts, and later access and admin edits.

    Append-only; written through :func:`callcenter.audit.record`. ``actor_user_id`` is a plain column,
    not a foreign key, so the log can name users that no longer exist (and an unknown username).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(256))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KpiDaily(Base):
    """Materialised daily KPI figures per unit (三率两度), refreshed by the worker."""

    __tablename__ = "kpi_daily"
    __table_args__ = (UniqueConstraint("day", "unit_code", name="uq_kpi_day_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[Any] = mapped_column(Date)
    unit_code: Mapped[str] = mapped_column(String(32))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Recording(Base):
    """The recording of one answered call (通话录音): both legs mixed by Asterisk's MixMonitor, moved
    from the Asterisk spool to ``recordings.root`` after hangup (``path`` is relative to it).

    Linked to the call (one recording per call) and, once known, to the case created for it. Past
    ``expires_at`` the retention loop deletes the file and sets ``deleted_at``; the row stays as the
    record that the call was recorded. Every playback is written to the audit log.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- Intake from every source (多渠道受理; tables of migration 0008) ------------------------------


class WebReceipt(Base):
    """A case filed on the public web form (网站填报) or by an Open311 client: the citizen's lookup code
    (hashed), the Open311 fields the case table has no column for, and the submission token that makes
    a double submit (or a client's retry) return the first case instead of a second one."""

    __tablename__ = "web_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    client: Mapped[str] = mapped_column(String(64))  # "web" or the Open311 client's name
    lookup_hash: Mapped[str] = mapped_column(String(64))
    submit_token: Mapped[str | None] = mapped_column(String(200), unique=True)
    service_code: Mapped[str | None] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address_string: Mapped[str | None] = mapped_column(String(256))
    media_url: Mapped[str | None] = mapped_column(String(512))
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CityOrder(Base):
    """An order pushed down by the city 12345 platform (市级派单), one per upstream order id and partner.

    ``pushed_seq`` is the last case event already handed to the push-back queue (``city_pushes``)."""

    __tablename__ = "city_orders"
    __table_args__ = (UniqueConstraint("partner", "upstream_id", name="uq_city_orders_partner_upstream"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner: Mapped[str] = mapped_column(String(64))
    upstream_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pushed_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CityNonce(Base):
    """A request nonce a partner already used (replay refused while it is inside the time window)."""

    __tablename__ = "city_nonces"
    __table_args__ = (UniqueConstraint("partner", "nonce", name="uq_city_nonces_partner_nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CityPush(Base):
    """One status change or final reply to push back to the partner (回传), delivered in ``case_seq``
    order per order; ``status`` pending → delivered, or dead (死信) after the last retry."""

    __tablename__ = "city_pushes"
    __table_args__ = (UniqueConstraint("order_id", "case_seq", name="uq_city_pushes_order_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("city_orders.id"), index=True)
    case_seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Grid(Base):
    """A grid (网格) under a community (社区): the smallest patch a grid worker patrols."""

    __tablename__ = "grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    district_code: Mapped[str | None] = mapped_column(String(12))
    #: Roads, compounds, landmarks in the grid (an address naming one resolves to this grid).
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GridMember(Base):
    """A user on a grid: ``duty`` worker (网格员) or leader (网格长)."""

    __tablename__ = "grid_members"
    __table_args__ = (UniqueConstraint("grid_code", "user_id", name="uq_grid_members_grid_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    duty: Mapped[str] = mapped_column(String(16), default="worker")


class GridReport(Base):
    """A grid worker's report of an event found on patrol (网格员上报); ``client_uuid`` is chosen by the
    app when the report is written, so a report re-sent after being offline is stored once."""

    __tablename__ = "grid_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    client_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    self_handled: Mapped[bool] = mapped_column(Boolean, default=False)  # 自处置
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(16))  # browser|exif|picked
    valid: Mapped[bool | None] = mapped_column(Boolean)  # set when the center registers or rejects it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class GridPhoto(Base):
    """A photo of a case (stored under ``intake.uploads_dir``, metadata stripped, with a thumbnail)."""

    __tablename__ = "grid_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # report|after|check_before|check_after
    path: Mapped[str] = mapped_column(String(256))
    thumb_path: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GridTask(Base):
    """A check task sent to a grid worker (任务核查 / 核实): look at a case on site before closure."""

    __tablename__ = "grid_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="check")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open|done
    note: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """An official day off (放假) or make-up workday (调休上班) loaded from a State Council notice.

    Overrides the ``chinese-calendar`` package's data for that date; ``source`` says which notice.
    """

    __tablename__ = "calendar_days"

    day: Mapped[Any] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # holiday | workday
    name: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(256), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A generated report for leaders (日报 / 周报 / 月报 / 专题), stored with its parameters."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_kind_start", "kind", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily | weekly | monthly | range
    period_start: Mapped[Any] = mapped_column(Date)  # inclusive, local dates
    period_end: Mapped[Any] = mapped_column(Date)  # inclusive
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed
    summary: Mapped[str] = mapped_column(Text, default="")
    pdf_path: Mapped[str | None] = mapped_column(String(512))
    xlsx_path: Mapped[str | None] = mapped_column(String(512))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64), default="")  # username, "schedule" or "cli"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
