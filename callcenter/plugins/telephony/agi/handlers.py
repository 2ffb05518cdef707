"""FastAGI handlers of the hotline IVR: ``intake``, ``status`` and ``return_visit``.

Each handler talks to the channel through pyst2 (:class:`callcenter.plugins.telephony.agi.server.FastAGI`),
decides with the
pure rules of :mod:`callcenter.plugins.telephony.ivr` and reads/writes the database and Redis through small
adapter functions here. Channel variables it sets are documented in docs/telephony.md.

Before every keypad input the handler increments ``CC_IVR_WAIT`` (number of inputs the IVR has asked
for so far): consoles show it, and the call simulator uses it to press keys only when the IVR listens.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import registry
from callcenter.db.base import utcnow
from callcenter.db.models import Call, Case
from callcenter.db.session import session_scope
from callcenter.domain.callers import REPEAT_CALL_WINDOW
from callcenter.domain.survey import AnswerGrammar
from callcenter.events import audiosocket_key
from callcenter.plugins.telephony import ivr
from callcenter.plugins.telephony.agi.server import FastAGI, Handler
from callcenter.plugins.telephony.prompts import status_labels
from callcenter.ports import ANSWER_RECOGNISER, AnswerRecogniser, PortUnavailable
from callcenter.services.calls import get_or_create_call

log = logging.getLogger(__name__)

AUDIOSOCKET_TTL_S = 3600
MENU_TRIES = 3
CASE_NUMBER_TRIES = 3
INPUT_TIMEOUT_MS = 5000


@dataclass
class IVRContext:
    """Dependencies of the handlers (explicit, so tests and benchmarks can run them in-process)."""

    database_url: str
    redis: redis.Redis | None = None
    audiosocket_ttl_s: int = AUDIOSOCKET_TTL_S
    input_timeout_ms: int = INPUT_TIMEOUT_MS
    known_statuses: set[str] = field(default_factory=lambda: set(status_labels()))
    rootfs: Path | None = None  # Asterisk root filesystem (recorded answers); default from settings


class IVRSession:
    """One IVR session: the AGI connection plus bookkeeping of what was played and entered."""

    def __init__(self, agi: FastAGI, env: dict[str, str]) -> None:
        self.agi = agi
        self.env = env
        self.uniqueid = env["agi_uniqueid"]
        self.trail: list[dict[str, str]] = []
        self._waits: int | None = None

    def var(self, name: str) -> str:
        return str(self.agi.get_full_variable("${" + name + "}"))

    def set(self, name: str, value: str) -> None:
        self.agi.set_variable(name, value)

    def play(self, sound: str, escape: str = "") -> str:
        self.trail.append({"play": sound})
        return str(self.agi.stream_file(sound, escape))

    def say_digits(self, digits: str) -> None:
        self.trail.append({"say_digits": digits})
        self.agi.say_digits(digits)

    def ask(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Play ``prompt`` and collect up to ``max_digits`` keys (``#`` ends the input)."""
        if self._waits is None:
            raw = self.var("CC_IVR_WAIT")
            self._waits = int(raw) if raw.isdigit() else 0
        self._waits += 1
        self.set("CC_IVR_WAIT", str(self._waits))
        digits = str(self.agi.get_data(prompt, timeout_ms, max_digits))
        self.trail.append({"ask": prompt, "digits": digits})
        return digits


# --------------------------------------------------------------------------- adapters (DB, Redis)


def _call_fields(env: dict[str, str], linkedid: str, dialled: str, direction: str) -> dict[str, Any]:
    name = env.get("agi_calleridname", "")
    number = env.get("agi_callerid", "")
    return {
        "linkedid": linkedid or None,
        "direction": direction,
        "dialled_number": dialled or None,
        "caller_number": None if number in ("", "unknown") else number,
        "caller_name": None if name in ("", "unknown") else name,
        "channel": env.get("agi_channel"),
    }


