"""Request bodies of the admin API (shapes only: the checks are the kernel's
:mod:`callcenter.services.admin`, shared with the CLI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(max_length=16)
    display_name: str = Field(default="", max_length=64)
    unit_code: str | None = Field(default=None, max_length=32)
    extension: str | None = Field(default=None, max_length=64)
    node: str | None = Field(default=None, max_length=32)
    password: str | None = Field(default=None, max_length=256, description="empty: unchanged")
    active: bool = True

    def fields(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"username"})
        if not data.get("password"):
            data["password"] = None
        return data


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(max_length=128)
    kind: str = Field(max_length=24)
    parent_code: str | None = Field(default=None, max_length=32)
    area_code: str | None = Field(default=None, max_length=12)
    industry: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    active: bool = True


class TimeLimitsIn(BaseModel):
    """A matter's time limits (签收时限 hours, 办理时限 days); one field per entry of
    ``GET /api/admin/meta`` ``time_limit_fields``."""

    model_config = ConfigDict(extra="forbid")

    accept_hours: float | None = None
    handle_days: float | None = None


class MatterIn(TimeLimitsIn):
    code: str = Field(min_length=1, max_length=16)
    name: str = Field(max_length=128)
    category_code: str = Field(max_length=8)
    description: str = Field(default="", max_length=2000)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    owner_rule: str = Field(default="locality", max_length=16)
    industry: str | None = Field(default=None, max_length=32)
    active: bool = True


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_hours: float | None = None
    handle_factor: float = 1.0
    max_handle_hours: float | None = None


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matter_code: str = Field(max_length=16)
    area_code: str = Field(max_length=12)
    unit_code: str = Field(max_length=32)
    rule_kind: str = Field(max_length=16)
    note: str = Field(default="", max_length=256)
