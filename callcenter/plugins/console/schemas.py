"""Request bodies of the console's endpoints (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
