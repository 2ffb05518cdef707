"""``callcenter demo``: the whole stack on one machine, with simulated callers (演示环境).

Steps, each shown as it runs; a failing step says what failed and how to fix it:
migrate and seed the SQLite database (demo logins included), train the suggester if there is no
model, start Asterisk 22, start every service (API + console, FastAGI, AMI bridge, speech, worker),
then keep simulated callers dialling 12345 / 96010 with real Mandarin clips. Ctrl-C stops all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from callcenter.config import VAR_DIR, get_settings

console = Console()


#: Settings the demo uses unless the environment sets them (see README "What the demo simulates").
DEMO_ENV = {
    "CALLCENTER_CALLBACKS__DIAL_TEMPLATE": "Local/{phone}@sim-citizen",
    "CALLCENTER_CALLBACKS__WINDOW_START": "00:00",
    "CALLCENTER_CALLBACKS__WINDOW_END": "23:59",
    "CALLCENTER_TELEPHONY__SIM_CITIZEN_KEYS": "1|1",
}
#: The demo login that brings in the text-channel complaints (seeded by ``seed --demo-users``).
DEMO_AGENT = ("agent1", "agent1-demo")
#: Queue penalty of the demo's simulated agents: the logged-in agent (penalty 0) gets the calls while
#: their browser phone is registered, joined and not paused; the simulated agent takes the rest.
SIM_AGENT_PENALTY = 10


class StepFailed(Exception):
    def __init__(self, step: str, hint: str) -> None:
        super().__init__(step)
        self.step = step
        self.hint = hint


def _cc(*args: str, log: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args], capture_output=True, text=True, env=os.environ
    )
    if log is not None:
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"$ callcenter {' '.join(args)}\n{r.stdout}{r.stderr}\n")
    if check and r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise StepFailed(f"callcenter {' '.join(args)}", "\n".join(tail))
    return r


def _step(title: str) -> None:
    console.print(f"[bold blue]==>[/bold blue] {title}")


def demo(
    ctx: typer.Context,
    callers: Annotated[int, typer.Option(help="simulated calls per round (0 = none)")] = 3,
    every: Annotated[float, typer.Option(help="seconds between rounds of simulated calls")] = 60.0,
    sim_agents: Annotated[int, typer.Option(help="simulated agents answering from the queue")] = 1,
) -> None:
    """Start the demo stack with simulated callers; prints the console URL and demo logins."""
    from callcenter.cli_core import available_services
    from callcenter.cli_support import command_names
    from callcenter.supervisor import Supervisor

    commands = command_names(ctx)

    def _has(command: str) -> bool:
        return command in commands

    # what the demo simulates, unless set by hand: the citizen of a return visit or callback is the
    # simulated one in Asterisk ([sim-citizen], answering the survey with keys 1|1: resolved,
    # satisfied), and calls may be placed at any hour
    for key, value in DEMO_ENV.items():
        os.environ.setdefault(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.mode == "production":
        console.print("[red]the demo runs in demo mode: set CALLCENTER_MODE=demo[/red]")
        raise typer.Exit(2)
    log_dir = VAR_DIR / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    setup_log = log_dir / "setup.log"
    asterisk_started = False
    try:
        _step("database: migrate and seed (SQLite)")
        _cc("db", "upgrade", log=setup_log)
        out = _cc("seed", "--demo-users", "--demo-history", log=setup_log)
        logins = [line.strip() for line in out.stderr.splitlines() if "demo login" in line]
        if _has("train"):
            _step("suggester: train unless the current model is usable")
            _cc("train", "--if-needed", log=setup_log)
        if _has("asterisk"):
            _step("Asterisk 22: provision and start")
            _cc("asterisk", "provision", log=setup_log)
            _cc("asterisk", "start", log=setup_log)
            asterisk_started = True
        _step("starting services")
        sup = Supervisor(available_services(log_dir=log_dir), echo=console.print)
        sup.install_signal_handlers()
        sup.start_all()
        base = f"http://{settings.api_host}:{settings.api_port}"
        for _ in range(120):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise StepFailed("API did not come up", f"see {log_dir / 'serve.log'}")
        _step("text channel: realistic complaints through the case API (suggested matter, place, unit)")
        try:
            from callcenter.plugins.demo.texts import seed_texts

            seeded = seed_texts(base, DEMO_AGENT[0], DEMO_AGENT[1])
            console.print(
                f"  {len(seeded.created)} new case(s), {seeded.replayed} already there, "
                f"{seeded.suggested} with a suggested matter"
                + (f"; failed: {'; '.join(seeded.failed)}" if seeded.failed else "")
            )
        except httpx.HTTPError as exc:  # the demo still runs; the texts are an extra
            console.print(f"  [yellow]skipped:[/yellow] {exc}")
        console.print(f"\n[bold green]console:[/bold green] {base}/    API docs: {base}/docs")
        for line in logins:
            console.print(f"  {line}")
        console.print(f"  logs: {log_dir}\n  Ctrl-C stops everything.\n")

        sim: subprocess.Popen[bytes] | None = None
        next_round = time.monotonic() + 5

        def tick() -> None:
            nonlocal sim, next_round
            if callers <= 0 or not _has("simulate-calls"):
                return
            if sim is not None and sim.poll() is None:
                return
            if time.monotonic() >= next_round:
                with (log_dir / "simulator.log").open("ab") as fh:
                    sim = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "callcenter.cli",
                            "simulate-calls",
                            "--count",
                            str(callers),
                            "--rate",
                            "0.2",
                            "--agents",
                            str(sim_agents),
                            "--agent-penalty",
                            str(SIM_AGENT_PENALTY),
                            "--json",
                        ],
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                    )
                console.print(
                    f"simulated callers: {callers} call(s) placed (log {log_dir / 'simulator.log'})"
                )
                next_round = time.monotonic() + every

        try:
            sup.run(tick)
        finally:
            if sim is not None and sim.poll() is None:
                sim.terminate()
    except StepFailed as exc:
        console.print(f"[bold red]FAILED:[/bold red] {exc.step}\n{exc.hint}\nfull output: {setup_log}")
        raise typer.Exit(1) from exc
    finally:
        if asterisk_started:
            _cc("asterisk", "stop", check=False)
