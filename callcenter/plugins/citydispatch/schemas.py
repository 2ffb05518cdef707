"""The order an upstream platform pushes (市级派单), and the answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OrderIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore"
    )  # upstream platforms add fields; unknown ones are kept in payload

    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    description: str = Field(min_length=1, max_length=20_000)
    title: str | None = Field(default=None, max_length=200)
    address: str = Field(default="", max_length=256)
    district_code: str | None = Field(default=None, max_length=12)
    street_code: str | None = Field(default=None, max_length=12)
    community_code: str | None = Field(default=None, max_length=12)
    matter_code: str | None = Field(default=None, max_length=16)
    caller_phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\-]{3,32}$")
    caller_name: str | None = Field(default=None, max_length=64)
    priority: Literal["normal", "urgent", "emergency"] = "normal"
    kind: Literal["request", "complaint", "consultation", "report", "suggestion", "praise"] = "request"
    deadline: datetime | None = Field(default=None, description="上级办理时限 (ISO 8601 with time zone)")


class OrderOut(BaseModel):
    order_id: str
    case_number: str
    status: str
    replayed: bool = False
    due_at: str | None = None


class PushOut(BaseModel):
    id: int
    partner: str
    order_id: str
    case_number: str
    case_seq: int
    kind: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    delivered_at: str | None
