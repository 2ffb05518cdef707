"""The browser softphone against the real Asterisk 22, in Chromium with a fake microphone that plays a
real Mandarin clip:

* the agent logs in; the page fetches this login's SIP password (never in the page source) and
  registers over WSS (the badge says 话机就绪);
* the agent joins the queue from the console (PJSIP/8001 is now the browser), a simulated citizen
  calls 12345, presses 1 and waits; the browser rings, the agent clicks 接听;
* the citizen speaks clip A, the agent's microphone sends clip B: the agent's browser hears A (its
  remote audio recorded with MediaRecorder) and the citizen hears B (a MixMonitor on the citizen's
  side) — each checked against the clip actually sent and a control clip not sent;
* the agent hangs up from the softphone; the call row is answered by seat1 via PJSIP/8001.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.config import RecordingSettings, Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Call, Recording
from callcenter.db.session import session_scope
from callcenter.plugins.recordings.store import collect
from tests.plugins.console.conftest import (
    LiveServer,
    login,
    screenshot,
    seed_console,
    start_server,
    stop_server,
)
from tests.support.softphone import (
    CHROMIUM,
    RECORDER_JS,
    SPEECH,
    chromium_args,
    clip_score,
    decode,
    place_talker_call,
    read_wav,
    rms_db,
    stop_recorder,
    tone_ratio,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

CLIP_CITIZEN = SPEECH / "8k" / "paddlespeech_features_test.wav"  # 9.4 s, played by the citizen
CLIP_AGENT = SPEECH / "16k" / "paddlespeech_zh.wav"  # 5.0 s, the agent's (fake) microphone, looped
CLIP_CONTROL = SPEECH / "16k" / "wenet_aishell-BAC009S0724W0121.wav"  # sent by nobody


@pytest.fixture
def phone_stack(asterisk: Any, sqlite_url: str, telephony_redis_url: str) -> Iterator[dict[str, Any]]:
    from tests.support.asterisk import start_stack

    seed_console(sqlite_url)
    asterisk.ensure_running()
    asterisk.reset_globals()
    started = time.time()
    spool = asterisk.rootfs / "var/spool/asterisk/monitor"
    with start_stack(asterisk, sqlite_url, telephony_redis_url) as stack:
        live = start_server(sqlite_url, telephony_redis_url)
        live.app.state.console_command_timeout_s = 15.0
        try:
            yield {"stack": stack, "live": live, "asterisk": asterisk}
        finally:
            stop_server(live)
            from callcenter.commands import send_command, wait_result

            with contextlib.suppress(Exception):
                wait_result(
                    stack.redis, send_command(stack.redis, "queue_remove", interface="PJSIP/8001"), 10
                )
            # the recordings and "heard" files of this test's calls do not pile up in the shared spool
            for f in spool.glob("*.wav"):
                if f.name.startswith(("talk-", "heard-")) and f.stat().st_mtime >= started - 1:
                    f.unlink(missing_ok=True)


@pytest.fixture
def phone_browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(CLIP_AGENT))
        yield b
        b.close()


def test_credentials_need_login_and_a_softphone_extension(phone_stack: dict[str, Any]) -> None:
    live: LiveServer = phone_stack["live"]
    assert httpx.post(f"{live.url}/api/softphone/credentials").status_code == 401
    page = httpx.get(f"{live.url}/console/agent.html").text
    assert "softphone.js" in page and "password" not in page.lower()  # the page carries no credential
    r1 = httpx.post(f"{live.url}/api/softphone/credentials", headers=live.headers("seat1"))
    assert r1.status_code == 200, r1.text
    body = r1.json()
    assert body["extension"] == "8001" and body["ws_url"].startswith("wss://") and len(body["password"]) >= 24
    assert r1.headers["cache-control"] == "no-store"
    # each login gets a new password, written into Asterisk's WebRTC endpoint
    r2 = httpx.post(f"{live.url}/api/softphone/credentials", headers=live.headers("seat1"))
    assert r2.json()["password"] != body["password"]
    rootfs = phone_stack["asterisk"].rootfs
    conf = (rootfs / "etc/asterisk/pjsip_softphone.conf").read_text()
    assert r2.json()["password"] in conf and body["password"] not in conf
    auth = phone_stack["asterisk"].cli("pjsip show auth 8001-webrtc-auth")
    assert "8001" in auth
    # a user whose extension is not a browser softphone gets a clear refusal
    r3 = httpx.post(f"{live.url}/api/softphone/credentials", headers=live.headers("agent1"))
    assert r3.status_code in (403, 409) and r3.json()["detail"]


def _wait_call(database_url: str, uid: str, timeout: float = 30.0) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(database_url) as s:
            call = s.scalar(select(Call).where(Call.uniqueid == uid))
            if call is not None and call.ended_at is not None:
                s.expunge(call)
                return call
        time.sleep(0.3)
    raise TimeoutError(f"call {uid} did not end")


def test_browser_answers_a_citizen_with_audio_both_ways(
    phone_stack: dict[str, Any], phone_browser: Any, tmp_path: Path
) -> None:
    live: LiveServer = phone_stack["live"]
    stack = phone_stack["stack"]
    rootfs: Path = phone_stack["asterisk"].rootfs
    ctx = phone_browser.new_context(base_url=live.url, viewport={"width": 1600, "height": 900})
    ctx.set_default_timeout(20_000)
    try:
        page = ctx.new_page()
        login(page, "seat1")
        expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=20_000)
        expect(page.locator("#sp-state")).to_have_text("话机就绪")
        contacts = phone_stack["asterisk"].cli("pjsip show contacts")
        assert "8001/sip:" in contacts, contacts

        page.click("#btn-join")
        expect(page.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)

        heard = f"/var/spool/asterisk/monitor/heard-{int(time.time())}"
        _, uid = place_talker_call(
            stack.redis, audio_sound="callcenter/speech/" + CLIP_CITIZEN.stem, heard_path=heard, hold_s=40
        )
        expect(page.locator("#sp-state")).to_have_attribute("data-state", "ringing", timeout=60_000)
        expect(page.locator("#sp-msg")).to_contain_text("13900001234")
        screenshot(page, "softphone-ringing")
        page.click("#sp-answer")
        expect(page.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=15_000)
        page.evaluate(RECORDER_JS)
        # the citizen starts 1 s after the bridge and speaks 9.4 s
        time.sleep(12.5)
        screenshot(page, "softphone-talking")
        blob = stop_recorder(page)
        page.click("#sp-hangup")
        expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=15_000)

        call = _wait_call(live.database_url, uid)
        assert call.answered_at is not None and call.agent in ("seat1", "PJSIP/8001", "8001")

        # what the agent's browser heard: the citizen's clip, not the control clip
        agent_heard, rate = decode(blob)
        (tmp_path / "agent-heard.webm").write_bytes(blob)
        assert len(agent_heard) / rate > 8.0
        a = clip_score(agent_heard, rate, CLIP_CITIZEN)
        a_ctrl = clip_score(agent_heard, rate, CLIP_CONTROL)
        # what the citizen heard: the agent's microphone clip
        heard_file = rootfs / (heard.lstrip("/") + ".wav")
        deadline = time.monotonic() + 10
        while not heard_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        citizen_heard, crate = read_wav(heard_file)
        b = clip_score(citizen_heard, crate, CLIP_AGENT)
        b_ctrl = clip_score(citizen_heard, crate, CLIP_CONTROL)
        print(
            f"agent heard citizen clip {a:.2f} (control {a_ctrl:.2f}, {rms_db(agent_heard):.1f} dB); "
            f"citizen heard agent clip {b:.2f} (control {b_ctrl:.2f}, {rms_db(citizen_heard):.1f} dB)"
        )
        assert rms_db(agent_heard) > -45 and rms_db(citizen_heard) > -45
        assert a > 0.6 and a > a_ctrl + 0.2
        assert b > 0.6 and b > b_ctrl + 0.2
        for f in (heard_file, heard_file.with_name(heard_file.stem + "-mix.wav")):
            f.unlink(missing_ok=True)

        # the call was recorded (MixMonitor, both legs): collected into the storage root after hangup
        settings = Settings(
            mode="test",
            database_url=live.database_url,
            recordings=RecordingSettings(root=tmp_path / "recordings"),
        )
        deadline = time.monotonic() + 20
        rec = None
        while rec is None and time.monotonic() < deadline:
            with session_scope(live.database_url) as s:
                collect(s, settings, now=utcnow() + timedelta(seconds=5))
                rec = s.scalar(select(Recording).where(Recording.uniqueid == uid))
                if rec is not None:
                    s.expunge(rec)
            time.sleep(0.5)
        assert rec is not None, "the answered call has no recording"
        root = settings.recordings.root
        mixed, mrate = read_wav(root / rec.path)
        caller_leg, _ = read_wav(root / rec.data["legs"]["caller"])
        agent_leg, _ = read_wav(root / rec.data["legs"]["agent"])
        m_b = clip_score(mixed, mrate, CLIP_AGENT)
        l_a, l_a_ctrl = (
            clip_score(caller_leg, mrate, CLIP_CITIZEN),
            clip_score(caller_leg, mrate, CLIP_CONTROL),
        )
        l_b, l_b_ctrl = clip_score(agent_leg, mrate, CLIP_AGENT), clip_score(agent_leg, mrate, CLIP_CONTROL)
        print(
            f"recording {rec.duration_s:.1f} s: mix has agent clip {m_b:.2f}; caller leg {l_a:.2f} "
            f"(control {l_a_ctrl:.2f}), agent leg {l_b:.2f} (control {l_b_ctrl:.2f})"
        )
        assert rec.duration_s > 10 and rms_db(mixed) > -45 and m_b > 0.6
        assert l_a > 0.6 and l_a > l_a_ctrl + 0.2
        assert l_b > 0.6 and l_b > l_b_ctrl + 0.2
    finally:
        ctx.close()


def _globals(asterisk: Any, name: str) -> str:
    out = asterisk.cli("dialplan show globals")
    for line in out.splitlines():
        if f"{name}=" in line:
            return line.split("=", 1)[1].strip()
    return ""


def _agent_page(browser: Any, live: LiveServer, username: str) -> tuple[Any, Any]:
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1600, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    login(page, username)
    expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=20_000)
    return ctx, page


def test_auto_answer_mute_hold_dtmf_and_transfers(phone_stack: dict[str, Any], phone_browser: Any) -> None:
    """Auto-answer, mute, hold (the citizen hears hold music), DTMF to the citizen, attended transfer
    to a second browser agent, then that agent's blind transfer back."""
    live: LiveServer = phone_stack["live"]
    stack = phone_stack["stack"]
    ast = phone_stack["asterisk"]
    from callcenter.db.models import User
    from tests.kernel.conftest import _HASH

    with session_scope(live.database_url) as s:
        s.add(
            User(username="seat2", password_hash=_HASH, role="agent", extension="8002", display_name="seat2")
        )
    ctx1, p1 = _agent_page(phone_browser, live, "seat1")
    ctx2, p2 = _agent_page(phone_browser, live, "seat2")
    try:
        p1.check("#sp-auto")  # auto-answer (kept in localStorage)
        p1.click("#btn-join")
        expect(p1.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)
        tag = f"T{int(time.time())}"
        _, uid = place_talker_call(
            stack.redis,
            audio_sound="callcenter/speech/" + CLIP_CONTROL.stem,
            hold_s=60,
            read_keys=2,
            tag=tag,
            heard_path=f"/var/spool/asterisk/monitor/heard-{tag}",
        )
        # auto-answered: no click
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=60_000)

        p1.click("#sp-mute")
        expect(p1.locator("#sp-mute")).to_have_attribute("data-muted", "1")
        assert p1.evaluate("CCSoftphone.session.isMuted().audio") is True
        p1.click("#sp-mute")
        assert p1.evaluate("CCSoftphone.session.isMuted().audio") is False

        p1.click("#sp-hold")
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "held", timeout=10_000)
        expect(p1.locator("#sp-state")).to_have_text("通话保持")
        time.sleep(3.0)  # the citizen hears hold music meanwhile (checked on its recording below)
        p1.click("#sp-hold")
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=10_000)

        # DTMF from the agent reaches the citizen (the citizen's Read() got the keys); it listens after
        # its clip (4.3 s)
        time.sleep(5.5)
        p1.fill("#sp-dtmf", "42")
        p1.click("#sp-dtmf-send")
        deadline = time.monotonic() + 10
        while _globals(ast, f"SIM_DIGITS_{tag}") != "42" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _globals(ast, f"SIM_DIGITS_{tag}") == "42"

        # attended transfer: consult 8002 (the citizen waits on hold), 8002 answers, complete
        p1.fill("#sp-xfer-to", "8002")
        p1.click("#sp-consult")
        expect(p2.locator("#sp-state")).to_have_attribute("data-state", "ringing", timeout=20_000)
        p2.click("#sp-answer")
        expect(p2.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=15_000)
        expect(p1.locator("#sp-complete")).to_be_enabled()
        p1.click("#sp-complete")
        try:
            expect(p1.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=20_000)
        except AssertionError:
            print("P1", p1.evaluate("JSON.stringify(CCSoftphone.events)"), p1.inner_text("#sp-msg"))
            print("P2", p2.evaluate("JSON.stringify(CCSoftphone.events)"))
            print(ast.cli("core show channels concise"))
            raise
        # seat2 now talks with the citizen: its call is bridged to the hotline leg
        time.sleep(1.0)
        assert p2.evaluate("CCSoftphone.state") == "talking"
        channels = ast.cli("core show channels concise")
        assert uid in channels, "the citizen's call ended with the transfer"

        # blind transfer back to 8001 (auto-answer on)
        p2.fill("#sp-xfer-to", "8001")
        p2.click("#sp-blind")
        expect(p2.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=20_000)
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=20_000)
        screenshot(p1, "softphone-after-transfers")
        assert uid in ast.cli("core show channels concise")
        p1.click("#sp-hangup")
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=15_000)
        call = _wait_call(live.database_url, uid)
        assert call.answered_at is not None
        heard_file = ast.rootfs / f"var/spool/asterisk/monitor/heard-{tag}.wav"
        heard, rate = read_wav(heard_file)
        assert tone_ratio(heard, rate, 440.0) > 8.0, "the citizen heard no hold music"
        for f in (heard_file, heard_file.with_name(heard_file.stem + "-mix.wav")):
            f.unlink(missing_ok=True)
    finally:
        ctx1.close()
        ctx2.close()


