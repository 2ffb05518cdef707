"""Pure workflow tests: the closed loop, roles, preconditions, deadlines, and property tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callcenter.domain import workflow as wf
from callcenter.domain.workflow import Actor, CaseState, Command, Role, Status, TimeLimits

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
AGENT = Actor(Role.AGENT, 1)
SUPER = Actor(Role.SUPERVISOR, 2)
STREET = Actor(Role.UNIT_HANDLER, 3, "S1")
OTHER_UNIT = Actor(Role.UNIT_HANDLER, 4, "S2")
SYSTEM = Actor(Role.SYSTEM)
LIMITS = TimeLimits(accept_hours=2, handle_hours=72)


def run(state: CaseState, *steps: tuple[str, Actor, dict[str, object]], now: datetime = T0) -> CaseState:
    for action, actor, kwargs in steps:
        state, event = wf.apply(state, Command(action, **kwargs), actor, now)  # type: ignore[arg-type]
        assert event.action == action and event.to_status == state.status
    return state


def new_case() -> CaseState:
    state, event = wf.create(AGENT, T0, "2026112200001")
    assert event.action == "create" and state.status == Status.RECEIVED
    return state


def dispatched() -> CaseState:
    return run(
        new_case(),
        ("register", AGENT, {"matter_code": "0601001"}),
        ("dispatch", AGENT, {"unit_code": "S1", "unit_kind": "street_office", "limits": LIMITS}),
    )


def test_full_closed_loop() -> None:
    s = dispatched()
    assert s.loop == "small"
    assert s.accept_due_at == T0 + timedelta(hours=2) and s.due_at == T0 + timedelta(hours=72)
    s = run(
        s,
        ("accept", STREET, {}),
        ("feedback", STREET, {"text": "已协调餐馆加装油烟净化器", "resolved": True}),
        ("verify", AGENT, {}),
        ("close", AGENT, {}),
        ("evaluate", SYSTEM, {"satisfaction": "satisfied", "resolved": True}),
    )
    assert s.status == Status.EVALUATED and s.satisfaction == "satisfied" and s.resolved is True


def test_district_bureau_is_large_loop() -> None:
    s = run(
        new_case(),
        ("register", AGENT, {"matter_code": "1101001"}),
        ("dispatch", AGENT, {"unit_code": "W", "unit_kind": "district_bureau", "limits": LIMITS}),
    )
    assert s.loop == "large"


def test_resolve_on_call_needs_answer_text() -> None:
    with pytest.raises(wf.CommandError):
        run(new_case(), ("resolve_on_call", AGENT, {}))
    s = run(new_case(), ("resolve_on_call", AGENT, {"text": "已告知办事流程"}))
    assert s.status == Status.CLOSED and s.resolved is True


def test_return_arbitration_redispatch() -> None:
    s = dispatched()
    with pytest.raises(wf.CommandError):
        run(s, ("return", STREET, {}))  # a reason is required
    s = run(s, ("return", STREET, {"reason": "不属于本街道管辖"}))
    assert s.status == Status.RETURNED and s.return_count == 1
    s = run(s, ("arbitrate", SUPER, {"reason": "属地争议"}))
    assert s.status == Status.ARBITRATION
    with pytest.raises(wf.TransitionError):
        run(s, ("decide_arbitration", AGENT, {"reason": "x", "unit_code": "S2", "limits": LIMITS}))
    s = run(s, ("decide_arbitration", SUPER, {"reason": "按属地", "unit_code": "S2", "limits": LIMITS}))
    assert s.status == Status.DISPATCHED and s.unit_code == "S2" and s.accepted_at is None


def test_unit_handler_only_acts_on_own_unit() -> None:
    s = dispatched()
    with pytest.raises(wf.TransitionError) as err:
        run(s, ("accept", OTHER_UNIT, {}))
    assert err.value.forbidden
    assert "accept" not in wf.allowed_actions(s, OTHER_UNIT)
    assert "accept" in wf.allowed_actions(s, STREET)


def test_agent_cannot_accept_and_unit_cannot_dispatch() -> None:
    with pytest.raises(wf.TransitionError):
        run(dispatched(), ("accept", AGENT, {}))
    s = run(new_case(), ("register", AGENT, {"matter_code": "m"}))
    with pytest.raises(wf.TransitionError):
        run(s, ("dispatch", STREET, {"unit_code": "S1", "limits": LIMITS}))


def test_register_needs_matter() -> None:
    with pytest.raises(wf.CommandError):
        run(new_case(), ("register", AGENT, {}))


def test_extension_request_and_approval_moves_deadline() -> None:
    s = run(dispatched(), ("accept", STREET, {}))
    with pytest.raises(wf.TransitionError):
        run(s, ("approve_extension", SUPER, {}))  # nothing pending
    s = run(s, ("request_extension", STREET, {"hours": 48, "reason": "需协调产权单位"}))
    with pytest.raises(wf.TransitionError):
        run(s, ("request_extension", STREET, {"hours": 24, "reason": "again"}))
    s2 = run(s, ("approve_extension", SUPER, {}))
    assert s2.due_at == T0 + timedelta(hours=72 + 48) and s2.extension_hours_requested is None
    s3 = run(s, ("reject_extension", SUPER, {"reason": "不符合延期条件"}))
    assert s3.due_at == T0 + timedelta(hours=72)


def test_send_back_after_feedback() -> None:
    s = run(dispatched(), ("accept", STREET, {}), ("feedback", STREET, {"text": "已处理"}))
    s = run(s, ("send_back", AGENT, {"reason": "市民反映仍未解决"}))
    assert s.status == Status.ACCEPTED and s.feedback_at is None


def test_overdue_and_supervision() -> None:
    s = dispatched()
    assert wf.overdue_kind(s, T0 + timedelta(hours=1)) is None
    assert wf.overdue_kind(s, T0 + timedelta(hours=3)) == "accept"
    assert wf.needs_supervision(s, T0 + timedelta(hours=3))
    s = run(s, ("supervise", SYSTEM, {}), now=T0 + timedelta(hours=3))
    assert s.supervised and not wf.needs_supervision(s, T0 + timedelta(hours=4))
    s = run(dispatched(), ("accept", STREET, {}))
    assert wf.overdue_kind(s, T0 + timedelta(hours=73)) == "handle"


def test_merge_and_kpi_exclusion() -> None:
    with pytest.raises(wf.CommandError):
        run(new_case(), ("merge", AGENT, {"into": "2026112200001"}))  # itself
    s = run(new_case(), ("merge", AGENT, {"into": "2026112200007"}))
    assert s.status == Status.MERGED
    with pytest.raises(wf.TransitionError):
        run(s, ("exclude_kpi", AGENT, {"reason": "x"}))  # supervisors only
    s = run(dispatched(), ("exclude_kpi", SUPER, {"reason": "恶意诉求"}))
    assert s.kpi_excluded
    with pytest.raises(wf.TransitionError):
        run(s, ("exclude_kpi", SUPER, {"reason": "again"}))


def test_joint_handling_lead_and_co_units() -> None:
    s = run(
        new_case(),
        ("register", AGENT, {"matter_code": "m"}),
        ("dispatch", AGENT, {"unit_code": "S1", "co_unit_codes": ("W", "W"), "limits": LIMITS}),
    )
    assert s.co_unit_codes == ("W",)
    with pytest.raises(wf.CommandError):
        run(
            run(new_case(), ("register", AGENT, {"matter_code": "m"})),
            ("dispatch", AGENT, {"unit_code": "S1", "co_unit_codes": ("S1",), "limits": LIMITS}),
        )


def test_reopen_after_unsatisfied_evaluation() -> None:
    s = run(
        dispatched(),
        ("accept", STREET, {}),
        ("feedback", STREET, {"text": "done"}),
        ("verify", AGENT, {}),
        ("close", AGENT, {}),
        ("evaluate", SYSTEM, {"satisfaction": "unsatisfied", "resolved": False}),
        ("reopen", SYSTEM, {"reason": "回访不满意，重新办理"}),
    )
    assert s.status == Status.REGISTERED and s.unit_code is None and s.satisfaction is None


def test_reopen_keeps_the_superseded_evaluation_in_the_audit_trail() -> None:
    """重办 clears the case for the new closure, but its event keeps the answer it supersedes and the unit
    that handled that closure, so 满意率 / 解决率 still count it (callcenter.domain.kpi)."""
    evaluated = run(
        dispatched(),
        ("accept", STREET, {}),
        ("feedback", STREET, {"text": "done", "resolved": True}),
        ("verify", AGENT, {}),
        ("close", AGENT, {}),
        ("evaluate", SYSTEM, {"satisfaction": "unsatisfied", "resolved": False}),
    )
    state, event = wf.apply(evaluated, Command("reopen", reason="回访不满意"), SYSTEM, T0)
    assert state.satisfaction is None and state.resolved is None and state.unit_code is None
    assert event.unit_code == "S1"
    assert event.data["superseded"] == {"satisfaction": "unsatisfied", "resolved": False, "unit_code": "S1"}
    # a closed case reopened before any return visit has no answer to keep
    closed = run(
        dispatched(), ("accept", STREET, {}), ("feedback", STREET, {"text": "done", "resolved": True})
    )
    closed = run(closed, ("verify", AGENT, {}), ("close", AGENT, {}))
    _, event = wf.apply(closed, Command("reopen", reason="市民来电称未处理"), SUPER, T0)
    assert "superseded" not in event.data


def test_unknown_action_and_invalid_satisfaction() -> None:
    with pytest.raises(wf.CommandError):
        run(new_case(), ("teleport", AGENT, {}))
    s = run(dispatched(), ("accept", STREET, {}), ("feedback", STREET, {"text": "ok"}))
    s = run(s, ("verify", AGENT, {}), ("close", AGENT, {}))
    with pytest.raises(wf.CommandError):
        run(s, ("evaluate", SYSTEM, {"satisfaction": "great"}))


def test_time_limit_resolution_uses_policy() -> None:
    assert wf.resolve_time_limits(2, 5) == TimeLimits(2, 120)
    urgent = wf.resolve_time_limits(2, 5, policy_accept_hours=1, handle_factor=0.5, max_handle_hours=48)
    assert urgent == TimeLimits(1, 48)


# ---------------------------------------------------------------- property-based

ACTORS = [AGENT, SUPER, STREET, OTHER_UNIT, SYSTEM, Actor(Role.ADMIN, 9)]
COMMANDS = st.builds(
    Command,
    action=st.sampled_from(sorted(wf.ACTIONS)),
    reason=st.sampled_from([None, "", "理由"]),
    unit_code=st.sampled_from([None, "S1", "S2"]),
    co_unit_codes=st.sampled_from([(), ("W",), ("S1",)]),
    unit_kind=st.sampled_from([None, "street_office", "district_bureau"]),
    hours=st.sampled_from([None, -1.0, 0.0, 24.0, 10_000.0]),
    text=st.sampled_from([None, "", "已处理"]),
    into=st.sampled_from([None, "2026112200001", "2026112200002"]),
    satisfaction=st.sampled_from([None, "satisfied", "basic", "unsatisfied", "bad"]),
    resolved=st.sampled_from([None, True, False]),
    matter_code=st.sampled_from([None, "0601001"]),
    limits=st.sampled_from([None, LIMITS]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(COMMANDS, st.sampled_from(ACTORS), st.integers(0, 500)), max_size=40))
def test_no_sequence_reaches_an_impossible_state(steps: list[tuple[Command, Actor, int]]) -> None:
    """Any sequence of commands, accepted or refused, keeps every invariant; each change has its event."""
    state = new_case()
    events = 1
    for cmd, actor, hours in steps:
        now = T0 + timedelta(hours=hours)
        try:
            new_state, event = wf.apply(state, cmd, actor, now)
        except (wf.TransitionError, wf.CommandError):
            continue  # refused: state unchanged
        events += 1
        assert event.from_status == state.status and event.to_status == new_state.status
        assert event.action == cmd.action
        wf.check_invariants(new_state)
        state = new_state
    assert events >= 1


class CaseMachine(RuleBasedStateMachine):
    """Stateful model: drive the case through valid actions only and compare with a simple model."""

    def __init__(self) -> None:
        super().__init__()
        self.state = new_case()
        self.history: list[str] = ["create"]

    def _do(self, action: str, actor: Actor, **kwargs: object) -> None:
        assert action in wf.allowed_actions(self.state, actor)
        self.state, event = wf.apply(self.state, Command(action, **kwargs), actor, T0)  # type: ignore[arg-type]
        self.history.append(event.action)

    @precondition(lambda self: self.state.status == Status.RECEIVED)
    @rule()
    def register(self) -> None:
        self._do("register", AGENT, matter_code="0601001")

    @precondition(lambda self: self.state.status == Status.REGISTERED)
    @rule(unit=st.sampled_from(["S1", "S2"]))
    def dispatch(self, unit: str) -> None:
        self._do("dispatch", AGENT, unit_code=unit, limits=LIMITS)

    @precondition(lambda self: self.state.status == Status.DISPATCHED)
    @rule()
    def accept(self) -> None:
        self._do("accept", Actor(Role.UNIT_HANDLER, 3, self.state.unit_code))

    @precondition(lambda self: self.state.status in (Status.DISPATCHED, Status.ACCEPTED))
    @rule()
    def give_back(self) -> None:
        self._do("return", Actor(Role.UNIT_HANDLER, 3, self.state.unit_code), reason="非本单位职责")

    @precondition(lambda self: self.state.status == Status.RETURNED)
    @rule(unit=st.sampled_from(["S1", "S2"]))
    def redispatch(self, unit: str) -> None:
        self._do("redispatch", AGENT, unit_code=unit, reason="改派", limits=LIMITS)

    @precondition(lambda self: self.state.status == Status.ACCEPTED)
    @rule()
    def feedback(self) -> None:
        self._do("feedback", Actor(Role.UNIT_HANDLER, 3, self.state.unit_code), text="已处理")

    @precondition(lambda self: self.state.status == Status.FEEDBACK)
    @rule(ok=st.booleans())
    def verify(self, ok: bool) -> None:
        if ok:
            self._do("verify", AGENT)
        else:
            self._do("send_back", AGENT, reason="未解决")

    @precondition(lambda self: self.state.status == Status.VERIFIED)
    @rule()
    def close(self) -> None:
        self._do("close", AGENT)

    @precondition(lambda self: self.state.status == Status.CLOSED)
    @rule(sat=st.sampled_from(["satisfied", "basic", "unsatisfied"]))
    def evaluate(self, sat: str) -> None:
        self._do("evaluate", SYSTEM, satisfaction=sat, resolved=sat != "unsatisfied")

    @precondition(lambda self: self.state.status in (Status.CLOSED, Status.EVALUATED))
    @rule()
    def reopen(self) -> None:
        self._do("reopen", SUPER, reason="重办")

    @invariant()
    def consistent(self) -> None:
        wf.check_invariants(self.state)
        # the returns counted equal the 退单 events seen
        assert self.state.return_count == self.history.count("return")


TestCaseMachine = CaseMachine.TestCase
TestCaseMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_check_invariants_catches_impossible_state() -> None:
    bad = replace(new_case(), status=Status.ACCEPTED)
    with pytest.raises(AssertionError):
        wf.check_invariants(bad)


def test_resolve_on_spot_is_the_grid_workers_own() -> None:
    """自处置: only a grid worker closes a received case on the spot, and says what was done."""
    worker = Actor(Role.GRID_WORKER, 7)
    for actor in (AGENT, SUPER, STREET, SYSTEM):
        with pytest.raises(wf.TransitionError):
            run(new_case(), ("resolve_on_spot", actor, {"text": "已清理"}))
    with pytest.raises(wf.CommandError):
        run(new_case(), ("resolve_on_spot", worker, {}))
    s = run(new_case(), ("resolve_on_spot", worker, {"text": "已就地清理堆物"}))
    assert s.status == Status.CLOSED and s.resolved is True and s.feedback_text == "已就地清理堆物"
