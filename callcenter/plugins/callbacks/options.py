"""Dialler options beyond the core ``settings.callbacks`` (environment ``CALLCENTER_DIALLER_*``).

The core settings hold the calling window, attempts, back-off, concurrency cap and when a return
visit is due; these are the knobs of the dialler itself (like ``TelephonyOptions`` for telephony).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from callcenter.domain.callbacks import FollowUp, SurveyPolicy


class DiallerOptions(BaseSettings):
    """How callbacks are dialled and how answers are applied."""

    model_config = SettingsConfigDict(env_prefix="CALLCENTER_DIALLER_", extra="ignore")

    #: Asterisk channel for the citizen's number (``{phone}`` is replaced), e.g. a carrier trunk.
    dial_template: str = "PJSIP/{phone}@carrier-1"
    return_visit_context: str = "return-visit"
    queue_callback_context: str = "queue-callback"
    originate_timeout_ms: int = 30_000
    #: How long a claimed attempt may stay without an originate result before it counts as lost.
    #: Must exceed the bridge's command max age (60 s) + action timeout (45 s) so a lost command can
    #: never still run after we gave up on it.
    lease_s: float = 150.0
    #: How long an answered call may last before the attempt is considered lost.
    call_max_s: float = 900.0
    #: After the call row ended, wait this long for the AGI handler to report before calling it dropped.
    ended_grace_s: float = 5.0
    poll_interval_s: float = 1.0
    claim_batch: int = 50
    worker_id: str = ""
    #: Delay between a case closing and its return visit (the calling window applies on top).
    return_visit_delay_s: int = 0
    second_visit_delay_s: int = 3600
    on_unresolved: FollowUp = FollowUp.REOPEN
    on_unsatisfied: FollowUp = FollowUp.SECOND_VISIT
    max_visits: int = 2
    #: Callers waiting longer than this are ignored for fairness (a call row lost without hangup).
    queue_wait_horizon_s: int = 3600
    #: Queue priority of a called-back citizen (they keep their place; only older callers wait ahead).
    queue_callback_priority: int = 10
    #: Voice answers (Vosk grammar mode): language of the phrase table, model folder.
    voice_lang: str = "zh"
    voice_model: Path | None = None
    voice_grammar_file: Path | None = None
    voice_record_s: int = 4

    def survey_policy(self) -> SurveyPolicy:
        return SurveyPolicy(self.on_unresolved, self.on_unsatisfied, self.max_visits)
