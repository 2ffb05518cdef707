"""Request and answer shapes of the public form (JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebCaseIn(BaseModel):
    """The public form (网站填报). ``website`` is a honeypot: people never see it, bots fill it."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(max_length=20_000, description="诉求内容")
    address: str = Field(default="", max_length=256)
    district_code: str | None = Field(default=None, max_length=12)
    street_code: str | None = Field(default=None, max_length=12)
    community_code: str | None = Field(default=None, max_length=12)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\-]{3,32}$")
    name: str | None = Field(default=None, max_length=64)
    kind: Literal["request", "complaint", "consultation", "report", "suggestion", "praise"] = "request"
    form_token: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9\-]{8,64}$",
        description="chosen by the page; a resubmit is one case",
    )
    website: str = Field(default="", max_length=200, description="honeypot: must stay empty")


class WebCaseOut(BaseModel):
    number: str
    lookup_code: str
    status: str
    status_label: str
    replayed: bool = False


class LookupOut(BaseModel):
    number: str
    status: str
    status_label: str
    open: bool
    channel: str
    created_at: str
    updated_at: str
    closed_at: str | None
    reply: str | None
    unit_name: str | None
