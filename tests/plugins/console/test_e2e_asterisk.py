"""End to end through the real Asterisk 22: the console in Chromium, the AMI bridge, FastAGI IVR,
simulated callers, the real transcript → suggestion pipeline with a real (small) trained model.

* The agent joins the queue and pauses / resumes with a reason from the console; the state shown is
  what Asterisk reports back (QueueMemberAdded / QueueMemberPause).
* With the agent paused a simulated caller waits in the queue and gives up: the supervisor's board
  shows the queued caller, then the abandon.
* The agent resumes; the next call is connected to the agent's queue member (a simulated answering
  phone); the console pops the call, the transcript arrives (published on the call's streams as the
  speech service does; the speech area tests AudioSocket → text itself), the pipeline's suggestion
  appears, the agent confirms, and the case is created for that call with its number shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter import events as ev
from callcenter.db.models import Call, Case
from callcenter.db.session import get_sessionmaker, session_scope
from tests.plugins.console.conftest import (
    LiveServer,
    login,
    screenshot,
    seed_console,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

CATALOGUE = Path(__file__).resolve().parents[2] / "kernel" / "fixtures" / "catalogue"
#: The browser agent's queue member: a simulated phone that answers and talks 40 s.
AGENT_IFACE = "Local/sim-91-40@sim-agents/n"
TEXT = "东华门街道这边楼下饭馆油烟太大了，熏得家里没法开窗"


@pytest.fixture
def e2e(asterisk: Any, sqlite_url: str, telephony_redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    import redis as redis_lib

    from callcenter.catalogue import load_catalogue
    from callcenter.pipeline import SuggestionPipeline
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import train
    from tests.support.asterisk import start_stack

    seed_console(sqlite_url, {"seat9": ("agent", None, AGENT_IFACE)})
    train(
        tmp_path, progress=False, per_matter={"train": 24, "calib": 3, "test": 4}, seed=7, data_dir=CATALOGUE
    )
    suggester = Suggester.load(tmp_path, catalogue=load_catalogue(CATALOGUE), threshold=0.85)
    asterisk.reset_globals()
    client = redis_lib.Redis.from_url(telephony_redis_url)
    pipeline = SuggestionPipeline(
        get_sessionmaker(sqlite_url),
        client,
        lambda text, hint: suggester.suggest(text, caller_hint=hint).to_dict(),
    )
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run_forever, args=(stop,), daemon=True)
    with start_stack(asterisk, sqlite_url, telephony_redis_url) as stack:
        live = start_server(sqlite_url, telephony_redis_url)
        live.app.state.console_command_timeout_s = 15.0
        worker.start()
        try:
            yield {"stack": stack, "live": live, "redis": client}
        finally:
            stop.set()
            worker.join(10)
            stop_server(live)
            # leave the queue as we found it
            from callcenter.commands import send_command, wait_result

            try:
                aid = send_command(client, "queue_remove", interface=AGENT_IFACE, queue="hotline")
                wait_result(client, aid, 10)
            except Exception:
                pass
    client.close()


def _call_in_background(stack: Any, **options: Any) -> tuple[threading.Thread, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    t = threading.Thread(
        target=lambda: out.append(stack.place_call(agents=0, keys="1", **options)), daemon=True
    )
    t.start()
    return t, out


def test_console_with_real_asterisk(e2e: dict[str, Any], browser: Any) -> None:
    live: LiveServer = e2e["live"]
    stack = e2e["stack"]
    agent_ctx = sup_ctx = None
    try:
        agent_ctx = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900})
        sup_ctx = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900})
        agent_ctx.set_default_timeout(20_000)
        sup_ctx.set_default_timeout(20_000)
        agent = agent_ctx.new_page()
        login(agent, "seat9")
        sup = sup_ctx.new_page()
        login(sup, "super1")

        # join the queue through the AMI bridge; the state comes back from Asterisk
        agent.click("#btn-join")
        expect(agent.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)
        agent.select_option("#pause-reason", "training")
        agent.click("#btn-pause")
        expect(agent.locator("#my-state")).to_have_attribute("data-state", "paused", timeout=15_000)
        expect(agent.locator("#my-state")).to_contain_text("培训")
        expect(sup.locator(f'#agents [data-agent="{AGENT_IFACE}"] .state')).to_have_attribute(
            "data-state", "paused", timeout=5_000
        )

        # a caller waits while the only agent is paused, then gives up
        t1, first = _call_in_background(stack, hold_s=10)
        waiting = sup.locator('[data-queue="hotline"] [data-kpi="waiting"] .v')
        expect(waiting).to_have_text("1", timeout=30_000)
        screenshot(sup, "e2e-wallboard-queued")
        expect(waiting).to_have_text("0", timeout=30_000)
        expect(sup.locator('[data-queue="hotline"] [data-kpi="abandoned"] .v')).to_have_text(
            "100.0%", timeout=5_000
        )
        screenshot(sup, "e2e-wallboard-abandoned")
        t1.join(60)
        assert first and first[0]["answered"] is False

        # resume; the next caller reaches the agent and the console pops the call
        agent.click("#btn-resume")
        expect(agent.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)
        t2, second = _call_in_background(stack, hold_s=60)
        agent.wait_for_selector("#pop-body:not(.hidden)", timeout=60_000)
        uid = _wait_uid(live, stack)
        expect(agent.locator("#my-state")).to_have_attribute("data-state", "talking", timeout=10_000)
        number_shown = agent.inner_text("#pop-number")
        with session_scope(live.database_url) as s:
            call = s.scalar(select(Call).where(Call.uniqueid == uid))
            assert call is not None
            assert number_shown == call.caller_number

        # the speech service's output for this call → the pipeline's suggestion → the screen
        r = e2e["redis"]
        ev.publish_now(
            r,
            ev.transcript_stream(uid),
            "transcript.partial",
            {"uniqueid": uid, "seq": 0, "text": "东华门街道"},
        )
        final = {"uniqueid": uid, "seq": 0, "text": TEXT, "final": True}
        for stream in (ev.transcript_stream(uid), ev.STREAM_TRANSCRIPTS):
            ev.publish_now(r, stream, "transcript.final", final)
        agent.wait_for_selector("#suggestion .matter", timeout=30_000)
        expect(agent.locator("#transcript .final")).to_contain_text("饭馆")
        assert agent.input_value("#f-matter") == "0601001"
        agent.wait_for_function("document.getElementById('f-unit').value === 'S110101001'")
        screenshot(agent, "e2e-agent-screen-pop")
        agent.click("#btn-create")
        agent.wait_for_selector("#result:not(.hidden)")
        number = agent.inner_text("#case-number")
        screenshot(agent, "e2e-agent-case-created")
        with session_scope(live.database_url) as s:
            case = s.scalar(select(Case).where(Case.number == number))
            assert case is not None and case.status == "dispatched"
            assert case.call_id == s.scalar(select(Call.id).where(Call.uniqueid == uid))

        # hang up from the console (AMI Hangup through the bridge)
        agent.click("#btn-hangup")
        t2.join(60)
        assert second and second[0]["answered"] is True
        assert second[0]["agent"] in ("seat9", AGENT_IFACE)
    finally:
        for ctx in (agent_ctx, sup_ctx):
            if ctx is not None:
                ctx.close()


def _wait_uid(live: LiveServer, stack: Any, timeout: float = 30.0) -> str:
    """The uniqueid of the answered call (the bridge writes the call row on AgentConnect)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(live.database_url) as s:
            uid = s.scalar(
                select(Call.uniqueid).where(Call.answered_at.is_not(None)).order_by(Call.id.desc())
            )
        if uid:
            return str(uid)
        time.sleep(0.2)
    raise TimeoutError("no answered call")
