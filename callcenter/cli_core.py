"""Kernel subcommands: ``db``, ``seed``, ``catalogue-build``, ``user``, ``serve``, ``worker`` and ``up``.

Everything else comes from the plugins (:func:`callcenter.registry.plugins`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callcenter.cli_support import console
from callcenter.cli_support import settings_or_exit as _settings
from callcenter.registry import ServiceSpec
from callcenter.supervisor import Service

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
calendar_app = typer.Typer(
    help="Working calendar (工作日历): official holidays and 调休 workdays for time limits.",
    no_args_is_help=True,
)

#: The kernel's own long-running services (the plugins declare theirs in their manifests).
KERNEL_SERVICES = (ServiceSpec("serve", order=10), ServiceSpec("worker", order=90))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the configured database to the newest schema."""
    from callcenter.db import migrate

    url = _settings().database_url
    migrate.upgrade(url, revision)
    console.print(f"database at revision {migrate.current(url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    from callcenter.db import migrate

    typer.echo(migrate.current(_settings().database_url) or "(empty database)")


def seed(
    data_dir: Annotated[Path | None, typer.Option(help="catalogue data folder")] = None,
    demo_users: Annotated[bool, typer.Option(help="create the demo logins (demo/test mode only)")] = False,
    demo_history: Annotated[
        bool, typer.Option(help="add ~90 days of demo cases marked 演示数据 (demo/test mode only)")
    ] = False,
    history_days: Annotated[int, typer.Option(help="days of demo history", min=1, max=400)] = 90,
    history_per_day: Annotated[float, typer.Option(help="demo cases per weekday", min=1)] = 60.0,
) -> None:
    """Load areas, units, the matter catalogue, the responsibility list and time limits."""
    from callcenter.db.session import session_scope
    from callcenter.seed import SeedError, seed_all, seed_demo_users

    settings = _settings()
    try:
        with session_scope(settings.database_url) as session:
            report = seed_all(session, data_dir)
            console.print(
                f"seeded {report.areas} areas, {report.units} units, {report.categories} categories, "
                f"{report.matters} matters, {report.rules} responsibility rules, "
                f"{report.policies} time-limit policies"
            )
            if demo_users:
                if settings.mode == "production":
                    console.print("[red]demo users are refused in production mode[/red]")
                    raise typer.Exit(2)
                for username, password, role in seed_demo_users(session):
                    console.print(f"  demo login {username} / {password} ({role})")
            if demo_history:
                if settings.mode == "production":
                    console.print("[red]demo history is refused in production mode[/red]")
                    raise typer.Exit(2)
                from callcenter.demo_history import seed_demo_history

                h = seed_demo_history(session, days=history_days, per_day=history_per_day)
                if h.skipped:
                    console.print(f"demo history: {h.skipped}")
                else:
                    console.print(
                        f"demo history (演示数据) {h.start} .. {h.end}: {h.cases} cases, {h.events} events, "
                        f"{h.surveys} return visits, {h.open_cases} open ({h.overdue} overdue); "
                        f"slow units {', '.join(h.slow_units)}; hot spots: {'; '.join(h.hot_spots)}"
                    )
    except SeedError as exc:
        console.print(f"[red]seed failed:[/red] {exc}")
        raise typer.Exit(1) from exc


def catalogue_build(
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write the CSVs (default callcenter/data/catalogue)")
    ] = None,
    shared_dir: Annotated[
        Path | None, typer.Option(help="the reference data (default ../shared/data)")
    ] = None,
) -> None:
    """Regenerate the matter catalogue, units, responsibility list and areas CSVs from ../shared."""
    import json

    from callcenter.catalogue.build import DATA_DIR, SHARED_DIR, main

    shared = shared_dir or SHARED_DIR
    if not shared.is_dir():
        console.print(f"[red]no reference data in {shared}[/red] (pass --shared-dir)")
        raise typer.Exit(2)
    typer.echo(json.dumps(main(out_dir or DATA_DIR, shared), ensure_ascii=False))


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="agent | supervisor | unit_handler | admin")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str, typer.Option(help="display name")] = "",
    unit: Annotated[str | None, typer.Option(help="unit code (unit handlers)")] = None,
    extension: Annotated[str | None, typer.Option(help="softphone extension (agents)")] = None,
    node: Annotated[
        str | None, typer.Option(help="Asterisk node of the softphone (multi-node centers)")
    ] = None,
    update: Annotated[bool, typer.Option(help="reset an existing user")] = False,
) -> None:
    """Create a user with a role."""
    from callcenter.db.session import session_scope
    from callcenter.seed import SeedError, add_user

    try:
        with session_scope(_settings().database_url) as session:
            user = add_user(
                session,
                username,
                password,
                role,
                display_name=name,
                unit_code=unit,
                extension=extension,
                node=node,
                update=update,
            )
            console.print(f"user {user.username} ({user.role}) saved")
    except SeedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API and the web console (uvicorn)."""
    import uvicorn

    from callcenter.db.migrate import schema_problem

    settings = _settings()
    problem = schema_problem(settings.database_url)
    if problem is not None:
        console.print(f"[red]not starting:[/red] {problem}")
        raise typer.Exit(2)
    uvicorn.run(
        "callcenter.api.asgi:app",
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        log_level="info",
        # JSON logs: uvicorn's loggers go through the root handler of setup_logging, no own format
        log_config=None if settings.observability.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=5,  # open SSE streams must not hold a shutdown
    )


def worker(
    only: Annotated[
        list[str] | None, typer.Option(help="run only these loops (outbox, sweep, pipeline, …)")
    ] = None,
) -> None:
    """Run the worker: outbox relay, transcript → suggestion pipeline and every plugin's loops."""
    import signal
    import threading

    from callcenter.observability import start_metrics_server
    from callcenter.worker.runner import run_worker

    settings = _settings()
    start_metrics_server(settings, "worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_worker(settings, only, stop)


def up(
    only: Annotated[list[str] | None, typer.Option(help="start only these services")] = None,
) -> None:
    """Run every service (API, worker, FastAGI, AMI bridge, speech, …); Ctrl-C stops all."""
    from callcenter.db.migrate import schema_problem
    from callcenter.supervisor import Supervisor

    problem = schema_problem(_settings().database_url)
    if problem is not None:  # the services would only loop on `no such table`
        console.print(f"[red]not starting:[/red] {problem}")
        raise typer.Exit(2)

    sup = Supervisor(available_services(only), echo=console.print)
    sup.install_signal_handlers()
    sup.start_all()
    sup.run()


def available_services(only: list[str] | None = None, log_dir: Path | None = None) -> list[Service]:
    """The long-running services of the kernel and of every installed plugin, in start order."""
    from callcenter import registry

    specs = sorted((*KERNEL_SERVICES, *registry.services()), key=lambda s: (s.order, s.name))
    return [
        Service(spec.name, spec.args, log=(log_dir / f"{spec.name}.log") if log_dir else None)
        for spec in specs
        if not only or spec.name in only
    ]


@calendar_app.command("load")
def calendar_load(
    path: Annotated[Path, typer.Argument(help="CSV date,kind,name (kind: holiday | workday)")],
) -> None:
    """Load a State Council holiday notice (e.g. next year's) on top of the chinese-calendar data."""
    from callcenter.db.session import session_scope
    from callcenter.services.calendar import load_notice_file

    settings = _settings()
    if not path.is_file():
        console.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    try:
        with session_scope(settings.database_url) as session:
            notice = load_notice_file(session, path)
    except ValueError as exc:
        console.print(f"[red]{path}: {exc}[/red] (nothing loaded)")
        raise typer.Exit(1) from exc
    console.print(
        f"loaded {len(notice.holidays)} days off and {len(notice.workdays)} 调休 workdays "
        f"for {', '.join(str(y) for y in sorted(notice.years))}"
    )


@calendar_app.command("show")
def calendar_show(year: Annotated[int, typer.Argument(help="year, e.g. 2027")]) -> None:
    """List the official days off and 调休 workdays of a year (warns when no notice covers it)."""
    from callcenter.db.session import session_scope
    from callcenter.services.calendar import work_calendar, year_days

    settings = _settings()
    with session_scope(settings.database_url) as session:
        cal = work_calendar(session)
    if not cal.covers(year):
        console.print(
            f"[yellow]no official notice for {year}: working days are Monday to Friday only; load one "
            f"with `callcenter calendar load FILE`[/yellow]"
        )
    for d, kind, name in year_days(cal, year):
        typer.echo(f"{d.isoformat()}\t{kind}\t{name}")


def register(app: typer.Typer) -> None:
    """Add the core subcommands to ``app``."""
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(calendar_app, name="calendar")
    app.command("seed")(seed)
    app.command("catalogue-build")(catalogue_build)
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("up")(up)