def test_clear_messages_when_microphone_or_server_fail(phone_stack: dict[str, Any]) -> None:
    live: LiveServer = phone_stack["live"]
    from playwright.sync_api import sync_playwright

    # no fake devices: this machine has no microphone at all
    args = [a for a in chromium_args(CLIP_AGENT) if "fake" not in a]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            # no microphone (or no permission): the agent is told what to do
            ctx = b.new_context(base_url=live.url)
            page = ctx.new_page()
            login(page, "seat1")
            expect(page.locator("#sp-msg")).to_contain_text("麦克风", timeout=20_000)
            print("no microphone:", page.inner_text("#sp-msg"))
            ctx.close()
        finally:
            b.close()
        b = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(CLIP_AGENT))
        try:
            # the phone server unreachable: registration fails with the address tried
            live.app.state.settings.softphone.ws_url = "wss://127.0.0.1:9/ws"
            ctx = b.new_context(base_url=live.url)
            page = ctx.new_page()
            login(page, "seat1")
            expect(page.locator("#sp-state")).to_have_attribute("data-state", "failed", timeout=20_000)
            expect(page.locator("#sp-msg")).to_contain_text("无法连接电话服务器")
            expect(page.locator("#sp-msg")).to_contain_text("wss://127.0.0.1:9/ws")
            ctx.close()
        finally:
            live.app.state.settings.softphone.ws_url = ""
            b.close()


