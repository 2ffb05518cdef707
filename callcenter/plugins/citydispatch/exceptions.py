"""Errors of the city platform intake: each one a clear 4xx with the reason."""

from __future__ import annotations

from callcenter.exceptions import CallCenterError


class BadSignature(CallCenterError):
    """Unknown partner, missing or wrong signature, timestamp outside the window (401)."""

    status_code = 401


class Replayed(CallCenterError):
    """A nonce the partner already used inside the window (409): the request was a replay."""

    status_code = 409


class OrderConflict(CallCenterError):
    """The upstream order id was already pushed with different content (409)."""

    status_code = 409


class BadOrder(CallCenterError):
    """The order body is malformed or misses a field (422)."""

    status_code = 422
