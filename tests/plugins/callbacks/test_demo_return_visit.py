"""The demo's return visit works out of the box (issue 15 item 4): with the settings ``callcenter demo``
uses (``DEMO_ENV``: the simulated citizen as dial target, keys ``1|1`` rendered as ``SIM_KEYS_ALL``)
the dialler reaches the citizen in the real Asterisk and the survey completes — no
``PJSIP/…@carrier-1`` that does not exist, no setting to change by hand."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from callcenter.config import CallbackSettings, Settings, TelephonySettings
from callcenter.plugins.callbacks.dialler import Dialler
from callcenter.plugins.demo.cli import DEMO_ENV
from callcenter.plugins.telephony.provision import ProvisionError, template_values
from tests.plugins.callbacks.helpers import TEST_CALLBACKS, callbacks, close_case, verified_case, wait_for
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]


def test_demo_settings_render_the_simulated_citizens_answers() -> None:
    assert DEMO_ENV["CALLCENTER_CALLBACKS__DIAL_TEMPLATE"] == "Local/{phone}@sim-citizen"
    keys = DEMO_ENV["CALLCENTER_TELEPHONY__SIM_CITIZEN_KEYS"]
    values = template_values(Settings(mode="test"), TelephonySettings(sim_citizen_keys=keys))
    assert values["sim_citizen_keys"] == "1|1"
    assert template_values(Settings(mode="test"), TelephonySettings())["sim_citizen_keys"] == ""
    with pytest.raises(ProvisionError):  # nothing but keys reaches the dialplan
        template_values(Settings(mode="test"), TelephonySettings(sim_citizen_keys="1\nHangup"))


@contextlib.contextmanager
def _running(dialler: Dialler) -> Iterator[None]:
    stop = threading.Event()
    t = threading.Thread(target=dialler.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(10)


def test_demo_return_visit_reaches_the_simulated_citizen(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    db = stack.database_url
    # what `callcenter demo` renders into extensions.conf (the shared test Asterisk is not re-provisioned)
    stack.asterisk.set_global("SIM_KEYS_ALL", DEMO_ENV["CALLCENTER_TELEPHONY__SIM_CITIZEN_KEYS"])
    try:
        cb_settings = CallbackSettings(
            **{**TEST_CALLBACKS, "dial_template": DEMO_ENV["CALLCENTER_CALLBACKS__DIAL_TEMPLATE"]}
        )
        settings = Settings(mode="test", database_url=db, redis_url=stack.redis_url, callbacks=cb_settings)
        verified_case(db, "2026112300151", "13911110151")  # no per-number script: SIM_KEYS_ALL answers
        with _running(Dialler(settings, stack.redis, database_url=db)):
            close_case(db, "2026112300151")
            (cb,) = wait_for(lambda: callbacks(db), 30, "the return visit")
            done = wait_for(
                lambda: next((c for c in callbacks(db) if c.id == cb.id and c.status == "done"), None),
                120,
                "the survey",
            )
        assert done.last_result == "survey_complete"
        assert done.outcome["survey"]["satisfaction"] == "satisfied"
        assert done.outcome["survey"]["resolved"] is True
    finally:
        stack.asterisk.set_global("SIM_KEYS_ALL", '""')  # quoted: the CLI ignores a missing value
        assert "SIM_KEYS_ALL=1" not in stack.asterisk.cli("dialplan show globals")
