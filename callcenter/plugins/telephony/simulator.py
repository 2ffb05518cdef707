"""Call simulator (呼叫模拟器): real calls into 12345 / 96010 through Asterisk, driven over Redis.

Every call is an AMI ``Originate`` (sent as an ``originate`` command to the AMI bridge) of
``Local/<number>@hotline``: the ``;2`` half runs the real hotline dialplan (IVR, AGI, speech step,
queue) and the ``;1`` half runs ``[sim-caller]``, which presses the keys of ``--dtmf`` when the IVR
listens and plays a real Mandarin clip when the speech step starts. Simulated agents are queue members
``Local/sim-<n>-<talk>@sim-agents/n`` that answer, greet, talk ``talk_s`` seconds and hang up.

The simulator sets the hotline leg's uniqueid itself (``OtherChannelId``), so it can follow its calls
on ``cc:events:calls`` (``call.new`` → ``call.ended``, published by the bridge) and report one JSON
object per call. It needs the AMI bridge and the FastAGI server running.
"""

from __future__ import annotations

import itertools
import logging
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from callcenter.commands import RESULT_KEY, send_command, wait_result
from callcenter.events import STREAM_CALLS, decode
from callcenter.plugins.telephony.provision import SOUNDS_IN_ROOT

log = logging.getLogger(__name__)

CALLER_NAMES = ("张三", "李四", "王五", "赵六", "陈静", "刘洋", "杨帆", "黄磊", "周敏", "吴昊")


@dataclass
class SimCall:
    index: int
    dialled: str
    uniqueid: str  # hotline leg (;2)
    caller_uniqueid: str  # caller leg (;1)
    caller: str
    caller_name: str
    action_id: str = ""
    sent_at: float = 0.0
    setup_at: float | None = None
    queued_at: float | None = None
    result: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        r = self.result or {}
        return {
            "index": self.index,
            "uniqueid": self.uniqueid,
            "caller_uniqueid": self.caller_uniqueid,
            "dialled": self.dialled,
            "caller": self.caller,
            "caller_name": self.caller_name,
            "answered": bool(r.get("answered")),
            "queue_wait": r.get("wait"),
            "agent": r.get("agent"),
            "hangup_cause": r.get("hangup_cause"),
            "call_id": r.get("call_id"),
            "disposition": r.get("disposition"),
            "ivr_choice": r.get("ivr_choice"),
            "setup_s": None if self.setup_at is None else round(self.setup_at - self.sent_at, 3),
            "lost": self.result is None or bool(r.get("lost")),
            **({"error": r["error"]} if "error" in r else {}),
        }


@dataclass
class SimOptions:
    count: int = 1
    rate: float = 1.0  # calls started per second
    numbers: tuple[str, ...] = ("12345", "96010")
    keys: str = "1"  # DTMF groups separated by '|'
    sounds: tuple[str, ...] = ()  # sound names inside ROOT (no extension)
    hold_s: int = 120  # caller gives up after this
    agents: int = 2  # simulated agents to add (0: use what is in the queue)
    talk_s: int = 3
    queue: str = "hotline"
    timeout_s: float = 180.0  # for the whole run after the last call was placed
    keep_agents: bool = False
    seed: int | None = None
    caller_names: tuple[str, ...] = CALLER_NAMES
    numbers_prefix: str = "139"
    extra_variables: dict[str, str] = field(default_factory=dict)
    node: str | None = None  # the Asterisk node to call through (None: any node's bridge)
    #: queue penalty of the simulated agents: above 0 they get a call only when no member with a
    #: lower penalty (a logged-in agent whose phone is registered, joined and not paused) can take it
    agent_penalty: int = 0


def install_clips(audio_dir: Path, root: Path) -> tuple[str, ...]:
    """Make the WAV clips of ``audio_dir`` playable inside ROOT; returns their sound names.

    Clips already at 8 kHz mono 16-bit are copied; others are converted with sox.
    """
    clips = sorted(audio_dir.glob("*.wav"))
    if not clips:
        raise ValueError(f"no .wav clips in {audio_dir}")
    dest = root / SOUNDS_IN_ROOT / "callcenter" / "speech"
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for clip in clips:
        target = dest / clip.name
        if not target.exists() or target.stat().st_mtime < clip.stat().st_mtime:
            if _is_8k_mono(clip):
                shutil.copyfile(clip, target)
            else:
                subprocess.run(
                    ["sox", str(clip), "-r", "8000", "-c", "1", "-b", "16", str(target)], check=True
                )
        names.append(f"callcenter/speech/{clip.stem}")
    return tuple(names)


def _is_8k_mono(path: Path) -> bool:
    import wave

    try:
        with wave.open(str(path)) as w:
            return w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
    except (wave.Error, EOFError):
        return False


def agent_interface(n: int, talk_s: int) -> str:
    return f"Local/sim-{n}-{talk_s}@sim-agents/n"


