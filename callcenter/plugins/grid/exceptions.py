"""Errors of the grid plugin."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class BadGridFile(CallCenterError):
    """A grid / member CSV line is malformed (the message names the line)."""

    status_code = 422


class BadPhoto(CallCenterError):
    """A photo that is not a JPEG / PNG / WebP image, or is too large (415 / 413 set per case)."""

    status_code = 415
