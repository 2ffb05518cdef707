"""Errors of the core services, mapped to HTTP status codes by the API."""

from __future__ import annotations


class CallCenterError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CallCenterError):
    status_code = 404


class Conflict(CallCenterError):
    """Invalid transition, concurrent update, duplicate — 409."""

    status_code = 409


class Forbidden(CallCenterError):
    status_code = 403


class Unprocessable(CallCenterError):
    """Unknown matter / unit / area, malformed command — 422."""

    status_code = 422


class PayloadTooLarge(CallCenterError):
    status_code = 413


class CommandError(ValueError):
    """A command is malformed — a workflow action without its reason, an Asterisk command with a bad
    argument. Nothing happened (HTTP 422)."""