CLIP_SUPERVISOR = SPEECH / "16k" / "funasr_short.wav"  # the supervisor's microphone (5.5 s)


@dataclass
class SupervisedCall:
    """A simulated citizen's call answered by seat1's browser phone, with the supervisor (chief1)
    logged in on a second Chromium whose microphone plays ``CLIP_SUPERVISOR``."""

    agent: Any  # seat1's page
    supervisor: Any  # chief1's page
    row: Any  # the agent's row on the supervisor's wallboard (监听 / 耳语 / 强插 buttons)
    uid: str  # the hotline leg
    heard_file: Path  # what the citizen heard (MixMonitor on its side)


@contextlib.contextmanager
def supervised_call(
    phone_stack: dict[str, Any], phone_browser: Any, tag: str, delay_s: float
) -> Iterator[SupervisedCall]:
    """``delay_s``: when the citizen starts its clip after the bridge (9.4 s long)."""
    live: LiveServer = phone_stack["live"]
    ctx1, p1 = _agent_page(phone_browser, live, "seat1")
    sup_browser = phone_browser.browser_type.launch(
        executable_path=CHROMIUM, args=chromium_args(CLIP_SUPERVISOR)
    )
    try:
        ctx2, sup = _agent_page(sup_browser, live, "chief1")
        p1.check("#sp-auto")
        p1.click("#btn-join")
        expect(p1.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)
        heard = f"/var/spool/asterisk/monitor/heard-{tag}{int(time.time())}"
        _, uid = place_talker_call(
            phone_stack["stack"].redis,
            audio_sound="callcenter/speech/" + CLIP_CITIZEN.stem,
            heard_path=heard,
            delay_s=delay_s,
            hold_s=60,
        )
        expect(p1.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=60_000)
        row = sup.locator('#agents [data-agent="PJSIP/8001"]')
        expect(row.locator(".state")).to_have_attribute("data-state", "talking", timeout=15_000)
        heard_file = phone_stack["asterisk"].rootfs / (heard.lstrip("/") + ".wav")
        yield SupervisedCall(p1, sup, row, uid, heard_file)
        for f in (heard_file, heard_file.with_name(heard_file.stem + "-mix.wav")):
            f.unlink(missing_ok=True)
        ctx2.close()
    finally:
        sup_browser.close()
        ctx1.close()


