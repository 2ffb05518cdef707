"""docker/compose.yaml, validated by the real Docker Compose v2 (``config``) and checked against the code.

No Docker engine is needed: ``docker compose config`` parses, interpolates and validates the file
against the compose specification. The checks tie it to the code: every ``callcenter`` command is a
real subcommand with real options, every ``CALLCENTER_*`` variable is a real setting, ports and paths
agree with the settings, and missing secrets stop compose with a clear message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic import BaseModel

from callcenter.config import Settings
from tests.deploy.conftest import COMPOSE_FILE, DOCKER_DIR, REPO, REQUIRED_SECRETS, Compose

CALLCENTER = str(Path(sys.executable).parent / "callcenter")
ISSUE_SERVICES = {"asterisk", "api", "agi", "asr", "ami-bridge", "worker", "redis", "postgres"}
#: Long-running app service → (setting of the port its healthcheck probes, port the process listens on).
HEALTH_PORTS = {
    "api": "api_port",
    "agi": "observability.agi_metrics_port",
    "ami-bridge": "observability.ami_bridge_metrics_port",
    "asr": "observability.speech_metrics_port",
    "worker": "observability.worker_metrics_port",
}


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def _app_services(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services whose command is a ``callcenter`` command."""
    return {
        name: svc
        for name, svc in cfg["services"].items()
        if svc.get("command") and svc["command"][0] == "callcenter"
    }


