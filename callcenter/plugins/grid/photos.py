"""Photos of grid reports and check tasks (现场照片): checked, cleaned, stored outside the database.

Each upload is read up to ``intake.photo_max_bytes`` (larger: 413), opened with Pillow and accepted
only as JPEG, PNG or WebP of at most ``intake.photo_max_pixels`` (anything else: 415 — the declared
content type is not trusted). The EXIF GPS position is read first (kept as the report's location
when the worker allows it); then the image is turned upright by its EXIF orientation and saved again
**without** any metadata (EXIF, XMP, ICC comments: camera, owner, time and place are stripped) as
JPEG, with a thumbnail of ``intake.thumb_px``. Files live under ``intake.uploads_dir`` as
``photos/YYYY/MM/<sha256>.jpg`` and ``…/<sha256>.thumb.jpg`` (content-addressed: the same photo sent
twice is one file); back the folder up with the database (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from callcenter.config import IntakeSettings
from callcenter.exceptions import PayloadTooLarge
from callcenter.plugins.grid.exceptions import BadPhoto

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
GPS_IFD = 0x8825


@dataclass(frozen=True)
class StoredPhoto:
    path: str  # relative to uploads_dir
    thumb_path: str
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    lat: float | None
    lon: float | None


def _ratio(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ZeroDivisionError, ValueError):
        num, den = value
        return float(num) / float(den)


def _dms(values: Any, ref: Any) -> float | None:
    try:
        d, m, s = (_ratio(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60 + s / 3600
    ref_s = ref.decode() if isinstance(ref, bytes) else str(ref or "")
    return -deg if ref_s.strip().upper() in ("S", "W") else deg


def exif_gps(img: Image.Image) -> tuple[float | None, float | None]:
    """Latitude and longitude from the EXIF GPS block, or (None, None)."""
    try:
        gps = img.getexif().get_ifd(GPS_IFD)
    except Exception:
        return None, None
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat, lon = _dms(gps[2], gps.get(1)), _dms(gps[4], gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lat, 7), round(lon, 7)


def check_size(data: bytes, policy: IntakeSettings) -> None:
    if len(data) > policy.photo_max_bytes:
        raise PayloadTooLarge(f"photo is {len(data)} bytes; the limit is {policy.photo_max_bytes}")


def store(data: bytes, policy: IntakeSettings, now: datetime, *, keep_gps: bool) -> StoredPhoto:
    """Check, clean and store one photo; the GPS position only when ``keep_gps``."""
    check_size(data, policy)
    if not data:
        raise BadPhoto("empty file: a photo is needed")
    Image.MAX_IMAGE_PIXELS = policy.photo_max_pixels
    try:
        img = Image.open(io.BytesIO(data))
        fmt = img.format or ""
        if fmt not in FORMATS:
            raise BadPhoto(f"not a JPEG, PNG or WebP photo ({fmt or 'unknown format'})")
        if img.width * img.height > policy.photo_max_pixels:
            raise BadPhoto(f"photo of {img.width}×{img.height} pixels is over the limit")
        lat, lon = exif_gps(img) if keep_gps else (None, None)
        img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise BadPhoto(f"not a readable JPEG, PNG or WebP photo: {exc.__class__.__name__}") from exc
    upright = ImageOps.exif_transpose(img)
    clean = upright.convert("RGB")  # drops alpha and palette; a new image carries no metadata
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    cleaned = out.getvalue()
    digest = hashlib.sha256(cleaned).hexdigest()
    thumb = clean.copy()
    thumb.thumbnail((policy.thumb_px, policy.thumb_px))
    tout = io.BytesIO()
    thumb.save(tout, "JPEG", quality=80)
    rel = Path("photos") / f"{now:%Y}" / f"{now:%m}"
    folder = policy.uploads_dir / rel
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{digest}.jpg", cleaned)
    _write(folder / f"{digest}.thumb.jpg", tout.getvalue())
    return StoredPhoto(
        path=str(rel / f"{digest}.jpg"),
        thumb_path=str(rel / f"{digest}.thumb.jpg"),
        content_type="image/jpeg",
        size_bytes=len(cleaned),
        sha256=digest,
        width=clean.width,
        height=clean.height,
        lat=lat,
        lon=lon,
    )


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a crash never leaves half a photo under the final name)."""
    if path.exists():
        return
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def resolve(policy: IntakeSettings, rel: str) -> Path:
    """The file of a stored relative path (never outside ``uploads_dir``)."""
    root = policy.uploads_dir.resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise BadPhoto("bad photo path")
    return path
