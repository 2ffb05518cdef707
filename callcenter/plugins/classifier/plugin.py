"""Manifest of the classifier plugin (智能派单建议): ``train`` / ``suggest`` commands, ``POST /api/suggest``,
and the :data:`~callcenter.ports.SUGGESTER` port the pipeline and the text channels use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from callcenter.ports import SUGGESTER, SuggestFn
from callcenter.registry import Plugin

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from callcenter.config import Settings


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.classifier.cli import register

    register(app)


def _routers(_: Settings) -> Iterable[APIRouter]:
    from callcenter.plugins.classifier.http import router

    return (router,)


def suggester(settings: Settings) -> SuggestFn:
    """The hot-reloading suggester over the current trained model, routing with the responsibility list
    of ``settings.database_url`` (as edited in the admin screen, checked at every suggestion).

    Raises :class:`~callcenter.plugins.classifier.suggester.ModelNotFound` (a ``FileNotFoundError``)
    now, rather than on every text, when no model has been trained.
    """
    from callcenter.plugins.classifier.dbrules import for_database
    from callcenter.plugins.classifier.suggester import SuggesterHolder

    holder = SuggesterHolder()
    holder.get()
    rules = for_database(settings.database_url)

    def suggest(text: str, hint: dict[str, Any] | None) -> dict[str, Any]:
        current = holder.get()
        return current.suggest(text, caller_hint=hint, routing=rules.routing(current.catalogue)).to_dict()

    return suggest


plugin = Plugin(
    name="classifier",
    summary="matter, place and owning-unit suggestions (jieba + scikit-learn) and their training",
    cli=_cli,
    routers=_routers,
    provides={SUGGESTER: suggester},
)
