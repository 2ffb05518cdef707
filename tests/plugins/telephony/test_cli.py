"""The commands the demo and CI use, as subprocesses: agi, ami-bridge, simulate-calls, asterisk status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from callcenter.plugins.telephony.ami.bridge import health_key
from tests.support.asterisk import AsteriskHandle

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

CLI = [str(Path(sys.executable).parent / "callcenter")]


@pytest.fixture
def cli_env(asterisk: AsteriskHandle, sqlite_url: str, telephony_redis_url: str) -> dict[str, str]:
    asterisk.ensure_running()
    asterisk.reset_globals()
    return {
        **os.environ,
        "CALLCENTER_MODE": "test",
        "CALLCENTER_DATABASE_URL": sqlite_url,
        "CALLCENTER_REDIS_URL": telephony_redis_url,
    }


@pytest.fixture
def services(cli_env: dict[str, str], telephony_redis_url: str) -> Iterator[None]:
    procs = [
        subprocess.Popen([*CLI, "agi"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        subprocess.Popen([*CLI, "ami-bridge"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
    ]
    client = redis_lib.Redis.from_url(telephony_redis_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = client.get(health_key("pbx1"))
            if raw and json.loads(raw).get("synced"):
                break
            assert all(p.poll() is None for p in procs), "a service exited early"
            time.sleep(0.2)
        else:
            pytest.fail("ami-bridge did not report synced")
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        client.close()
    for p in procs:
        assert p.returncode == 0, (p.args, p.stdout.read().decode() if p.stdout else "")


def test_simulate_calls_cli_prints_one_json_line_per_call(cli_env: dict[str, str], services: None) -> None:
    out = subprocess.run(
        [*CLI, "simulate-calls", "--count", "2", "--rate", "2", "--agents", "2", "--talk", "1", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    calls = [x for x in lines if "uniqueid" in x]
    summary = next(x["summary"] for x in lines if "summary" in x)
    assert sorted(c["dialled"] for c in calls) == ["12345", "96010"]
    for c in calls:
        assert c["answered"] is True and c["call_id"] is not None and c["queue_wait"] is not None
        assert c["agent"].startswith("sim-agent-") and c["hangup_cause"] == "Normal Clearing"
    assert summary["calls"] == 2 and summary["answered"] == 2 and summary["lost"] == 0


def test_asterisk_status_cli(asterisk: AsteriskHandle, cli_env: dict[str, str]) -> None:
    out = subprocess.run(
        [*CLI, "asterisk", "status"], env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["running"] is True and info["fully_booted"] is True and info["provisioned"] is True


def test_rendered_asterisk_config(asterisk: AsteriskHandle) -> None:
    """Least-privilege AMI user, agent softphones from the wizard, loopback-only SIP."""
    user = asterisk.cli("manager show user callcenter")
    perms = {
        line.split(":", 1)[0].strip(): {p.strip() for p in line.split(":", 1)[1].split(",")}
        for line in user.splitlines()
        if "perm:" in line
    }
    assert perms["read perm"] == {"system", "call", "agent", "user", "cdr", "reporting"}
    assert perms["write perm"] == {"call", "originate", "agent", "reporting"}  # no command/config/system
    endpoints = asterisk.cli("pjsip show endpoints")
    assert "8101" in endpoints and "carrier-trunk" not in endpoints
    assert "127.0.0.1:5060" in asterisk.cli("pjsip show transports")
    assert "hotline" in asterisk.cli("queue show hotline")


def test_bad_simulator_input_fails_clearly(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "simulate-calls", "--count", "1", "--audio", str(tmp_path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "no .wav clips" in out.stderr


def test_cli_leaves_the_test_asterisk_alone(asterisk: AsteriskHandle, cli_env: dict[str, str]) -> None:
    for cmd in (["asterisk", "stop"], ["asterisk", "start"], ["asterisk", "provision"]):
        out = subprocess.run([*CLI, *cmd], env=cli_env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "a test run is using Asterisk" in out.stderr, cmd
    assert asterisk.process.fully_booted()
