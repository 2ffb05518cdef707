"""The ``callcenter`` command reports configuration errors in one line, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_secrets_is_a_clear_one_line_error() -> None:
    r = _run("models", "list")
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("configuration error: ")
    assert "secret_key, ami.secret" in r.stderr and "CALLCENTER_MODE=demo" in r.stderr


def test_a_malformed_setting_names_the_setting() -> None:
    r = _run("models", "list", CALLCENTER_MODE="demo", CALLCENTER_AMI__PORT="not-a-port")
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert "ami.port" in r.stderr


def test_up_and_serve_on_a_database_never_migrated_say_db_upgrade(tmp_path: object) -> None:
    """Not a loop of `no such table` tracebacks from every service: one line naming the fix."""
    from pathlib import Path

    db = f"sqlite:///{Path(str(tmp_path)) / 'empty.sqlite3'}"
    for command in ("up", "serve"):
        r = _run(command, CALLCENTER_MODE="demo", CALLCENTER_DATABASE_URL=db)
        assert r.returncode == 2, r
        assert "Traceback" not in r.stderr and "no such table" not in r.stderr
        assert "never migrated" in r.stderr and "callcenter db upgrade" in r.stderr
