"""The portal's one family of domain errors.

A service refuses what it cannot do by raising an ``ApplicationError`` subclass: a stable ``code``
(for machines and tests), a message for people (Japanese, shown as it is), the HTTP status that
fits when the refusal reaches a web client, and optional ``extra`` facts. The REST API renders
them through ``core.api.exception_handler``, the HTML pages through
``core.middleware.ApplicationErrorMiddleware``.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class ApplicationError(Exception):
    """A refusal of the domain; ``str(error)`` is the message for people."""

    code = "application_error"
    status = 400

    def __init__(
        self, message: str | Promise = "", *, code: str | None = None, status: int | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


class Conflict(ApplicationError):
    """The request conflicts with the current state (already done, in use, out of order)."""

    code = "conflict"
    status = 409


class Refused(ApplicationError):
    """The caller may not do this (beyond what the permission checks already refuse)."""

    code = "refused"
    status = 403
