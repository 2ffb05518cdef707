"""Telephony subcommands: ``asterisk provision|render|start|stop|status``, ``ami-bridge``, ``agi``,
``simulate-calls``. Heavy imports stay inside the commands so ``callcenter --help`` is fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

asterisk_app = typer.Typer(help="Provision and run the Asterisk 22 chroot.", no_args_is_help=True)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(1)


def _refuse_during_tests(wait_s: float = 0.0) -> None:
    """A pytest run owns Asterisk while it holds ``var/asterisk/test.lock``: do not touch it then.

    ``wait_s`` > 0: wait that long for the run to finish (provisioning queues up like the tests do).
    """
    import fcntl
    import time

    from callcenter.plugins.telephony.provision import TEST_LOCK_PATH as lock_path

    if not lock_path.exists():
        return
    deadline = time.monotonic() + wait_s
    told = False
    with open(lock_path) as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    _fail(
                        f"a test run is using Asterisk (it holds {lock_path}); try again when it is finished"
                    )
                if not told:
                    typer.echo(f"waiting for the test run that holds {lock_path} to finish ...", err=True)
                    told = True
                time.sleep(1.0)
        fcntl.flock(lock, fcntl.LOCK_UN)


@asterisk_app.command("provision")
def provision_cmd(
    clone_from: Annotated[
        Path | None,
        typer.Option(
            help="copy this ready root filesystem instead of debootstrap (a second node on one host)"
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for a test run that holds the Asterisk lock (0 = refuse)")
    ] = 0.0,
) -> None:
    """Create the root filesystem if missing (debootstrap), render configs, install prompts. Idempotent."""
    from callcenter.config import get_settings
    from callcenter.plugins.telephony.provision import ProvisionError, provision

    _refuse_during_tests(wait_s=wait)
    try:
        info = provision(get_settings(), clone_from=clone_from)
    except ProvisionError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(info, ensure_ascii=False))


@asterisk_app.command("start")
def start_cmd(
    foreground: Annotated[bool, typer.Option(help="Stay attached; stop Asterisk on Ctrl-C.")] = False,
    render: Annotated[bool, typer.Option(help="Re-render configs and prompts first.")] = True,
) -> None:
    """Start Asterisk (chroot ROOT asterisk -f) and wait for FullyBooted."""
    from callcenter.config import get_settings
    from callcenter.plugins.telephony.provision import (
        AsteriskProcess,
        ProvisionError,
        provision,
        rootfs_ready,
    )

    _refuse_during_tests()
    settings = get_settings()
    proc = AsteriskProcess(settings)
    try:
        if render and rootfs_ready(settings.asterisk.rootfs) and proc.pid() is None:
            provision(settings)
        pid = proc.start()
    except ProvisionError as exc:
        _fail(str(exc))
    typer.echo(f"asterisk running (pid {pid}), AMI {settings.ami.host}:{settings.ami.port}")
    if foreground:
        try:
            while proc.pid() is not None:
                import time

                time.sleep(1)
        except KeyboardInterrupt:
            proc.stop()


@asterisk_app.command("stop")
def stop_cmd() -> None:
    """Stop Asterisk cleanly (core stop now, then signals)."""
    from callcenter.config import get_settings
    from callcenter.plugins.telephony.provision import AsteriskProcess

    _refuse_during_tests()
    stopped = AsteriskProcess(get_settings()).stop()
    typer.echo("asterisk stopped" if stopped else "asterisk was not running")


@asterisk_app.command("status")
def status_cmd() -> None:
    """Provisioned? running? FullyBooted? plus the AMI bridge health key."""
    from callcenter.config import get_settings
    from callcenter.events import redis_client
    from callcenter.plugins.telephony.ami.bridge import health_key
    from callcenter.plugins.telephony.provision import AsteriskProcess

    settings = get_settings()
    info = AsteriskProcess(settings).status()
    info["node"] = settings.asterisk.node
    try:
        raw = redis_client(settings.redis_url).get(health_key(settings.asterisk.node))
        info["ami_bridge"] = json.loads(raw) if raw else None
    except Exception as exc:
        info["ami_bridge"] = f"unknown ({exc})"
    typer.echo(json.dumps(info, ensure_ascii=False, indent=1))
    if not info.get("running"):
        raise typer.Exit(3)


def _add_to_section(text: str, section: str, lines: list[str]) -> str:
    """Insert ``lines`` at the end of ``[section]`` of an Asterisk config (after its last option)."""
    out = text.splitlines()
    header = next((i for i, line in enumerate(out) if line.strip().startswith(f"[{section}]")), None)
    if header is None:
        raise ValueError(f"no [{section}] section")
    end = next((i for i in range(header + 1, len(out)) if out[i].strip().startswith("[")), len(out))
    last = header
    for i in range(header + 1, end):
        if out[i].strip() and not out[i].lstrip().startswith(";"):
            last = i
    out[last + 1 : last + 1] = lines
    return "\n".join(out) + "\n"


@asterisk_app.command("render")
def render_cmd(
    dest: Annotated[Path, typer.Option(help="Output root: DEST/etc/asterisk and DEST/usr/share/asterisk.")],
    ami_bind: Annotated[
        str | None, typer.Option(help="AMI bind address (default: settings.ami.host).")
    ] = None,
    ami_permit: Annotated[
        list[str] | None, typer.Option(help="Extra network allowed to log in to AMI, e.g. 172.28.0.0/16.")
    ] = None,
    sip_bind: Annotated[str | None, typer.Option(help="SIP (UDP) bind address.")] = None,
    external_address: Annotated[
        str | None, typer.Option(help="Public address announced in SIP/SDP when Asterisk is behind NAT.")
    ] = None,
    local_net: Annotated[
        list[str] | None, typer.Option(help="Networks reached without NAT (with --external-address).")
    ] = None,
    sounds: Annotated[
        bool, typer.Option(help="Also generate and copy the prompts (espeak-ng + sox).")
    ] = True,
) -> None:
    """Render configs and prompts into DEST for an Asterisk outside the chroot (e.g. a container)."""
    from callcenter.config import get_settings
    from callcenter.plugins.telephony.provision import (
        ProvisionError,
        install_sounds,
        render_template,
        template_values,
    )

    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic ValidationError: the reason, not a traceback
        _fail(f"configuration error: {exc}")
    try:
        values = template_values(settings)
        if ami_bind:
            values["ami_bind"] = ami_bind
        if sip_bind:
            values["sip_bind"] = sip_bind
        templates = sorted(settings.asterisk.conf_dir.glob("*.conf"))
        if not templates:
            raise ProvisionError(f"no *.conf templates in {settings.asterisk.conf_dir}")
        etc = dest / "etc/asterisk"
        etc.mkdir(parents=True, exist_ok=True)
        for tpl in templates:
            text = render_template(tpl.read_text(encoding="utf-8"), values, tpl.name)
            if tpl.name == "manager.conf" and ami_permit:
                text = _add_to_section(text, values["ami_username"], [f"permit = {n}" for n in ami_permit])
            if tpl.name == "pjsip.conf" and external_address:
                nat = [f"external_media_address = {external_address}"]
                nat += [f"external_signaling_address = {external_address}"]
                nat += [f"local_net = {n}" for n in local_net or ()]
                text = _add_to_section(text, "transport-udp", nat)
            out = etc / tpl.name
            out.write_text(text, encoding="utf-8")
            if tpl.name == "manager.conf":
                out.chmod(0o600)
        counts = (
            install_sounds(dest, settings.asterisk.conf_dir, cache_dir=dest / ".prompt-cache")
            if sounds
            else {}
        )
    except (ProvisionError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"dest": str(dest), "configs": len(templates), "sounds": counts}))


def ami_bridge_cmd() -> None:
    """Run the AMI bridge: events -> call rows and Redis streams; Redis commands -> AMI actions."""
    from callcenter.config import get_settings
    from callcenter.observability import start_metrics_server
    from callcenter.plugins.telephony.ami.bridge import AMIConfig, run_bridge

    s = get_settings()
    start_metrics_server(s, "ami-bridge")
    run_bridge(
        AMIConfig(
            host=s.ami.host,
            port=s.ami.port,
            username=s.ami.username,
            secret=s.ami.secret,
            reconnect_min_s=s.ami.reconnect_min_s,
            reconnect_max_s=s.ami.reconnect_max_s,
        ),
        s.database_url,
        s.redis_url,
        default_queue=s.asterisk.queue,
        node=s.asterisk.node,
    )


def agi_cmd(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings.fastagi_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings.fastagi_port).")] = None,
) -> None:
    """Run the FastAGI server (IVR handlers intake, status, return_visit)."""
    import logging
    import signal
    import threading

    from callcenter.config import get_settings
    from callcenter.events import redis_client
    from callcenter.observability import start_metrics_server
    from callcenter.plugins.telephony.agi.handlers import IVRContext, IVRHandlers
    from callcenter.plugins.telephony.agi.server import FastAGIServer

    s = get_settings()
    start_metrics_server(s, "agi")
    server = FastAGIServer.from_settings(
        (host or s.fastagi_host, port or s.fastagi_port),
        IVRHandlers(IVRContext(s.database_url, redis_client(s.redis_url))).table(),
        s.telephony,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start_in_thread()
    typer.echo(f"FastAGI listening on {server.server_address[0]!s}:{server.port}")
    log = logging.getLogger("callcenter.plugins.telephony.agi")
    log.info("FastAGI listening on %s:%d", server.server_address[0], server.port)
    done.wait()
    server.stop()
    typer.echo(json.dumps(server.stats.snapshot()))
    log.info("FastAGI stopped", extra={"stats": server.stats.snapshot()})


def simulate_calls_cmd(
    count: Annotated[int, typer.Option(help="Number of calls.")] = 1,
    rate: Annotated[float, typer.Option(help="Calls started per second.")] = 1.0,
    audio: Annotated[
        Path | None, typer.Option(help="Directory of WAV clips the callers speak (default: shared clips).")
    ] = None,
    dtmf: Annotated[
        str, typer.Option(help="Key groups separated by '|', e.g. '1' or '2|2026112200001#'.")
    ] = "1",
    number: Annotated[
        list[str] | None, typer.Option(help="Dialled number(s); default: all hotlines.")
    ] = None,
    agents: Annotated[int, typer.Option(help="Simulated agents to add to the queue (0 = none).")] = 2,
    talk: Annotated[int, typer.Option(help="Seconds a simulated agent talks.")] = 3,
    agent_penalty: Annotated[
        int,
        typer.Option(
            help="Queue penalty of the simulated agents (above 0: they answer only when no real agent can)."
        ),
    ] = 0,
    hold: Annotated[int, typer.Option(help="Seconds a caller stays on the line at most.")] = 120,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the last call to end.")] = 180.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per call, then a summary line.")
    ] = False,
) -> None:
    """Place simulated calls into 12345 / 96010 (needs the AMI bridge and the FastAGI server)."""
    import time

    from callcenter.config import SHARED_DIR, get_settings
    from callcenter.events import redis_client
    from callcenter.plugins.telephony.simulator import SimOptions, Simulator, install_clips, summarize

    s = get_settings()
    if count < 1 or rate <= 0:
        _fail("--count must be >= 1 and --rate > 0")
    clips_dir = audio or SHARED_DIR / "data" / "speech" / "8k"
    try:
        sounds = install_clips(clips_dir, s.asterisk.rootfs)
    except (ValueError, OSError) as exc:
        _fail(f"audio: {exc}")
    opts = SimOptions(
        count=count,
        rate=rate,
        numbers=tuple(number) if number else tuple(s.asterisk.hotline_numbers),
        keys=dtmf,
        sounds=sounds,
        hold_s=hold,
        agents=agents,
        talk_s=talk,
        queue=s.asterisk.queue,
        timeout_s=timeout,
        agent_penalty=agent_penalty,
    )
    client = redis_client(s.redis_url)
    started = time.monotonic()

    def show(r: dict[str, object]) -> None:
        if as_json:
            typer.echo(json.dumps(r, ensure_ascii=False))
        else:
            typer.echo(
                f"{r['dialled']} {r['uniqueid']} answered={r['answered']} wait={r['queue_wait']} "
                f"agent={r['agent']} cause={r['hangup_cause']} call_id={r['call_id']}"
            )

    try:
        results = Simulator(client, opts).run(on_result=show)
    except TimeoutError as exc:
        _fail(f"{exc} (is `callcenter ami-bridge` running?)")
    summary = summarize(results, time.monotonic() - started)
    typer.echo(json.dumps({"summary": summary}, ensure_ascii=False), err=not as_json)
    if summary["lost"]:
        sys.exit(2)


def register(app: typer.Typer) -> None:
    """Add the telephony subcommands to the ``callcenter`` app."""
    app.add_typer(asterisk_app, name="asterisk")
    app.command("ami-bridge")(ami_bridge_cmd)
    app.command("agi")(agi_cmd)
    app.command("simulate-calls")(simulate_calls_cmd)
