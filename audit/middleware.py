"""Per-request audit of access to personal data, and of every denied access.

Views that show or export personal data are marked with ``@personal_data(action=...)`` (or, for
REST framework views, a ``personal_data_action`` attribute). They, and the tenant access functions,
add what they touched to ``request.audit``. After the view has produced its response, and before
the response leaves the server, one event is written with the outcome taken from the status code.
If that write fails the client receives an error instead of the data.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

from core.http import is_trusted_proxy, request_audit

from .models import Outcome
from .services import audit_record

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


@dataclass
class RequestAudit:
    action: str = ""
    object_type: str = ""
    object_ids: list[str] = field(default_factory=list)
    denied: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def touch(self, object_type: str, ids: Iterable[Any]) -> None:
        if not self.object_type:
            self.object_type = object_type
        self.object_ids.extend(str(i) for i in ids)

    def deny(self, object_type: str, ident: Any) -> None:
        self.denied = True
        self.touch(object_type, [ident])


def personal_data(action: str) -> Callable[[ViewFunc], ViewFunc]:
    """Mark a view as reading or exporting personal data; every request that reaches it is audited.

    Put it outermost, so that a request the view's own permission check refuses is audited as denied.
    """

    def decorate(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            request_audit(request).action = action
            return view(request, *args, **kwargs)

        wrapped.personal_data_action = action  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def _outcome(status: int) -> str:
    if status in (401, 403, 404):
        return Outcome.DENIED
    if status >= 400:
        return Outcome.FAILURE
    return Outcome.SUCCESS


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The TLS proxy's request id joins its access log to the audit log; from any other peer the
        # header is ignored (a client must not choose what the audit log records for it).
        incoming = request.META.get("HTTP_X_REQUEST_ID", "") if is_trusted_proxy(request.META.get("REMOTE_ADDR", "")) else ""
        request.request_id = incoming[:64] if incoming.isalnum() else uuid.uuid4().hex  # type: ignore[attr-defined]
        request.audit = RequestAudit()  # type: ignore[attr-defined]
        response = self.get_response(request)
        audit: RequestAudit = request.audit  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if audit.action or audit.denied:
            outcome = Outcome.DENIED if audit.denied else _outcome(response.status_code)
            audit_record(
                action=audit.action or "access.denied",
                actor=user if user is not None and user.is_authenticated else None,
                request=request,
                outcome=outcome,
                object_type=audit.object_type,
                object_ids=audit.object_ids,
                detail={"status": response.status_code, **audit.detail},
            )
        return response
