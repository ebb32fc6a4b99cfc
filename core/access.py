"""The shape of every access function: look the object up within what the user may see, or deny.

A missing object and another party's object get the same answer (404, the same message), and the
refusal is recorded on the request's audit trail as denied.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from .http import request_audit

M = TypeVar("M", bound=Model)


def deny(request: HttpRequest, object_type: str, ident: object) -> NoReturn:
    """Record the refusal on the request's audit trail and answer 404."""
    request_audit(request).deny(object_type, ident)
    raise Http404


def get_or_deny(visible: QuerySet[M], request: HttpRequest, object_type: str, ident: object, **lookup: Any) -> M:
    """The one object of ``visible`` matching ``lookup``, or a denied 404 naming ``object_type``/``ident``."""
    found = visible.filter(**lookup).first()
    if found is None:
        deny(request, object_type, ident)
    return found
