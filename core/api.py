"""The REST API's one error shape: ``{"detail": <message for people>, "code": <stable code>}``.

Every answer under ``/api/`` that is not a success carries it, whoever produced it:

- domain refusals (``core.exceptions.ApplicationError``) with their own status, code and extra facts;
- REST framework's own errors (401, 403, 404, 405, 406, 415, a malformed body; their messages come in
  Japanese with REST framework's translations) keep their status and gain the ``code`` their ``detail`` lacks; a serializer's field errors become ``code: "invalid"``
  with the fields' messages under ``errors``;
- what never reaches a REST framework view (an id that is not a number, a path that does not exist,
  a refusal of the portal's session middleware, a server error) through ``api_error_response`` and
  the project's ``handler404``/``handler500`` (``api_or_page_404``, ``api_or_page_500``).

Paging (``PortalPagination``): ``limit`` 1 to ``MAX_PAGE_LIMIT``, ``offset`` 0 to ``MAX_PAGE_OFFSET``;
anything else is a 400 ``invalid_paging``, never a value passed on to SQL.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as rest_framework_handler
from rest_framework.views import set_rollback

from .exceptions import ApplicationError

API_PREFIX = "/api/"
MAX_PAGE_LIMIT = 1000
MAX_PAGE_OFFSET = 2**31 - 1

class ErrorSerializer(serializers.Serializer):
    """Error body of this API (every status other than 2xx)."""

    detail = serializers.CharField(help_text=gettext_lazy("利用者向けの説明（日本語）"))
    code = serializers.CharField(help_text=gettext_lazy("機械が判定に使う固定のコード"))
    errors = serializers.DictField(  # type: ignore[assignment]  # a field of the schema, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text=gettext_lazy("入力値の誤り（code が invalid のとき）：項目名ごとのメッセージ"),
    )


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error_response(detail: str, code: str, status: int, **extra: Any) -> JsonResponse:
    """The error shape for answers produced outside REST framework's views."""
    return JsonResponse(error_body(detail, code, **extra), status=status, json_dumps_params={"ensure_ascii": False})


def _field_errors(errors: Any) -> dict[str, list[str]]:
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors}
    return {("non_field_errors" if str(k) == "__all__" else str(k)): [str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in errors.items()}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.code, **exc.extra), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        # a model's full_clean() inside a service: the same 400 as a serializer's field errors
        set_rollback()
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body(_("入力内容に誤りがあります。"), "invalid", errors=_field_errors(errors)), status=400)
    response = rest_framework_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, ValidationError) and not (isinstance(data, dict) and set(data) <= {"detail", "code"}):
        response.data = error_body(_("入力内容に誤りがあります。"), "invalid", errors=_field_errors(data))
        return response
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        if isinstance(exc, APIException):
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else "error"
        else:  # Django's own exceptions, which REST framework answers as its NotFound / PermissionDenied
            code = "not_found" if isinstance(exc, Http404) else "permission_denied" if isinstance(exc, PermissionDenied) else "error"
        response.data = error_body(str(data["detail"]), code)
    elif isinstance(data, list):
        response.data = error_body(" ".join(str(item) for item in data), "error")
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the API's error shape under ``/api/``, Django's page elsewhere."""
    if is_api(request):
        return api_error_response(_("CSRF トークンがないか、正しくありません。"), "csrf_failed", 403)
    return csrf.csrf_failure(request, reason)


@csrf_exempt
@login_not_required
def api_or_page_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: JSON under ``/api/`` (an id that is not a number never reaches a view), the page elsewhere."""
    if is_api(request):
        return api_error_response(_("見つかりませんでした。"), "not_found", 404)
    return defaults.page_not_found(request, exception)


def api_or_page_500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return api_error_response(_("サーバー内部でエラーが発生しました。"), "server_error", 500)
    return defaults.server_error(request)


class InvalidQuery(ApplicationError):
    """A query parameter outside what the API documents (paging values, an enum filter)."""

    code = "invalid_query"
    status = 400


def _bounded(raw: str, name: str, minimum: int, maximum: int) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not minimum <= int(text) <= maximum:
        raise InvalidQuery(
            _("%(name)s は %(minimum)d〜%(maximum)d の整数で指定してください。") % {"name": name, "minimum": minimum, "maximum": maximum},
            code="invalid_paging", extra={"parameter": name},
        )
    return int(text)


def choice_param(request: Request, name: str, choices: list[str]) -> str:
    """An enum query parameter: empty when absent, 400 ``invalid_<name>`` when not one of ``choices``."""
    value = request.query_params.get(name)
    if value is None:
        return ""
    if value not in choices:
        raise InvalidQuery(
            _("%(name)s は %(choices)s のいずれかで指定してください。") % {"name": name, "choices": "、".join(choices)},
            code=f"invalid_{name}", extra={"parameter": name},
        )
    return value


class PortalPagination(LimitOffsetPagination):
    """``limit``/``offset`` paging with documented bounds; invalid values are refused, not ignored."""

    max_limit = MAX_PAGE_LIMIT

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return _bounded(raw, self.limit_query_param, 1, MAX_PAGE_LIMIT)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return _bounded(raw, self.offset_query_param, 0, MAX_PAGE_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: (1, MAX_PAGE_LIMIT, f"1ページの件数（1〜{MAX_PAGE_LIMIT}、省略時 {self.default_limit}）"),
            self.offset_query_param: (0, MAX_PAGE_OFFSET, f"先頭から飛ばす件数（0〜{MAX_PAGE_OFFSET}）"),
        }
        for parameter in parameters:
            if parameter["name"] in bounds:
                minimum, maximum, description = bounds[parameter["name"]]
                parameter["schema"] = {"type": "integer", "minimum": minimum, "maximum": maximum}
                parameter["description"] = description
        return parameters