class Simulator:
    """Places simulated calls and follows them to their end."""

    def __init__(self, client: redis.Redis, opts: SimOptions) -> None:
        self.r = client
        self.o = opts
        self.rng = random.Random(opts.seed)
        self.calls: list[SimCall] = []

    # -- agents
    def add_agents(self) -> list[str]:
        ids = []
        for n in range(1, self.o.agents + 1):
            ids.append(
                send_command(
                    self.r,
                    "queue_add",
                    node=self.o.node,
                    queue=self.o.queue,
                    interface=agent_interface(n, self.o.talk_s),
                    member_name=f"sim-agent-{n}",
                    penalty=self.o.agent_penalty,
                )
            )
        for aid in ids:
            res = wait_result(self.r, aid, 30)
            if not res.get("ok") and "Already there" not in str(res.get("message", "")):
                raise RuntimeError(f"could not add a simulated agent: {res}")
        return [agent_interface(n, self.o.talk_s) for n in range(1, self.o.agents + 1)]

    def remove_agents(self) -> None:
        ids = [
            send_command(
                self.r,
                "queue_remove",
                node=self.o.node,
                queue=self.o.queue,
                interface=agent_interface(n, self.o.talk_s),
            )
            for n in range(1, self.o.agents + 1)
        ]
        for aid in ids:
            try:
                wait_result(self.r, aid, 15)
            except TimeoutError:
                log.warning("simulator: no answer removing agent (%s)", aid)

    # -- calls
    def _new_call(self, index: int) -> SimCall:
        base = uuid.uuid4().hex[:16]
        return SimCall(
            index=index,
            dialled=self.o.numbers[index % len(self.o.numbers)],
            uniqueid=f"sim-{base}-2",
            caller_uniqueid=f"sim-{base}-1",
            caller=self.o.numbers_prefix + "".join(self.rng.choice("0123456789") for _ in range(8)),
            caller_name=self.o.caller_names[index % len(self.o.caller_names)],
        )

    def _originate(self, call: SimCall, sounds: Iterable[str]) -> None:
        sound = next(iter(sounds), "")
        variables = {"SIM_KEYS": self.o.keys, "SIM_HOLD": str(self.o.hold_s), **self.o.extra_variables}
        if sound:
            variables["SIM_AUDIO"] = sound
        call.sent_at = time.monotonic()
        call.action_id = send_command(
            self.r,
            "originate",
            node=self.o.node,
            channel=f"Local/{call.dialled}@hotline",
            context="sim-caller",
            exten="s",
            priority=1,
            caller_id=f'"{call.caller_name}" <{call.caller}>',
            variables=variables,
            channel_id=call.caller_uniqueid,
            other_channel_id=call.uniqueid,
            timeout_ms=30000,
        )

    def run(self, on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Place ``count`` calls at ``rate`` per second; returns one result dict per call."""
        last = self.r.xrevrange(STREAM_CALLS, count=1)
        cursor: Any = last[0][0] if last else "0-0"
        added = self.add_agents() if self.o.agents > 0 else []
        by_uid: dict[str, SimCall] = {}
        pending: dict[str, SimCall] = {}
        sound_cycle = itertools.cycle(self.o.sounds) if self.o.sounds else None
        interval = 1.0 / self.o.rate if self.o.rate > 0 else 0.0
        start = time.monotonic()
        next_index = 0
        deadline: float | None = None
        reported: list[dict[str, Any]] = []

        def finish(call: SimCall, result: dict[str, Any]) -> None:
            call.result = result
            pending.pop(call.uniqueid, None)
            out = call.as_json()
            reported.append(out)
            if on_result:
                on_result(out)

        try:
            while next_index < self.o.count or pending:
                now = time.monotonic()
                while next_index < self.o.count and now >= start + next_index * interval:
                    call = self._new_call(next_index)
                    self.calls.append(call)
                    by_uid[call.uniqueid] = pending[call.uniqueid] = call
                    self._originate(call, [next(sound_cycle)] if sound_cycle else [])
                    next_index += 1
                if next_index >= self.o.count and deadline is None:
                    deadline = time.monotonic() + self.o.timeout_s
                block_ms = 100 if next_index < self.o.count else 500
                resp: Any = self.r.xread({STREAM_CALLS: cursor}, count=500, block=block_ms)
                for _stream, entries in resp or []:
                    for entry_id, fields in entries:
                        cursor = entry_id
                        ev = decode(fields)
                        data = ev["data"]
                        found = by_uid.get(str(data.get("uniqueid", "")))
                        if found is None:
                            continue
                        call = found
                        t = time.monotonic()
                        if ev["type"] == "call.new" and call.setup_at is None:
                            call.setup_at = t
                        elif ev["type"] == "call.queued" and call.queued_at is None:
                            call.queued_at = t
                        elif ev["type"] == "call.ended" and call.uniqueid in pending:
                            finish(call, data)
                # originate failures never produce call events: pick them up from the results
                for call in list(pending.values()):
                    if call.setup_at is None and call.action_id:
                        raw = self.r.get(RESULT_KEY.format(action_id=call.action_id))
                        if raw is not None:
                            import json

                            res = json.loads(raw)
                            if not res.get("ok"):
                                finish(
                                    call,
                                    {
                                        "error": res.get("error") or res.get("message"),
                                        "hangup_cause": (res.get("data") or {}).get("reason"),
                                    },
                                )
                if deadline is not None and time.monotonic() > deadline:
                    for call in list(pending.values()):
                        finish(call, {"lost": True, "error": "no call.ended before the timeout"})
                    break
        finally:
            if added and not self.o.keep_agents:
                self.remove_agents()
        return reported


def summarize(results: list[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    """Figures of a run: answered, lost, setup rate and latency, queue wait."""
    setups = sorted(r["setup_s"] for r in results if r.get("setup_s") is not None)
    waits = sorted(r["queue_wait"] for r in results if r.get("queue_wait") is not None)

    def pct(xs: list[float], p: float) -> float | None:
        return None if not xs else round(xs[min(len(xs) - 1, int(len(xs) * p))], 3)

    return {
        "calls": len(results),
        "answered": sum(1 for r in results if r.get("answered")),
        "lost": sum(1 for r in results if r.get("lost")),
        "elapsed_s": round(elapsed_s, 2),
        "setup_p50_s": pct(setups, 0.5),
        "setup_p95_s": pct(setups, 0.95),
        "queue_wait_p50_s": pct(waits, 0.5),
        "queue_wait_max_s": waits[-1] if waits else None,
    }
