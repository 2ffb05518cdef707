"""A real SIP agent softphone (坐席话机) against Asterisk's PJSIP: SIPp registers extension 8101 with
digest auth, the softphone joins the queue, a simulated citizen dials 12345 and the softphone rings,
answers (G.711) and talks until the citizen hangs up. A wrong password is refused.

SIPp (Debian ``sip-tester``) is the peer; scenarios in ``fixtures/sipp/``. Two SIPp processes play
the phone: one registers (its Contact names the other's port), one answers the INVITE and the
qualify OPTIONS (``-aa``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.commands import send_command, wait_result
from callcenter.db.models import Call
from callcenter.db.session import session_scope
from callcenter.plugins.telephony.provision import agent_password
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

SCENARIOS = Path(__file__).parent / "fixtures" / "sipp"
UAS_PORT = 5070
UAC_PORT = 5071


def _sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.fail("sipp is missing: apt-get install sip-tester (scripts/bootstrap.sh installs it)")
    return path


def _register(stack: TelephonyStack, tmp: Path, ext: str, password: str) -> subprocess.CompletedProcess[str]:
    inf = tmp / f"agent-{ext}.csv"
    inf.write_text(f"SEQUENTIAL\n{ext};{UAS_PORT}\n")
    sip_port = stack.asterisk.settings.asterisk.sip_port
    return subprocess.run(
        [_sipp(), f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "register.xml"), "-inf", str(inf),
         "-au", ext, "-ap", password, "-i", "127.0.0.1", "-p", str(UAC_PORT), "-m", "1", "-timeout", "15s",
         "-timeout_error",
         "-trace_err", "-error_file", str(tmp / f"register-{ext}.err"),
         "-trace_msg", "-message_file", str(tmp / f"register-{ext}.msg")],
        cwd=tmp, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=40, check=False,
    )  # fmt: skip


def _udp_bound(port: int) -> bool:
    """Is a UDP socket bound to ``port`` on this host (``/proc/net/udp``)?"""
    with open("/proc/net/udp") as fh:
        return any(line.split()[1].endswith(f":{port:04X}") for line in fh.readlines()[1:])


def _contact_state(stack: TelephonyStack, ext: str) -> str | None:
    out = stack.asterisk.cli("pjsip show contacts")
    m = re.search(rf"{ext}/sip:{ext}@127\.0\.0\.1:{UAS_PORT}\S*\s+\S+\s+(\w+)", out)
    return m.group(1) if m else None


def test_registered_softphone_answers_a_queue_call(telephony_stack: TelephonyStack, tmp_path: Path) -> None:
    stack = telephony_stack
    r = stack.redis
    uas = subprocess.Popen(
        [_sipp(), "-sf", str(SCENARIOS / "answer.xml"), "-i", "127.0.0.1", "-p", str(UAS_PORT),
         "-mi", "127.0.0.1", "-mp", "16000", "-aa", "-timeout", "120s",
         "-trace_err", "-error_file", str(tmp_path / "answer.err"),
         "-trace_msg", "-message_file", str(tmp_path / "answer.msg")],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    iface = "PJSIP/8101"
    try:
        # register only once the phone listens: a qualify OPTIONS sent earlier would mark it unreachable
        deadline = time.monotonic() + 20
        while not _udp_bound(UAS_PORT):
            assert uas.poll() is None and time.monotonic() < deadline, "the SIPp phone did not start"
            time.sleep(0.1)
        reg = _register(stack, tmp_path, "8101", agent_password(stack.asterisk.settings, "8101"))
        assert reg.returncode == 0, (reg.stdout[-2000:], reg.stderr[-2000:])
        deadline = time.monotonic() + 20
        while _contact_state(stack, "8101") not in ("Avail", "NonQual"):
            assert time.monotonic() < deadline, stack.asterisk.cli("pjsip show contacts")
            time.sleep(0.3)
        added = wait_result(
            r,
            send_command(r, "queue_add", interface=iface, member_name="seat-8101", state_interface=iface),
            20,
        )
        assert added["ok"], added
        result = stack.place_call(keys="1", agents=0, hold_s=20)
        assert result["answered"] is True, (result, stack.asterisk.cli("queue show hotline"))
        assert result["agent"] == "seat-8101"
        # the phone's side of the wire (SIPp's message trace): it answered with SDP, the citizen hung up
        trace = (tmp_path / "answer.msg").read_text(errors="replace")
        invite_at = trace.find("INVITE sip:8101@127.0.0.1:")
        answered_at = trace.find("SIP/2.0 200 OK", invite_at)
        assert 0 <= invite_at < answered_at, trace[-3000:]
        assert "m=audio" in trace[answered_at:] and "RTP/AVP 0" in trace[answered_at:]
        deadline = time.monotonic() + 20
        while "BYE sip:" not in (tmp_path / "answer.msg").read_text(errors="replace"):
            assert time.monotonic() < deadline, "no BYE reached the softphone"
            time.sleep(0.2)
        with session_scope(stack.database_url) as s:
            call = s.scalar(select(Call).where(Call.uniqueid == result["uniqueid"]))
            assert call is not None
            assert call.agent == "seat-8101" and call.disposition == "answered"
            assert call.talk_seconds is not None and call.talk_seconds > 0
    finally:
        wait_result(r, send_command(r, "queue_remove", interface=iface), 20)
        if uas.poll() is None:
            uas.kill()
            uas.wait(10)


def test_wrong_password_is_refused(telephony_stack: TelephonyStack, tmp_path: Path) -> None:
    reg = _register(telephony_stack, tmp_path, "8002", "not-the-password")
    assert reg.returncode != 0  # the second REGISTER gets 401 again, not 200
    assert _contact_state(telephony_stack, "8002") is None
