"""Request and response bodies of the API (pydantic).

Integers that come from outside and reach the database use the bounds below (``DbId``, ``DbInt``,
``MAX_OFFSET``): a value an ``Integer`` column cannot hold is a 422 naming the field, not a database
error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.db.types import MAX_DB_INT
from callcenter.domain import privacy, sources
from callcenter.domain.workflow import ACTION_LABELS, STATUS_LABELS

#: A row id given by a client (1 … the largest ``Integer`` both databases hold).
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
#: Any other integer given by a client that is stored or compared in the database (versions, counts).
DbInt = Annotated[int, Field(ge=-MAX_DB_INT, le=MAX_DB_INT)]
#: Upper bound of ``offset`` query parameters (paging past it is never meaningful).
MAX_OFFSET = MAX_DB_INT


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    username: str
    display_name: str
    unit_code: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    unit_code: str | None
    extension: str | None


class CaseCreate(BaseModel):
    """受理: what the agent enters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    description: str = Field(min_length=1, max_length=20_000)
    caller_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\-]{3,32}$")
    caller_name: str | None = Field(default=None, max_length=64)
    matter_code: str | None = Field(default=None, max_length=16)
    district_code: str | None = Field(default=None, max_length=12)
    street_code: str | None = Field(default=None, max_length=12)
    community_code: str | None = Field(default=None, max_length=12)
    address: str = Field(default="", max_length=256)
    priority: Literal["normal", "urgent", "emergency"] = "normal"
    kind: Literal["request", "complaint", "consultation", "report", "suggestion", "praise"] = "request"
    channel: Literal["phone", "web", "app", "wechat", "leader", "platform"] = Field(
        default="phone", description="工单来源 entered by hand (callcenter.domain.sources.AGENT_ENTERED)"
    )
    hotline: str | None = Field(default=None, max_length=16)
    call_uniqueid: str | None = Field(default=None, max_length=64)
    register_now: bool = Field(default=False, alias="register")
    dispatch_unit_code: str | None = Field(default=None, max_length=32)
    co_unit_codes: list[str] = Field(default_factory=list, max_length=20)
    suggestion_id: DbId | None = None
    answer: str | None = Field(
        default=None, max_length=5000, description="直接办结: answer given on the call"
    )


class TransitionIn(BaseModel):
    """One workflow action on a case."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=2000)
    text: str | None = Field(default=None, max_length=5000)
    unit_code: str | None = Field(default=None, max_length=32)
    co_unit_codes: list[str] = Field(default_factory=list, max_length=20)
    hours: float | None = None
    into: str | None = Field(default=None, max_length=20)
    satisfaction: Literal["satisfied", "basic", "unsatisfied"] | None = None
    resolved: bool | None = None
    matter_code: str | None = Field(default=None, max_length=16)
    expected_version: DbInt | None = None


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action: str
    action_label: str = ""
    from_status: str | None
    to_status: str
    actor_id: int | None
    actor_role: str
    unit_code: str | None
    reason: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def build(cls, event: Any, role: str) -> CaseEventOut:
        """One timeline row as ``role`` may see it (free text masked, docs/case-core.md)."""
        out = cls.model_validate(event, from_attributes=True)
        out.action_label = ACTION_LABELS.get(out.action, out.action)
        if not privacy.sees_personal_data(role):
            out.reason = privacy.mask_numbers(out.reason)
            out.data = privacy.payload_for_role(out.data, role)
        return out


#: Free-text fields of a case that may hold a citizen's numbers (masked for roles that need not see them).
CASE_TEXT_FIELDS = ("description", "address", "feedback_text", "extension_reason", "kpi_exclusion_reason")


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    status: str
    status_label: str = ""
    version: int
    channel: str
    channel_label: str = ""
    hotline: str | None
    kind: str
    caller_phone: str | None
    caller_name: str | None
    matter_code: str | None
    district_code: str | None
    street_code: str | None
    community_code: str | None
    address: str
    description: str
    priority: str
    unit_code: str | None
    co_unit_codes: list[str]
    loop: str | None
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    feedback_at: datetime | None
    closed_at: datetime | None
    accept_due_at: datetime | None
    due_at: datetime | None
    extension_hours_requested: float | None
    extension_reason: str | None
    supervised: bool
    kpi_excluded: bool
    kpi_exclusion_reason: str | None
    merged_into: str | None
    return_count: int
    feedback_text: str | None
    resolved: bool | None
    satisfaction: str | None
    allowed_actions: list[str] = Field(default_factory=list)
    timeline: list[CaseEventOut] | None = None

    @classmethod
    def build(cls, case: Any, role: str, *, events: list[Any] | None = None, **extra: Any) -> CaseOut:
        """The case as ``role`` may see it: phone, name and numbers in free text masked for roles
        that need not see them (:mod:`callcenter.domain.privacy`); ``events`` become the timeline."""
        out = cls.model_validate(case, from_attributes=True).model_copy(update=extra)
        out.status_label = STATUS_LABELS.get(out.status, out.status)
        out.channel_label = sources.label(out.channel)
        out.caller_phone = privacy.phone_for_role(out.caller_phone, role)
        if not privacy.sees_personal_data(role):
            out.caller_name = privacy.mask_name(out.caller_name)
            for name in CASE_TEXT_FIELDS:
                setattr(out, name, privacy.mask_numbers(getattr(out, name)))
        if events is not None:
            out.timeline = [CaseEventOut.build(e, role) for e in events]
        return out


class CasePage(BaseModel):
    total: int
    items: list[CaseOut]


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str


class MatterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    category_code: str
    name: str
    description: str
    keywords: list[str]
    owner_rule: str
    industry: str | None
    accept_hours: float
    handle_days: float


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: str
    parent_code: str | None
    area_code: str | None
    industry: str | None


class AreaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: str
    parent_code: str | None


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uniqueid: str
    linkedid: str | None
    direction: str
    dialled_number: str | None
    caller_number: str | None
    caller_name: str | None
    ivr_choice: str | None
    queue: str | None
    agent: str | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None
    hangup_cause: str | None
    disposition: str | None
    recording: str | None
    case_id: int | None


class UtteranceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    speaker: str
    text: str
    start_s: float
    end_s: float
    engine: str


class CallDetail(CallOut):
    transcript: list[UtteranceOut] = Field(default_factory=list)