def load_profile(session: Session, phone: str | None, uniqueid: str, linkedid: str) -> ivr.CallerProfile:
    if not phone:
        return ivr.CallerProfile(known=False, open_cases=0, repeat_caller=False)
    since = utcnow() - REPEAT_CALL_WINDOW
    others = (
        (Call.caller_number == phone)
        & (Call.uniqueid != uniqueid)
        & ((Call.linkedid.is_(None)) | (Call.linkedid != linkedid))
    )
    total = session.scalar(select(func.count()).select_from(Call).where(others)) or 0
    recent = session.scalar(select(func.count()).select_from(Call).where(others & (Call.started_at >= since)))
    cases = session.execute(
        select(Case.number, Case.status)
        .where(Case.caller_phone == phone)
        .order_by(Case.created_at.desc())
        .limit(200)
    ).all()
    return ivr.caller_profile(int(recent or 0), int(total), [(n, s) for n, s in cases])


def _merge_ivr_data(call: Call, key: str, value: Any) -> None:
    data = dict(call.data or {})
    ivr_data = dict(data.get("ivr") or {})
    ivr_data[key] = value
    data["ivr"] = ivr_data
    call.data = data


def _lock_call(session: Session, call: Call) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(call, with_for_update=True)


# --------------------------------------------------------------------------- handlers


