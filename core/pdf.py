"""The portal's one PDF renderer: a Django template through WeasyPrint, with nothing fetched.

Every PDF (受領書, 受付エラー連絡表, invoices and statements, the checklist, disposal certificates) is
made by `render_pdf`. The URL fetcher refuses every URL (``http:``, ``file:``, ``data:`` ...), so text
that reaches a template can neither call out to the network nor read a file of the server into a
PDF. A refused resource is left out of the PDF and WeasyPrint logs a warning; the rendering goes on.

WeasyPrint is imported when a PDF is made, not when this module is: it loads Pango, which only the
PDF downloads need. Where it cannot be loaded, `render_pdf` raises `PdfUnavailable` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher, URLFetcherResponse


class PdfUnavailable(Exception):
    """WeasyPrint (or the Pango libraries it loads) is not available; the message says why."""


class ResourceRefused(ValueError):
    """A PDF asked for an external resource."""


def fetch_resource(url: str) -> bytes:
    """Refuse ``url``: PDFs are made from the template alone."""
    raise ResourceRefused(f"external resources are not loaded into PDFs: {url[:80]}")


@cache
def _fetcher_class() -> type[URLFetcher]:
    """WeasyPrint's fetcher, narrowed to `fetch_resource` (built on first use: importing WeasyPrint loads Pango)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class RefusingFetcher(URLFetcher):
        """Refuses every URL; never opens a connection."""

        def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
            return URLFetcherResponse(url, fetch_resource(url))

    return RefusingFetcher


def html_to_pdf(html: str) -> bytes:
    """``html`` as PDF bytes, with no resource fetched.

    Raises ``PdfUnavailable`` when WeasyPrint or Pango cannot be loaded.
    """
    try:
        import weasyprint  # loads Pango: only PDF downloads need it
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return bytes(weasyprint.HTML(string=html, url_fetcher=_fetcher_class()()).write_pdf())


def render_pdf(template: str, context: Mapping[str, Any]) -> bytes:
    """Render the Django template ``template`` with ``context`` and return the PDF bytes.

    Raises ``PdfUnavailable`` when WeasyPrint or Pango cannot be loaded.
    """
    return html_to_pdf(render_to_string(template, dict(context)))
