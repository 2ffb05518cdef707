"""Shapes of the grid API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TaskIn(BaseModel):
    """任务核查: send a case to a grid worker to check on site."""

    model_config = ConfigDict(extra="forbid")

    case_number: str = Field(max_length=20)
    worker: str | None = Field(
        default=None, max_length=64, description="username; default: the grid's worker"
    )
    note: str | None = Field(default=None, max_length=2000)
    due_hours: float = Field(default=24.0, gt=0, le=24 * 30)


class PhotoOut(BaseModel):
    id: int
    stage: str
    width: int
    height: int
    size_bytes: int
    lat: float | None
    lon: float | None
    url: str
    thumb_url: str


class ReportOut(BaseModel):
    client_uuid: str
    case_number: str
    status: str
    status_label: str
    grid_code: str | None
    self_handled: bool
    lat: float | None
    lon: float | None
    location_source: str | None
    replayed: bool = False
    photos: list[PhotoOut] = Field(default_factory=list)
    suggested_matter: str | None = None
    suggested_unit: str | None = None


class TaskOut(BaseModel):
    id: int
    case_number: str
    description: str
    address: str
    status: str
    note: str | None
    due_at: str | None
    result: str | None
    confirmed: bool | None
    photos: list[PhotoOut] = Field(default_factory=list)
