"""The HTML pages' one mapping of domain refusals (``core.exceptions.ApplicationError``).

A refused form post goes back to the page it came from with the message shown there; any other
request gets the error page with the refusal's status and message. Views that want to keep what a
person typed catch the refusal themselves and show it beside the form.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .exceptions import ApplicationError


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        if request.method == "POST":
            messages.error(request, exception.message)
            return redirect(request.get_full_path())
        return render(request, "error.html", {"message": exception.message, "code": exception.code}, status=exception.status)