class IVRHandlers:
    """The handler table for :class:`callcenter.plugins.telephony.agi.server.FastAGIServer`."""

    def __init__(self, ctx: IVRContext) -> None:
        self.ctx = ctx
        self._voice_answers: tuple[AnswerRecogniser, AnswerGrammar] | bool | None = None
        self._voice_record_ms = 4000

    def table(self) -> dict[str, Handler]:
        return {
            "intake": self.intake,
            "status": self.status,
            "return_visit": self.return_visit,
            "queue_callback": self.queue_callback,
        }

    # -- intake ----------------------------------------------------------------------------
    def intake(self, agi: FastAGI, env: dict[str, str]) -> None:
        """Look up the caller, run the main menu, set the channel variables for the dialplan."""
        s = IVRSession(agi, env)
        linkedid = s.var("CHANNEL(linkedid)")
        dialled = s.var("CC_DIALLED") or env.get("agi_extension", "")
        fields = _call_fields(env, linkedid, dialled, "in")
        with session_scope(self.ctx.database_url) as db:
            call = get_or_create_call(db, s.uniqueid, **fields)
            profile = load_profile(db, fields["caller_number"], s.uniqueid, linkedid)
            call_id = call.id
        for name, value in profile.channel_variables().items():
            s.set(name, value)
        s.set("CC_CALL_ID", str(call_id))

        choice: ivr.MenuChoice | None = None
        for attempt in range(MENU_TRIES):
            digits = s.ask("callcenter/menu", self.ctx.input_timeout_ms, 1)
            choice = ivr.parse_menu_choice(digits)
            if choice is not None:
                break
            if digits and attempt < MENU_TRIES - 1:
                s.play("callcenter/invalid")
        nxt = ivr.next_after_menu(choice)
        s.set("CC_MENU_CHOICE", choice.value if choice else "")
        extra: dict[str, Any] = {}
        if choice is ivr.MenuChoice.NEW_REQUEST:
            extra["audio_uuid"] = self._prepare_speech(s, linkedid, fields)
        elif choice is ivr.MenuChoice.CALLBACK:
            extra["callback_id"] = self._book_callback(s, call_id, fields["caller_number"])
            s.play("callcenter/callback-booked")
        s.set("CC_NEXT", nxt.value)
        with session_scope(self.ctx.database_url) as db:
            call = get_or_create_call(db, s.uniqueid, **fields)
            _lock_call(db, call)
            call.ivr_choice = choice.value if choice else "none"
            _merge_ivr_data(
                call, "intake", {"profile": profile.channel_variables(), **extra, "trail": s.trail}
            )

    def _prepare_speech(self, s: IVRSession, linkedid: str, fields: dict[str, Any]) -> str | None:
        """Give the speech step a UUID and tell the speech service whose audio it will get."""
        audio_uuid = str(uuid.uuid4())
        if self.ctx.redis is not None:
            payload = {
                "uniqueid": s.uniqueid,
                "linkedid": linkedid,
                "caller": fields["caller_number"],
                "dialled": fields["dialled_number"],
            }
            try:
                self.ctx.redis.set(
                    audiosocket_key(audio_uuid),
                    json.dumps(payload, ensure_ascii=False),
                    ex=self.ctx.audiosocket_ttl_s,
                )
            except redis.RedisError as exc:
                # Without the key the speech service cannot attribute the audio: skip the step.
                log.warning("intake %s: redis unavailable, speech step skipped: %s", s.uniqueid, exc)
                return None
        s.set("CC_AUDIO_UUID", audio_uuid)
        return audio_uuid

    def _book_callback(self, s: IVRSession, call_id: int, phone: str | None) -> int | None:
        """Menu 3: a queue callback (预约回拨), idempotent per call."""
        if not phone:
            return None
        from callcenter.services.callbacks import schedule

        now = utcnow()
        with session_scope(self.ctx.database_url) as db:
            try:
                cb, _created = schedule(
                    db,
                    kind="queue_callback",
                    key=f"ivr-callback:{s.uniqueid}",
                    phone=phone,
                    at=now,
                    max_attempts=_settings().callbacks.max_attempts,
                    call_id=call_id,
                    outcome={"source": "ivr", "uniqueid": s.uniqueid},
                )
            except ValueError as exc:  # a caller id that is not a phone number
                log.warning("intake %s: no callback booked: %s", s.uniqueid, exc)
                return None
            cb_id = cb.id
        s.set("CC_CALLBACK_ID", str(cb_id))
        return cb_id

    # -- status ----------------------------------------------------------------------------
    def status(self, agi: FastAGI, env: dict[str, str]) -> None:
        """Case status lookup (工单进度查询): number on the keypad, read back, then the state."""
        s = IVRSession(agi, env)
        outcome: dict[str, Any] = {"attempts": []}
        nxt = ivr.Next.HANGUP
        for _attempt in range(CASE_NUMBER_TRIES):
            digits = s.ask("callcenter/enter-case-number", self.ctx.input_timeout_ms * 2, 20)
            number = ivr.normalize_case_number(digits)
            found_status: str | None = None
            if number is not None:
                s.play("callcenter/you-entered")
                s.say_digits(number)
                with session_scope(self.ctx.database_url) as db:
                    found_status = db.scalar(select(Case.status).where(Case.number == number))
            outcome["attempts"].append({"digits": digits, "number": number, "status": found_status})
            if found_status is not None and number is not None:
                s.set("CC_CASE_NUMBER", number)
                s.set("CC_CASE_STATUS", found_status)
                s.play("callcenter/case-status-is")
                s.play(ivr.status_prompt(found_status, self.ctx.known_statuses))
                key = s.ask("callcenter/after-status", 3000, 1)
                nxt = ivr.Next.QUEUE if key == "0" else ivr.Next.HANGUP
                break
            s.set("CC_CASE_STATUS", "not_found")
            s.play("callcenter/case-not-found" if number is not None else "callcenter/invalid")
            key = s.ask("callcenter/retry-or-agent", 4000, 1)
            if key == "0":
                nxt = ivr.Next.QUEUE
                break
            if key != "1":
                break
        s.set("CC_NEXT", nxt.value)
        outcome["next"] = nxt.value
        outcome["trail"] = s.trail
        with session_scope(self.ctx.database_url) as db:
            call = db.scalar(select(Call).where(Call.uniqueid == s.uniqueid))
            if call is not None:
                _lock_call(db, call)
                _merge_ivr_data(call, "status", outcome)

    # -- return visit --------------------------------------------------------------------------
    def _voice(self) -> tuple[AnswerRecogniser, AnswerGrammar] | None:
        """The spoken-answer recogniser (the speech plugin's port) and its phrase table, or None when
        no voice model is configured or no plugin provides the port (keypad answers only)."""
        if self._voice_answers is None:
            settings = _settings()
            cb = settings.callbacks
            try:
                recogniser = registry.provide(ANSWER_RECOGNISER, settings)
            except PortUnavailable as exc:
                log.info("return visit: keypad answers only (%s)", exc)
                self._voice_answers = False
            else:
                grammar = (
                    AnswerGrammar.from_file(cb.voice_grammar_file)
                    if cb.voice_grammar_file
                    else AnswerGrammar.builtin(cb.voice_lang)
                )
                self._voice_answers = (recogniser, grammar)
                self._voice_record_ms = cb.voice_record_s * 1000
        return self._voice_answers if isinstance(self._voice_answers, tuple) else None

    def _listen(self, s: IVRSession, question: str, trail: list[dict[str, Any]]) -> tuple[str, Any]:
        """Record a spoken answer (a key pressed meanwhile wins); returns ``(key, voice answer)``."""
        voice = self._voice()
        if voice is None:
            return "", None
        n = int(s.var("CC_IVR_LISTEN") or 0) if s.var("CC_IVR_LISTEN").isdigit() else 0
        s.set("CC_IVR_LISTEN", str(n + 1))
        name = f"rv-{s.uniqueid}-{question}-{n + 1}".replace("/", "_")
        in_root = f"/var/spool/asterisk/tmp/{name}"
        res = s.agi.execute("RECORD FILE", in_root, "wav", '"123"', str(self._voice_record_ms), "0", "s=2")
        code = res.get("result", ("", ""))[0]
        # result is the ASCII code of an escape digit pressed, else 0 / 1 (timeout, silence)
        key = chr(int(code)) if code.isdigit() and chr(int(code)) in "123" else ""
        if key:
            trail.append({"listen": question, "digits": key})
            return key, None
        rootfs = self.ctx.rootfs or _settings().asterisk.rootfs
        wav = Path(str(rootfs) + in_root + ".wav")
        if not wav.is_file():
            trail.append({"listen": question, "error": "no recording"})
            return "", None
        recognise, grammar = voice
        text = recognise(wav, grammar.phrases(question))
        answer = grammar.answer(question, text)
        trail.append({"listen": question, "text": text, "answer": answer})
        wav.unlink(missing_ok=True)
        return "", answer

    def return_visit(self, agi: FastAGI, env: dict[str, str]) -> None:
        """Return visit (回访): case summary, then resolved? satisfied? by keypad or by voice.

        The answers are applied by :func:`callcenter.services.callbacks.apply_survey`: stored as a
        ``SurveyResult``, the case's evaluation (评价), reopen / 二次回访 per policy, and the callback
        row finished. A hang-up mid-survey still stores what was answered (incomplete, retried).
        """
        from callcenter.plugins.telephony.agi.server import ChannelGone

        s = IVRSession(agi, env)
        case_number = s.var("CC_CASE_NUMBER")
        callback_raw = s.var("CC_CALLBACK_ID")
        callback_id = int(callback_raw) if callback_raw.isdigit() else None
        with session_scope(self.ctx.database_url) as db:
            case_status = (
                db.scalar(select(Case.status).where(Case.number == case_number)) if case_number else None
            )
        if case_status is None:
            log.warning("return_visit %s: unknown case %r", s.uniqueid, case_number)
            s.set("CC_RV_RESULT", "unknown_case")
            return
        resolved: bool | None = None
        satisfaction: str | None = None
        methods: set[str] = set()
        voice_trail: list[dict[str, Any]] = []
        gone = False
        try:
            s.play("callcenter/rv-intro")
            s.play("callcenter/rv-case")
            s.say_digits(case_number)
            for _ in range(2):
                key = s.ask("callcenter/rv-resolved", self.ctx.input_timeout_ms, 1)
                spoken = None
                if key not in ("1", "2"):
                    key, spoken = self._listen(s, "resolved", voice_trail)
                if key in ("1", "2"):
                    resolved = key == "1"
                    methods.add("dtmf")
                    break
                if spoken is not None:
                    resolved = bool(spoken)
                    methods.add("voice")
                    break
            for _ in range(2):
                key = s.ask("callcenter/rv-satisfaction", self.ctx.input_timeout_ms, 1)
                spoken = None
                if key not in ("1", "2", "3"):
                    key, spoken = self._listen(s, "satisfaction", voice_trail)
                satisfaction = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}.get(key)
                if satisfaction:
                    methods.add("dtmf")
                    break
                if spoken is not None:
                    satisfaction = str(spoken)
                    methods.add("voice")
                    break
            complete = resolved is not None and satisfaction is not None
            s.set("CC_RV_RESOLVED", "" if resolved is None else ("1" if resolved else "0"))
            s.set("CC_RV_SATISFACTION", satisfaction or "")
            s.set("CC_RV_RESULT", "complete" if complete else "incomplete")
            if complete:
                s.play("callcenter/rv-thanks")
        except ChannelGone:
            gone = True
        finally:
            self._store_survey(
                s, case_number, callback_id, resolved, satisfaction, methods, voice_trail, gone
            )

    def _store_survey(
        self,
        s: IVRSession,
        case_number: str,
        callback_id: int | None,
        resolved: bool | None,
        satisfaction: str | None,
        methods: set[str],
        voice_trail: list[dict[str, Any]],
        gone: bool,
    ) -> None:
        from callcenter.services.callbacks import apply_survey

        method = "voice" if "voice" in methods else "dtmf"
        raw = {"uniqueid": s.uniqueid, "trail": s.trail, "voice": voice_trail, "hangup": gone}
        with session_scope(self.ctx.database_url) as db:
            outcome = apply_survey(
                db,
                case_number=case_number,
                callback_id=callback_id,
                resolved=resolved,
                satisfaction=satisfaction,
                method=method,
                raw=raw,
                now=utcnow(),
                settings=_settings(),
            )
        log.info("return_visit %s: case %s %s", s.uniqueid, case_number, outcome)

    # -- queue callback ------------------------------------------------------------------------
    def queue_callback(self, agi: FastAGI, env: dict[str, str]) -> None:
        """A caller waiting in the queue pressed the callback key (排队中预约回拨).

        The callback keeps the caller's place: ``requested_at`` is when they joined the queue, and the
        dialler calls them back only when no caller who joined earlier is still waiting.
        """
        s = IVRSession(agi, env)
        phone = env.get("agi_callerid", "")
        if phone in ("", "unknown"):
            s.set("CC_CALLBACK_ID", "")
            return
        joined_raw = s.var("CC_QUEUE_JOINED")
        key = f"queue-callback:{s.uniqueid}"
        from callcenter.services.callbacks import schedule

        with session_scope(self.ctx.database_url) as db:
            call = db.scalar(select(Call).where(Call.uniqueid == s.uniqueid))
            joined = call.queued_at if call is not None and call.queued_at is not None else None
            if joined is None and joined_raw.isdigit():
                joined = datetime.fromtimestamp(int(joined_raw), UTC)
            now = utcnow()
            joined = joined or now
            if joined.tzinfo is None:
                joined = joined.replace(tzinfo=UTC)
            try:
                cb, _created = schedule(
                    db,
                    kind="queue_callback",
                    key=key,
                    phone=phone,
                    at=now,
                    requested_at=joined,
                    max_attempts=_settings().callbacks.max_attempts,
                    call_id=call.id if call is not None else None,
                    outcome={"source": "queue", "uniqueid": s.uniqueid},
                )
            except ValueError as exc:
                log.warning("queue_callback %s: %s", s.uniqueid, exc)
                s.set("CC_CALLBACK_ID", "")
                return
            if call is not None:
                _lock_call(db, call)
                _merge_ivr_data(call, "queue_callback", {"callback_id": cb.id, "joined": joined.isoformat()})
            cb_id = cb.id
        s.set("CC_CALLBACK_ID", str(cb_id))


def _settings() -> Any:
    from callcenter.config import get_settings

    return get_settings()