def _setting(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


# --------------------------------------------------------------------------- structure


def test_compose_config_is_valid_and_has_every_service_of_the_issue(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) >= ISSUE_SERVICES
    app = _app_services(resolved)
    assert {"api", "agi", "asr", "ami-bridge", "worker"} <= set(app)
    # the application services share one image; Asterisk has its own (Debian sid package)
    assert len({svc["image"] for svc in app.values()}) == 1
    assert resolved["services"]["asterisk"]["build"]["dockerfile"] == "docker/asterisk/Dockerfile"
    assert resolved["services"]["api"]["build"]["dockerfile"] == "docker/Dockerfile"


def test_asr_is_scalable(resolved: dict[str, Any]) -> None:
    asr = resolved["services"]["asr"]
    assert "container_name" not in asr, "a fixed container name forbids --scale"
    assert not asr.get("ports"), "a published host port forbids --scale"
    # Asterisk reaches the replicas through the service name (Docker DNS returns every replica)
    cmd = resolved["services"]["asterisk-config"]["command"]
    env = resolved["services"]["asterisk-config"]["environment"]
    assert env["CALLCENTER_SPEECH__AUDIOSOCKET_HOST"] == "asr"
    assert "--dest=/provisioned" in cmd


def test_every_long_running_service_has_a_healthcheck_and_one_shots_do_not_restart(
    resolved: dict[str, Any],
) -> None:
    for name, svc in resolved["services"].items():
        if svc.get("restart") == "no":
            assert svc.get("command"), name
            continue
        assert svc.get("restart") == "unless-stopped", name
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_healthchecks_probe_the_ports_the_processes_serve(resolved: dict[str, Any]) -> None:
    defaults = Settings(mode="test")
    for name, setting in HEALTH_PORTS.items():
        probe = " ".join(resolved["services"][name]["healthcheck"]["test"])
        m = re.search(r"http://127\.0\.0\.1:(\d+)/(\w+)", probe)
        assert m, f"{name}: {probe}"
        assert int(m.group(1)) == _setting(defaults, setting), name
        assert m.group(2) in ("metrics", "readyz")


def test_listen_ports_agree_with_the_settings(resolved: dict[str, Any]) -> None:
    s = Settings(mode="test")
    services = resolved["services"]
    api_cmd = services["api"]["command"]
    assert api_cmd[api_cmd.index("--port") + 1] == str(s.api_port)
    assert services["api"]["ports"][0]["target"] == s.api_port
    # FastAGI and AudioSocket listen on every interface of the container, on the configured ports
    assert services["agi"]["command"][-2:] == ["--host", "0.0.0.0"]
    assert services["asr"]["command"][-2:] == ["--host", "0.0.0.0"]
    sip = [p for p in services["asterisk"]["ports"] if p["target"] == s.asterisk.sip_port]
    assert sip and sip[0]["protocol"] == "udp"


def test_volumes_for_recordings_and_database(resolved: dict[str, Any]) -> None:
    def mounts(service: str) -> dict[str, str]:
        return {
            v["target"]: v["source"]
            for v in resolved["services"][service].get("volumes", [])
            if v["type"] == "volume"
        }

    assert {"pgdata", "recordings", "models", "redis-data"} <= set(resolved["volumes"])
    assert mounts("postgres")["/var/lib/postgresql/data"] == "pgdata"
    # the AMI bridge stores this path in calls.recording (MixMonitorStart)
    events = (REPO / "callcenter/plugins/telephony/ami/events.py").read_text(encoding="utf-8")
    assert "/var/spool/asterisk/monitor/" in events
    assert mounts("asterisk")["/var/spool/asterisk/monitor"] == "recordings"
    assert mounts("api")["/var/spool/asterisk/monitor"] == "recordings"
    models_dir = resolved["services"]["asr"]["environment"]["CALLCENTER_SPEECH__MODELS_DIR"]
    assert mounts("asr")[models_dir] == "models"
    assert mounts("models")[models_dir] == "models"
    classifier_dir = resolved["services"]["worker"]["environment"]["CALLCENTER_CLASSIFIER__MODEL_DIR"]
    assert mounts("train")[classifier_dir] == mounts("worker")[classifier_dir] == "classifier"
    # Asterisk reads what asterisk-config rendered
    assert mounts("asterisk-config")["/provisioned"] == mounts("asterisk")["/provisioned"]


def test_ami_is_open_to_the_compose_network_only(compose: Compose, secret_env: dict[str, str]) -> None:
    cfg = compose.config({**secret_env, "HOTLINE_SUBNET": "10.77.0.0/16"})
    assert cfg["networks"]["backend"]["ipam"]["config"][0]["subnet"] == "10.77.0.0/16"
    assert "--ami-permit=10.77.0.0/16" in cfg["services"]["asterisk-config"]["command"]
    assert not any(p["target"] == 5038 for p in cfg["services"]["asterisk"].get("ports", []))


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
def test_config_fails_clearly_without_a_required_secret(
    compose: Compose, secret_env: dict[str, str], missing: str
) -> None:
    env = {k: v for k, v in secret_env.items() if k != missing}
    res = compose.run(env, "config", "--quiet")
    assert res.returncode != 0
    assert f"required variable {missing} is missing a value: set {missing}" in res.stderr


def test_secrets_are_never_literals(resolved: dict[str, Any], secret_env: dict[str, str]) -> None:
    # in the file: every secret-like variable is a required interpolation
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    for name in REQUIRED_SECRETS:
        refs = re.findall(r"\$\{" + name + r"([^}]*)\}", raw)
        assert refs and all(r.startswith(":?") for r in refs), name
    # resolved: the values in every container are exactly the ones from the environment
    for name, svc in resolved["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD", key):
                assert value in secret_env.values(), f"{name}: {key} is not taken from the environment"
            if key == "CALLCENTER_DATABASE_URL":
                assert secret_env["POSTGRES_PASSWORD"] in value
    # the example environment file carries no secret values
    example = (DOCKER_DIR / ".env.example").read_text(encoding="utf-8")
    for name in REQUIRED_SECRETS:
        assert re.search(rf"^{name}=$", example, re.M), name
    assert (DOCKER_DIR / ".gitignore").read_text().splitlines().count(".env") == 1


# --------------------------------------------------------------------------- tied to the code


def _resolve_command(argv: list[str]) -> tuple[list[str], Any]:
    """Split ``argv`` (after ``callcenter``) into the subcommand path and the real command object."""
    from callcenter.cli import app

    cmd: Any = typer.main.get_command(app)
    path: list[str] = []
    while hasattr(cmd, "commands") and len(path) < len(argv):
        sub = cmd.commands.get(argv[len(path)])
        assert sub is not None, f"`callcenter {' '.join(argv[: len(path) + 1])}`: no such subcommand"
        path.append(argv[len(path)])
        cmd = sub
    assert not hasattr(cmd, "commands"), f"`callcenter {' '.join(path)}` is a group, not a command"
    return path, cmd


def test_every_command_is_a_real_callcenter_subcommand(resolved: dict[str, Any]) -> None:
    app = _app_services(resolved)
    assert len(app) >= 10
    for name, svc in app.items():
        argv = list(svc["command"][1:])
        path, cmd = _resolve_command(argv)
        res = subprocess.run(
            [CALLCENTER, *path, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert res.returncode == 0, f"{name}: callcenter {' '.join(path)} --help: {res.stderr[-500:]}"
        # the arguments and options parse as the real command parses them (no run)
        ctx = cmd.make_context(f"callcenter {' '.join(path)}", argv[len(path) :])
        assert isinstance(ctx.params, dict), name


def test_command_check_rejects_unknown_subcommands_and_options() -> None:
    with pytest.raises(AssertionError):
        _resolve_command(["no-such-command"])
    with pytest.raises(AssertionError):
        _resolve_command(["asterisk"])
    _, cmd = _resolve_command(["agi"])
    with pytest.raises(Exception, match="no-such-option"):
        cmd.make_context("callcenter agi", ["--no-such-option", "1"])


def _check_env_name(name: str) -> None:
    """``CALLCENTER_A__B`` → Settings.a.b (one settings tree: no other prefix is read)."""
    assert name.startswith("CALLCENTER_"), name
    rest = name[len("CALLCENTER_") :].lower()
    model: type[BaseModel] = Settings
    parts = rest.split("__")
    for i, part in enumerate(parts):
        assert part in model.model_fields, f"{name}: no setting {'.'.join(parts[: i + 1])}"
        annotation = model.model_fields[part].annotation
        if i < len(parts) - 1:
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel), name
            model = annotation


def test_environment_variables_are_real_settings(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    names: set[str] = set()
    for svc in _app_services(resolved).values():
        env: dict[str, str] = svc["environment"]
        names |= {k for k in env if k.startswith("CALLCENTER_")}
        for key in list(os.environ):
            if key.startswith("CALLCENTER_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        # production mode with the compose secrets: the settings validate and point at the services
        s = Settings()
        assert s.mode == "production"
        assert s.database_url.startswith("postgresql://") and "@postgres:5432/" in s.database_url
        assert s.redis_url == "redis://redis:6379/0"
        assert (s.ami.host, s.fastagi_host, s.speech.audiosocket_host) == ("asterisk", "agi", "asr")
    for line in (DOCKER_DIR / "Dockerfile").read_text(encoding="utf-8").splitlines():
        names |= set(re.findall(r"\b(CALLCENTER_[A-Z0-9_]+)=", line))
    for line in (DOCKER_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.startswith("CALLCENTER_"):
            names.add(line.split("=", 1)[0])
    assert len(names) > 10
    for name in sorted(names):
        _check_env_name(name)


def test_env_name_check_rejects_unknown_names() -> None:
    for bad in (
        "CALLCENTER_NO_SUCH",
        "CALLCENTER_AMI__NOPE",
        "CALLCENTER_TELEPHONY_AGENT_EXTENSIONS",  # one underscore: not a setting (it is __)
        "CALLCENTER_TELEPHONY__NOPE",
        "CALLCENTER_MODE__X",
    ):
        with pytest.raises(AssertionError):
            _check_env_name(bad)
    _check_env_name("CALLCENTER_OBSERVABILITY__WORKER_METRICS_PORT")


def test_raw_file_uses_anchors_for_the_shared_app_settings() -> None:
    raw = _raw()
    assert raw["name"] == "hotline"
    # the shared block is declared once (x-app) and reused, so the services cannot drift apart
    assert "x-app" in raw and "x-once" in raw