def test_supervisor_listens_and_whispers_from_the_browser(
    phone_stack: dict[str, Any], phone_browser: Any
) -> None:
    """The supervisor's own browser phone (8009) is rung into ChanSpy by 监听 / 耳语 on the wallboard:
    listening, it hears the citizen; whispering, the agent hears the supervisor and the citizen does not."""
    live: LiveServer = phone_stack["live"]
    with supervised_call(phone_stack, phone_browser, "S", delay_s=6) as c:
        p1, sup, row = c.agent, c.supervisor, c.row
        row.locator("button").nth(0).click()  # 监听
        expect(sup.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=20_000)
        sup.evaluate(RECORDER_JS)
        time.sleep(14.0)  # the citizen speaks 6 s after the bridge, for 9.4 s
        listened, rate = decode(stop_recorder(sup))
        # ChanSpy on the agent's channel hears both parties; the agent's (louder, looped) microphone
        # clip dominates the mix
        s_a = max(clip_score(listened, rate, CLIP_CITIZEN), clip_score(listened, rate, CLIP_AGENT))
        s_ctrl = clip_score(listened, rate, CLIP_CONTROL)
        sup.click("#sp-hangup")
        expect(sup.locator("#sp-state")).to_have_attribute("data-state", "registered", timeout=15_000)

        # whisper: the agent hears the supervisor, the citizen does not
        row.locator("button").nth(1).click()  # 耳语
        expect(sup.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=20_000)
        time.sleep(2.0)  # the citizen has finished its clip; ChanSpy's whisper audio flows
        p1.evaluate(RECORDER_JS)
        time.sleep(11.0)  # two loops of the supervisor's 5.5 s clip
        agent_heard, arate = decode(stop_recorder(p1))
        w_sup, w_ctrl = (
            clip_score(agent_heard, arate, CLIP_SUPERVISOR),
            clip_score(agent_heard, arate, CLIP_CONTROL),
        )
        sup.click("#sp-hangup")
        p1.click("#sp-hangup")
        _wait_call(live.database_url, c.uid)
        citizen_heard, crate = read_wav(c.heard_file)
        c_sup = clip_score(citizen_heard, crate, CLIP_SUPERVISOR)
        c_agent = clip_score(citizen_heard, crate, CLIP_AGENT)
        print(
            f"listen: supervisor heard the call {s_a:.2f} (control {s_ctrl:.2f}); whisper: agent heard "
            f"supervisor {w_sup:.2f} (control {w_ctrl:.2f}); citizen heard supervisor {c_sup:.2f}, "
            f"agent {c_agent:.2f}"
        )
        assert s_a > 0.6 and s_a > s_ctrl + 0.2
        assert w_sup > 0.6 and w_sup > w_ctrl + 0.2
        assert c_agent > 0.6 and c_sup < c_agent - 0.15


