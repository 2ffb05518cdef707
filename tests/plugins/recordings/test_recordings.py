"""Recordings: collected from the Asterisk spool after hangup into the storage root, linked to the call
and case, expired by retention, played only by allowed roles (every playback and refusal audited),
shown with an <audio> player in the case detail (Chromium)."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.config import AsteriskSettings, RecordingSettings, Settings
from callcenter.db.base import utcnow
from callcenter.db.models import AuditEntry, Call, Case, Recording
from callcenter.db.session import session_scope
from callcenter.plugins.recordings.store import apply_retention, collect, sweep
from tests.plugins.console.conftest import LiveServer, login, seed_console, start_server, stop_server

CLIP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "speech" / "8k" / "funasr_short.wav"


def _settings(tmp_path: Path, db: str, redis_url: str = "redis://127.0.0.1:6379/15") -> Settings:
    return Settings(
        mode="test",
        database_url=db,
        redis_url=redis_url,
        asterisk=AsteriskSettings(rootfs=tmp_path / "rootfs"),
        recordings=RecordingSettings(root=tmp_path / "store", retention_days=30),
    )


def _call_with_file(
    settings: Settings, db: str, uid: str, *, with_case: bool = True
) -> tuple[int, str | None]:
    """A finished, answered call whose MixMonitor file lies in the spool (a real clip), and its case."""
    spool = settings.asterisk.rootfs / "var/spool/asterisk/monitor"
    spool.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CLIP, spool / f"{uid}.wav")
    now = utcnow()
    with session_scope(db) as s:
        call = Call(
            uniqueid=uid,
            caller_number="13800138000",
            agent="seat1",
            started_at=now - timedelta(minutes=2),
            answered_at=now - timedelta(minutes=1),
            ended_at=now - timedelta(seconds=30),
            recording=f"/var/spool/asterisk/monitor/{uid}.wav",
        )
        s.add(call)
        s.flush()
        number = None
        if with_case:
            number = f"20261202{call.id:05d}"
            s.add(
                Case(
                    number=number,
                    status="dispatched",
                    call_id=call.id,
                    caller_phone="13800138000",
                    description="楼下饭馆油烟太大",
                    unit_code="S110101001",
                )
            )
        return call.id, number


def test_collect_moves_measures_links_and_expires(tmp_path: Path, sqlite_url: str) -> None:
    seed_console(sqlite_url)
    settings = _settings(tmp_path, sqlite_url)
    call_id, number = _call_with_file(settings, sqlite_url, "pbx1-1790000000.11")
    # an ended call that was never bridged: no file, given up after a while
    with session_scope(sqlite_url) as s:
        s.add(
            Call(
                uniqueid="pbx1-1790000000.12",
                started_at=utcnow() - timedelta(hours=1),
                ended_at=utcnow() - timedelta(minutes=30),
                recording="/var/spool/asterisk/monitor/pbx1-1790000000.12.wav",
            )
        )
    with session_scope(sqlite_url) as s:
        res = collect(s, settings)
    assert res.collected == 1 and res.missing == 1
    with session_scope(sqlite_url) as s:
        rec = s.scalar(select(Recording).where(Recording.call_id == call_id))
        assert rec is not None
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None and rec.case_id == case.id
        path = settings.recordings.root / rec.path
        assert path.is_file() and rec.path.endswith("pbx1-1790000000.11.wav")
        assert rec.size_bytes == CLIP.stat().st_size and abs(rec.duration_s - 5.55) < 0.1
        assert len(rec.sha256) == 64 and rec.data["rate"] == 8000
        assert (rec.expires_at - rec.created_at).days == 30
        never = s.scalar(select(Call).where(Call.uniqueid == "pbx1-1790000000.12"))
        assert never is not None and never.recording is None
    assert not (settings.asterisk.rootfs / "var/spool/asterisk/monitor/pbx1-1790000000.11.wav").exists()
    # idempotent: nothing new, nothing lost
    with session_scope(sqlite_url) as s:
        assert sweep(s, settings).collected == 0
    # retention: the file goes, the row stays marked
    with session_scope(sqlite_url) as s:
        assert apply_retention(s, settings, now=utcnow() + timedelta(days=29)) == 0
        assert apply_retention(s, settings, now=utcnow() + timedelta(days=31)) == 1
    with session_scope(sqlite_url) as s:
        rec = s.scalar(select(Recording).where(Recording.call_id == call_id))
        assert rec is not None and rec.deleted_at is not None and rec.data["deleted_reason"] == "retention"
    assert not path.exists()


def test_crash_between_move_and_row_loses_nothing(tmp_path: Path, sqlite_url: str) -> None:
    """The file was moved but the process died before the row: the next sweep finds it in the store."""
    seed_console(sqlite_url)
    settings = _settings(tmp_path, sqlite_url)
    call_id, _ = _call_with_file(settings, sqlite_url, "pbx1-1790000000.21", with_case=False)
    src = settings.asterisk.rootfs / "var/spool/asterisk/monitor/pbx1-1790000000.21.wav"
    with session_scope(sqlite_url) as s:
        call = s.get(Call, call_id)
        assert call is not None
        dest = settings.recordings.root / f"{call.started_at:%Y/%m/%d}/pbx1-1790000000.21.wav"
    dest.parent.mkdir(parents=True)
    src.rename(dest)
    with session_scope(sqlite_url) as s:
        assert collect(s, settings).collected == 1
    with session_scope(sqlite_url) as s:
        rec = s.scalar(select(Recording).where(Recording.call_id == call_id))
        assert rec is not None and rec.size_bytes == CLIP.stat().st_size


@pytest.fixture
def rec_server(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[dict[str, Any]]:
    seed_console(sqlite_url)
    settings = _settings(tmp_path, sqlite_url, redis_url)
    call_id, number = _call_with_file(settings, sqlite_url, "pbx1-1790000000.31")
    with session_scope(sqlite_url) as s:
        collect(s, settings)
    live = start_server(sqlite_url, redis_url)
    live.app.state.settings = settings  # the same app, with this test's storage root
    try:
        yield {"live": live, "number": number, "settings": settings, "call_id": call_id}
    finally:
        stop_server(live)


def _audits(db: str, action: str) -> list[AuditEntry]:
    with session_scope(db) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())
        s.expunge_all()
        return rows


def test_playback_is_role_checked_and_audited(rec_server: dict[str, Any]) -> None:
    live: LiveServer = rec_server["live"]
    number = rec_server["number"]
    listing = httpx.get(f"{live.url}/api/recordings/case/{number}", headers=live.headers("super1"))
    assert listing.status_code == 200, listing.text
    recs = listing.json()["recordings"]
    assert len(recs) == 1 and recs[0]["case_number"] == number and recs[0]["agent"] == "seat1"
    url = live.url + recs[0]["url"]
    audio = httpx.get(url, headers=live.headers("super1"))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content == CLIP.read_bytes()
    played = _audits(live.database_url, "recording.played")
    assert len(played) == 1 and played[0].actor_name == "super1" and played[0].detail["case"] == number
    # an agent may not listen (default listen roles: supervisor, admin); the refusal is audited too
    assert httpx.get(url, headers=live.headers("agent1")).status_code == 403
    assert (
        httpx.get(f"{live.url}/api/recordings/case/{number}", headers=live.headers("agent1")).status_code
        == 403
    )
    refused = _audits(live.database_url, "recording.refused")
    assert {r.actor_name for r in refused} == {"agent1"} and len(refused) == 2
    # a unit handler does not even see the case
    assert httpx.get(url, headers=live.headers("water1")).status_code == 403
    assert httpx.get(url).status_code == 401
    assert (
        httpx.get(f"{live.url}/api/recordings/999999/audio", headers=live.headers("super1")).status_code
        == 404
    )
    # after retention the row says so and the file is gone
    with session_scope(live.database_url) as s:
        apply_retention(s, rec_server["settings"], now=utcnow() + timedelta(days=31))
    assert httpx.get(url, headers=live.headers("super1")).status_code == 410
    again = httpx.get(f"{live.url}/api/recordings/case/{number}", headers=live.headers("super1")).json()
    assert again["recordings"][0]["deleted"] is True and again["recordings"][0]["url"] is None


@pytest.mark.browser
def test_case_detail_plays_the_recording(rec_server: dict[str, Any], browser: Any) -> None:
    live: LiveServer = rec_server["live"]
    number = rec_server["number"]
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        login(page, "super1")
        page.evaluate("(n) => showCase(n)", number)
        player = page.locator("#case-modal #case-recordings audio")
        expect(player).to_have_count(1)
        expect(page.locator("#case-recordings h2")).to_have_text("通话录音")
        duration = page.evaluate(
            """async () => {
                const a = document.querySelector('#case-recordings audio');
                a.muted = true;
                await a.play();
                await new Promise((ok) => setTimeout(ok, 300));
                return a.duration;
            }"""
        )
        assert abs(duration - 5.55) < 0.1
        assert len(_audits(live.database_url, "recording.played")) >= 1
        # an agent's case detail shows no recordings section
        page2 = ctx.new_page()
        ctx.clear_cookies()
        login(page2, "agent1")
        page2.evaluate("(n) => showCase(n)", number)
        expect(page2.locator("#case-modal")).to_have_count(1)
        page2.wait_for_timeout(500)
        expect(page2.locator("#case-recordings")).to_have_count(0)
    finally:
        ctx.close()


def test_a_real_wav_is_measured(tmp_path: Path) -> None:
    with wave.open(str(CLIP)) as w:
        assert w.getframerate() == 8000


def test_transcribed_from_the_recording_after_hangup(tmp_path: Path, sqlite_url: str) -> None:
    """Live whole-call transcription was off: each party of the recording is transcribed by the real
    Whisper model through the FILE_TRANSCRIBER port, once, after the intake description."""
    from callcenter.db.models import TranscriptUtterance
    from callcenter.plugins.recordings.transcribe import needs_transcript, transcribe_pending
    from callcenter.ports import FILE_TRANSCRIBER
    from callcenter.registry import provide

    seed_console(sqlite_url)
    settings = _settings(tmp_path, sqlite_url)
    uid = "pbx1-1790000000.41"
    call_id, _ = _call_with_file(settings, sqlite_url, uid)
    spool = settings.asterisk.rootfs / "var/spool/asterisk/monitor"
    speech = CLIP.parent
    shutil.copyfile(speech / "paddlespeech_zh.wav", spool / f"{uid}-caller.wav")  # 我认为跑步最重要的…
    shutil.copyfile(speech / "funasr_asr_example.wav", spool / f"{uid}-agent.wav")  # 每一天都要快乐喔
    with session_scope(sqlite_url) as s:
        s.add(TranscriptUtterance(call_id=call_id, seq=0, speaker="caller", text="描述", engine="live"))
    with session_scope(sqlite_url) as s:
        assert collect(s, settings).collected == 1
    transcribe = provide(FILE_TRANSCRIBER, settings)
    with session_scope(sqlite_url) as s:
        assert transcribe_pending(s, settings, transcribe) == 1
        assert transcribe_pending(s, settings, transcribe) == 0  # once
        rec = s.scalar(select(Recording).where(Recording.call_id == call_id))
        assert rec is not None and not needs_transcript(s, rec)
        rows = s.scalars(
            select(TranscriptUtterance)
            .where(TranscriptUtterance.call_id == call_id)
            .order_by(TranscriptUtterance.seq)
        ).all()
        assert rows[0].text == "描述" and [r.seq for r in rows] == list(range(len(rows)))
        caller = "".join(r.text for r in rows if r.speaker == "caller" and r.seq > 0)
        agent = "".join(r.text for r in rows if r.speaker == "agent")
        print("caller:", caller, "| agent:", agent)
        assert "跑步" in caller and "快乐" in agent
        assert all(r.engine.endswith("/recording") for r in rows[1:])
