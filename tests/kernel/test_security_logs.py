"""Sessions (issue 12, item 8, first part): a JWT passed as ``?token=`` (SSE streams authenticate that
way) never reaches the access log — in the text and in the JSON log format of ``callcenter serve``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import pytest

from tests.kernel.conftest import PASSWORD
from tests.kernel.live_api import serve

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_query_tokens_are_redacted_in_the_access_log(
    seeded_sqlite: str, redis_url: str, tmp_path: Path, log_format: str
) -> None:
    env = {"CALLCENTER_OBSERVABILITY__LOG_FORMAT": log_format}
    with serve(seeded_sqlite, redis_url, tmp_path, extra_env=env) as live:
        r = httpx.post(f"{live.base}/api/auth/token", data={"username": "agent1", "password": PASSWORD})
        token = r.json()["access_token"]
        with httpx.stream("GET", f"{live.base}/api/console/events?token={token}", timeout=10) as stream:
            assert stream.status_code in (200, 404), stream.status_code  # 404: console not installed
        assert httpx.get(f"{live.base}/api/cases?limit=5&token={token}").status_code == 200
        assert httpx.get(f"{live.base}/api/cases?access_token=not.a.jwt-secret&limit=1").status_code == 401
        deadline = time.monotonic() + 10
        while "limit=1" not in live.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = live.log()
    assert "/api/cases?limit=5&token=[redacted]" in log, log[-2000:]
    assert "/api/cases?access_token=[redacted]&limit=1" in log
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature
    assert "not.a.jwt-secret" not in log
    if log_format == "json":
        access = [json.loads(line) for line in log.splitlines() if '"uvicorn.access"' in line]
        assert access and all(
            "token=[redacted]" in rec["message"] for rec in access if "token=" in rec["message"]
        )


def test_redaction_rule() -> None:
    from callcenter.observability import RedactTokens, redact_query_tokens

    assert redact_query_tokens('GET /e?token=eyJ.a.b HTTP/1.1"') == 'GET /e?token=[redacted] HTTP/1.1"'
    assert redact_query_tokens("/x?a=1&TOKEN=abc&b=2") == "/x?a=1&TOKEN=[redacted]&b=2"
    assert redact_query_tokens("/x?mytoken=abc") == "/x?mytoken=abc"  # another parameter: kept
    assert redact_query_tokens("/tokens/token=abc") == "/tokens/token=abc"  # not a query
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s "%s %s"', ("1.2.3.4", "GET", "/e?token=s"), None
    )
    assert RedactTokens().filter(record) and record.getMessage() == '1.2.3.4 "GET /e?token=[redacted]"'
