"""The REST API's one error shape: ``{"detail": <message for people>, "code": <stable code>}``.

Domain refusals (``core.exceptions.ApplicationError``) are rendered with their own status, code and
extra facts; REST framework's own errors keep their status and gain the ``code`` their ``detail``
lacks. Set as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as rest_framework_handler

from .exceptions import ApplicationError


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.code, **exc.extra), status=exc.status)
    response = rest_framework_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        codes = exc.get_codes() if isinstance(exc, APIException) else None
        data["code"] = codes if isinstance(codes, str) else "error"
    return response
