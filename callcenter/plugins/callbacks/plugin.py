"""Manifest of the callbacks plugin (回拨 / 回访): the dialler loop and the ``callbacks`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin

if TYPE_CHECKING:
    import typer

    from callcenter.config import Settings


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.callbacks.cli import register

    register(app)


def _dialler(settings: Settings) -> Loop | None:
    from callcenter.plugins.callbacks.dialler import callbacks_loop

    return callbacks_loop(settings)


plugin = Plugin(
    name="callbacks",
    summary="queue callbacks and return visits (回访) dialled through the AMI bridge",
    cli=_cli,
    loops={"callbacks": _dialler},
)
