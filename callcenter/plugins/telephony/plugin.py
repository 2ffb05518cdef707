"""Manifest of the telephony plugin (电话): Asterisk 22 provisioning, the FastAGI IVR server, the AMI
bridge, the call simulator and the whole-call transcription starter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.registry import Loop, Plugin, ServiceSpec

if TYPE_CHECKING:
    import typer

    from callcenter.config import Settings


def _cli(app: typer.Typer) -> None:
    from callcenter.plugins.telephony.cli import register

    register(app)


def _whole_call(settings: Settings) -> Loop | None:
    from callcenter.plugins.telephony.whole_call import whole_call_loop

    return whole_call_loop(settings)


plugin = Plugin(
    name="telephony",
    summary="Asterisk 22 (chroot), FastAGI IVR, AMI bridge, simulated callers, whole-call transcription",
    cli=_cli,
    loops={"whole_call": _whole_call},
    services=(ServiceSpec("agi", order=20), ServiceSpec("ami-bridge", order=30)),
)