def test_supervisor_barges_in_and_the_citizen_hears_the_supervisor(
    phone_stack: dict[str, Any], phone_browser: Any
) -> None:
    """强插 (barge, ChanSpy ``B``): the supervisor speaks to both parties. The agent mutes its
    softphone first, so what the citizen hears while the supervisor is in is the supervisor alone
    (with whisper, tested above, the citizen hears nothing of the supervisor)."""
    live: LiveServer = phone_stack["live"]
    # the citizen says nothing (its clip would start after the test): it only listens
    with supervised_call(phone_stack, phone_browser, "B", delay_s=50) as c:
        c.agent.click("#sp-mute")
        c.row.locator("button").nth(2).click()  # 强插
        expect(c.supervisor.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=20_000)
        time.sleep(13.0)  # two loops of the supervisor's 5.5 s clip
        c.supervisor.click("#sp-hangup")
        expect(c.supervisor.locator("#sp-state")).to_have_attribute(
            "data-state", "registered", timeout=15_000
        )
        c.agent.click("#sp-hangup")
        _wait_call(live.database_url, c.uid)
        citizen_heard, crate = read_wav(c.heard_file)
        c_sup = clip_score(citizen_heard, crate, CLIP_SUPERVISOR)
        c_agent = clip_score(citizen_heard, crate, CLIP_AGENT)
        c_ctrl = clip_score(citizen_heard, crate, CLIP_CONTROL)
        print(f"barge: citizen heard supervisor {c_sup:.2f}, muted agent {c_agent:.2f}, control {c_ctrl:.2f}")
        assert c_sup > 0.6 and c_sup > c_ctrl + 0.2 and c_sup > c_agent + 0.2
