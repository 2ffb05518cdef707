"""Errors of the public intake: each one a clear 4xx with the reason."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class BadSubmission(CallCenterError):
    """A required field is missing or a field is malformed (400)."""

    status_code = 400


class RateLimited(CallCenterError):
    """Too many submissions from one address (or one Open311 client) in the window (429)."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidApiKey(CallCenterError):
    """An Open311 POST without a known ``api_key`` (403, as the GeoReport spec asks)."""

    status_code = 403


class UnknownService(CallCenterError):
    """A ``service_code`` that is not in the catalogue (404 for a definition, 400 in a POST)."""

    status_code = 404
