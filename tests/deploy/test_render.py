"""``callcenter asterisk render --dest DIR``: configuration and prompts for a containerised Asterisk.

Runs the real command (subprocess) with the environment of the compose ``asterisk-config`` service
and reads what it wrote; the prompts are synthesised with the real espeak-ng and sox.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from callcenter.plugins.telephony.cli import _add_to_section
from callcenter.plugins.telephony.prompts import all_prompts
from tests.deploy.conftest import REPO

CALLCENTER = str(Path(sys.executable).parent / "callcenter")
AMI_SECRET = "render-test-ami-" + os.urandom(6).hex()
CONTAINER_ENV = {
    "CALLCENTER_MODE": "production",
    "CALLCENTER_SECRET_KEY": "render-test-key-" + os.urandom(6).hex(),
    "CALLCENTER_AMI__SECRET": AMI_SECRET,
    "CALLCENTER_AMI__HOST": "asterisk",
    "CALLCENTER_FASTAGI_HOST": "agi",
    "CALLCENTER_SPEECH__AUDIOSOCKET_HOST": "asr",
    "CALLCENTER_ASTERISK__NODE": "pbx2",
    "CALLCENTER_TELEPHONY__AGENT_EXTENSIONS": "8101,8102",
}


def render(dest: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [CALLCENTER, "asterisk", "render", f"--dest={dest}", *options],
        env={**base, **CONTAINER_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _section(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"[{name}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return [x for x in lines[start + 1 : end] if x.strip() and not x.startswith(";")]


def test_render_for_containers(tmp_path: Path) -> None:
    res = render(
        tmp_path,
        "--ami-bind=0.0.0.0",
        "--ami-permit=172.28.0.0/16",
        "--sip-bind=0.0.0.0",
        "--external-address=203.0.113.7",
        "--local-net=172.28.0.0/16",
        "--local-net=10.0.0.0/8",
        "--no-sounds",
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    etc = tmp_path / "etc/asterisk"
    templates = sorted(p.name for p in (REPO / "asterisk_conf").glob("*.conf"))
    assert sorted(p.name for p in etc.glob("*.conf")) == templates
    assert summary["configs"] == len(templates)
    for conf in etc.glob("*.conf"):
        assert "%%{" not in conf.read_text(encoding="utf-8"), conf.name

    manager = (etc / "manager.conf").read_text(encoding="utf-8")
    assert _section(manager, "general")[2] == "bindaddr = 0.0.0.0"
    acl = [x for x in _section(manager, "callcenter") if x.startswith(("permit", "deny"))]
    # Asterisk applies the last matching rule: the compose network is allowed after the deny-all
    assert acl == ["deny = 0.0.0.0/0.0.0.0", "permit = 127.0.0.1/255.255.255.255", "permit = 172.28.0.0/16"]
    assert f"secret = {AMI_SECRET}" in _section(manager, "callcenter")
    assert (etc / "manager.conf").stat().st_mode & 0o077 == 0

    transport = _section((etc / "pjsip.conf").read_text(encoding="utf-8"), "transport-udp")
    assert "bind = 0.0.0.0:5060" in transport
    assert transport[-4:] == [
        "external_media_address = 203.0.113.7",
        "external_signaling_address = 203.0.113.7",
        "local_net = 172.28.0.0/16",
        "local_net = 10.0.0.0/8",
    ]
    dialplan = (etc / "extensions.conf").read_text(encoding="utf-8")
    assert "FASTAGI = agi://agi:4573" in dialplan
    assert "AUDIOSOCKET_ADDR = asr:9092" in dialplan
    assert "[8101](agent-phone)" in (etc / "pjsip_wizard.conf").read_text(encoding="utf-8")
    asterisk_conf = (etc / "asterisk.conf").read_text(encoding="utf-8")
    if "%%{node}" in (REPO / "asterisk_conf/asterisk.conf").read_text(encoding="utf-8"):
        assert "systemname = pbx2" in asterisk_conf
    assert not (tmp_path / "usr").exists()  # --no-sounds


def test_render_without_container_options_keeps_the_template_defaults(tmp_path: Path) -> None:
    res = render(tmp_path, "--no-sounds", env={"CALLCENTER_AMI__HOST": "127.0.0.1"})
    assert res.returncode == 0, res.stderr
    etc = tmp_path / "etc/asterisk"
    manager = (etc / "manager.conf").read_text(encoding="utf-8")
    assert "bindaddr = 127.0.0.1" in manager
    # two AMI users (the bridge and the softphone's reload-only user), each allowed from localhost only
    users = re.findall(r"^\[([^\]]+)\]", manager, re.M)
    assert users == ["general", "callcenter", "callcenter-pjsip"], users
    for user in users[1:]:
        assert [x for x in _section(manager, user) if x.startswith("permit")] == [
            "permit = 127.0.0.1/255.255.255.255"
        ]
    assert "external_media_address" not in (etc / "pjsip.conf").read_text(encoding="utf-8")


def test_render_installs_the_prompts(tmp_path: Path) -> None:
    res = render(tmp_path)
    assert res.returncode == 0, res.stderr
    counts = json.loads(res.stdout.strip().splitlines()[-1])["sounds"]
    sounds = tmp_path / "usr/share/asterisk/sounds"
    for name in all_prompts():
        with wave.open(str(sounds / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2), name
            assert w.getnframes() > 800, name
    assert (sounds / "callcenter/moh/hold.wav").is_file()
    assert counts["generated"] + counts["recorded"] + counts["cached"] == len(all_prompts())
    # a second render takes the prompts from the cache in DEST
    again = render(tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["sounds"]["generated"] == 0


def test_render_refuses_default_secrets_in_production(tmp_path: Path) -> None:
    res = render(tmp_path, "--no-sounds", env={"CALLCENTER_AMI__SECRET": "secret"})
    assert res.returncode != 0
    assert "configuration error" in res.stderr and "ami.secret" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "etc/asterisk/manager.conf").exists()


def test_add_to_section() -> None:
    text = "[a]\nx = 1\n; note\n\n[b]\ny = 2\n"
    assert _add_to_section(text, "a", ["z = 3"]) == "[a]\nx = 1\nz = 3\n; note\n\n[b]\ny = 2\n"
    assert _add_to_section(text, "b", ["z = 3"]).endswith("[b]\ny = 2\nz = 3\n")
    with pytest.raises(ValueError, match=r"no \[c\] section"):
        _add_to_section(text, "c", ["z = 3"])
