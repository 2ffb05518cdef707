"""The ``callcenter`` command (typer).

Core subcommands live here; each capability adds its own through a ``register(app)`` function in
its ``cli`` module (see ``_PLUGINS``).
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from callcenter.cli_core import register as register_core

app = typer.Typer(
    help="12345 / 96010 hotline contact center: telephony, speech, routing and closed-loop cases.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

#: Capability modules that add subcommands (module path -> must expose ``register(app)``).
_PLUGINS = (
    "callcenter.plugins.telephony.cli",  # asterisk …, ami-bridge, agi, simulate-calls
    "callcenter.plugins.speech.cli",  # models list|install, transcribe, speech-service
    "callcenter.plugins.classifier.cli",  # suggest, train
    "callcenter.worker.cli",  # worker (callbacks, return visits, sweeps)
    "callcenter.plugins.callbacks.cli",  # callbacks list|schedule|dnc|tick
)


def _load_plugins() -> None:
    register_core(app)
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a capability that is not there at all is skipped; a broken one must fail loudly.
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(app)


_load_plugins()


def main() -> None:
    from pydantic import ValidationError

    from callcenter.config import get_settings
    from callcenter.observability import TEXT_FORMAT, service_for_argv, setup_logging

    json_logs = False
    try:
        settings = get_settings()
    except Exception:  # the command itself reports a configuration error; log as text meanwhile
        logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    else:
        setup_logging(settings, service_for_argv(sys.argv))
        json_logs = settings.observability.log_format == "json"
    try:
        app()
    except ValidationError as exc:  # bad or missing settings: say which, without a traceback
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        print(f"configuration error: {problems}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        if not json_logs:
            raise
        # JSON logs: a crash is one JSON record too, not a rich traceback
        logging.getLogger("callcenter").critical("command failed", exc_info=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
