"""The demo's simulated agent answers only what no real agent can take (issue 15 item 4), in the real
Asterisk 22: the simulator's agent joins with a queue penalty (``--agent-penalty``, the demo uses
10); a member with penalty 0 that is free gets the call; paused, the simulated agent takes it."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from callcenter.commands import send_command, wait_result
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

#: Stands for the logged-in agent with a registered phone: a simulated answering phone, penalty 0.
REAL = "Local/sim-95-4@sim-agents/n"


def _cmd(stack: TelephonyStack, type_: str, **args: Any) -> dict[str, Any]:
    return wait_result(stack.redis, send_command(stack.redis, type_, **args), 20)


def test_simulated_agent_with_a_penalty_answers_only_when_the_real_one_cannot(
    telephony_stack: TelephonyStack,
) -> None:
    stack = telephony_stack
    res = _cmd(stack, "queue_add", interface=REAL, queue="hotline", member_name="seat95", penalty=0)
    assert res["ok"], res
    try:
        # the real agent is free: it gets the call although the simulated agent is in the queue too
        first = stack.place_call(agents=1, agent_penalty=10, talk_s=3, keys="1", hold_s=40, timeout_s=90)
        assert first["answered"] is True
        assert first["agent"] in ("seat95", REAL), first
        # the real agent pauses: the simulated agent (penalty 10) takes the next call
        assert _cmd(stack, "queue_pause", interface=REAL, paused=True, reason="break")["ok"]
        second = stack.place_call(agents=1, agent_penalty=10, talk_s=3, keys="1", hold_s=40, timeout_s=90)
        assert second["answered"] is True
        assert second["agent"] not in ("seat95", REAL), second
        assert str(second["agent"]).startswith(("sim-agent-", "Local/sim-1-")), second
    finally:
        with contextlib.suppress(Exception):
            _cmd(stack, "queue_remove", interface=REAL, queue="hotline")
