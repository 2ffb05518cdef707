"""The one enumeration of case sources (工单来源): labels for all, and what an agent may enter by hand is
what the case API accepts."""

from __future__ import annotations

import typing

from callcenter.api.schemas import CaseCreate
from callcenter.domain import sources
from callcenter.domain.sources import AGENT_ENTERED, SOURCE_LABELS, Source


def test_every_source_has_a_chinese_label() -> None:
    assert set(SOURCE_LABELS) == set(Source)
    assert sources.label("city_dispatch") == "市级派单" and sources.label("unknown") == "unknown"


def test_agent_entered_sources_are_the_case_api_channels() -> None:
    allowed = typing.get_args(CaseCreate.model_fields["channel"].annotation)
    assert set(allowed) == {str(s) for s in AGENT_ENTERED}
    # the sources with their own intake are not typed in by an agent
    assert not {Source.OPEN311, Source.CITY_DISPATCH, Source.GRID} & set(AGENT_ENTERED)


def test_source_values_fit_the_channel_column() -> None:
    from callcenter.db.models import Case

    width = Case.__table__.c.channel.type.length  # type: ignore[attr-defined]
    assert all(len(s.value) <= width for s in Source)
