"""The ``callcenter`` command (typer).

The kernel's subcommands (``db``, ``seed``, ``user``, ``serve``, ``worker``, ``up``) come from
:mod:`callcenter.cli_core`; every installed plugin adds its own through the ``cli`` hook of its
manifest (:mod:`callcenter.registry`).
"""

from __future__ import annotations

import logging
import sys

import typer

from callcenter import registry
from callcenter.cli_core import register as register_core

app = typer.Typer(
    help="12345 / 96010 hotline contact center: telephony, speech, routing and closed-loop cases.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

register_core(app)
for _plugin in registry.plugins():
    if _plugin.cli is not None:
        _plugin.cli(app)


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
