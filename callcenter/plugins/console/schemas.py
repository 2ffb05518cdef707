"""Request and response bodies of the console's endpoints (pydantic).

Times the console has always sent as Python's ``isoformat()`` (``…+00:00``) keep that form
(:data:`IsoDatetime`); case rows use the core's :class:`~callcenter.api.schemas.CaseOut` form. The KPI
report and the wallboard snapshot stay plain JSON objects: their shapes are built by
:mod:`callcenter.services.kpi` and :mod:`callcenter.plugins.console.wallboard` (see docs/console.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

#: A time sent as ``datetime.isoformat()`` (``2026-05-01T08:00:00+00:00``).
IsoDatetime = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json")]


# --------------------------------------------------------------------------- requests


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    join: bool


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paused: bool
    reason: Literal["break", "training", "acw", "meeting"] | None = None


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exten: str = Field(pattern=r"^[0-9A-Za-z*#+_-]{1,32}$")
    context: str = Field(default="agents", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class SpyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(min_length=1, max_length=128, description="the agent's queue member interface")
    mode: Literal["listen", "whisper", "barge"] = "listen"


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(pattern=r"^[0-9+\-]{3,32}$")
    at: datetime | None = None
    uniqueid: str | None = Field(default=None, max_length=64)
    case_number: str | None = Field(default=None, max_length=20)
    note: str = Field(default="", max_length=500)


# --------------------------------------------------------------------------- responses


class ConsoleUser(BaseModel):
    username: str
    display_name: str
    role: str
    unit_code: str | None
    extension: str | None
    interface: str | None = Field(description="queue member interface (PJSIP/<extension>)")


class ConsoleConfig(BaseModel):
    """What a console page needs to know about the user and the center."""

    user: ConsoleUser
    queue: str
    hotline_numbers: list[str]
    sla_seconds: float
    wrapup_seconds: float
    pause_reasons: list[str]
    charts: bool = Field(description="whether the chart library is installed")
    timezone: str


class Labels(BaseModel):
    """Chinese labels of the core workflow (status, action, satisfaction)."""

    status: dict[str, str]
    action: dict[str, str]
    satisfaction: dict[str, str]


class CommandResult(BaseModel):
    """A command Asterisk carried out: its action id and the AMI bridge's result."""

    action_id: str
    result: dict[str, Any]


class CallInfo(BaseModel):
    uniqueid: str
    caller_number: str | None = Field(description="masked per role")
    caller_name: str | None
    dialled_number: str | None
    queue: str | None
    agent: str | None
    channel: str | None
    started_at: IsoDatetime | None
    answered_at: IsoDatetime | None
    ended_at: IsoDatetime | None
    ivr_choice: str | None
    case_id: int | None


class CaseRow(BaseModel):
    """A case in the screen-pop's lists (the fields of :class:`~callcenter.api.schemas.CaseOut`)."""

    number: str
    status: str
    status_label: str
    matter_code: str | None
    description: str
    unit_code: str | None
    created_at: datetime
    due_at: datetime | None


class TranscriptLine(BaseModel):
    seq: int
    text: str
    final: bool = True


class UnitRef(BaseModel):
    code: str
    name: str | None


class SuggestionOut(BaseModel):
    """The latest classifier suggestion of the call (top three matters)."""

    id: int
    text: str
    matters: list[Any]
    unit: UnitRef | None
    area: dict[str, Any]
    evidence: list[Any]
    confidence: float
    auto_dispatch: bool
    model_version: str


class ScreenPop(BaseModel):
    """弹屏."""

    call: CallInfo
    repeat_caller: bool
    prior_calls: int
    open_cases: list[CaseRow]
    past_cases: list[CaseRow]
    transcript: list[TranscriptLine]
    suggestion: SuggestionOut | None


class CallbackScheduled(BaseModel):
    id: int
    phone: str | None = Field(description="masked per role")
    next_attempt_at: IsoDatetime
    status: str


class CallbackRow(BaseModel):
    """A callback or return visit (shape of :func:`callcenter.services.callbacks.as_dict`)."""

    id: int
    kind: str
    status: str
    phase: str | None
    phone: str | None = Field(description="masked per role")
    case_id: int | None
    case_number: str | None
    visit: int | None
    attempts: int
    max_attempts: int
    requested_at: str | None
    next_attempt_at: str | None
    updated_at: str | None
    last_result: str | None
    survey: dict[str, Any] | None
    history: list[Any]


class OverdueRow(BaseModel):
    """A case past its accept or handling deadline (督办清单, :func:`callcenter.services.kpi.overdue`)."""

    number: str
    status: str
    unit_code: str | None
    unit_name: str | None
    matter_code: str | None
    kind: Literal["accept", "handle"]
    deadline: str
    overdue_hours: float
    supervised: bool
    description: str


class ActionOut(BaseModel):
    action: str
    label: str


class CaseActions(BaseModel):
    number: str
    actions: list[ActionOut]
