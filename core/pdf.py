"""The portal's one PDF renderer: a Django template through WeasyPrint, set in the bundled Japanese font.

Every PDF (受領書, 受付エラー連絡表, invoices and statements, the checklist, disposal certificates) is
made by `render_pdf`, so that it looks the same on every machine whatever fonts the host has: the
text is set in IPAexGothic, which the portal brings in ``core/fonts/`` (IPA Font License v1.0, the
licence and readme beside it). The PDF templates name ``FONT_FAMILY`` first in each ``font-family``
list; the ``@font-face`` rule that loads it comes from here, not from the templates.

Nothing else is fetched. The URL fetcher hands WeasyPrint the bundled font file and refuses every
other URL (``http:``, ``file:``, ``data:`` ...), so text that reaches a template can neither call out
to the network nor read a file of the server into a PDF. A refused resource is left out of the PDF
and WeasyPrint logs a warning; the rendering goes on.

WeasyPrint is imported when a PDF is made, not when this module is: it loads Pango, which only the
PDF downloads need. Where it cannot be loaded, `render_pdf` raises `PdfUnavailable` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILE = FONT_DIR / "ipaexg.ttf"
FONT_URL = FONT_FILE.as_uri()
# A name of the portal's own, so that an IPAexGothic installed on the host (another version) is never
# picked instead of the bundled file.
FONT_FAMILY = "Portal IPAexGothic"
FONT_FACE_CSS = f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{FONT_URL}"); }}'


class PdfUnavailable(Exception):
    """WeasyPrint (or the Pango libraries it loads) is not available; the message says why."""


class ResourceRefused(ValueError):
    """A PDF asked for a resource other than the bundled font."""


def fetch_resource(url: str) -> bytes:
    """The bytes behind ``url`` when it is the bundled font's exact URL; ``ResourceRefused`` otherwise."""
    if url != FONT_URL:
        raise ResourceRefused(f"only the bundled font is loaded into PDFs, not {url[:80]}")
    return FONT_FILE.read_bytes()


@cache
def _fetcher_class() -> type[URLFetcher]:
    """WeasyPrint's fetcher, narrowed to `fetch_resource` (built on first use: importing WeasyPrint loads Pango)."""
    # Imported on first use, not at module level: WeasyPrint loads Pango, which only PDF downloads need.
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BundledFontFetcher(URLFetcher):
        """Answers the bundled font's URL and refuses every other one; never opens a connection."""

        def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
            return URLFetcherResponse(url, fetch_resource(url), {"Content-Type": "font/ttf"})

    return BundledFontFetcher


def html_to_pdf(html: str) -> bytes:
    """``html`` as PDF bytes, in the bundled font, with no resource fetched but that font.

    Raises ``PdfUnavailable`` when WeasyPrint or Pango cannot be loaded.
    """
    try:
        # Imported here: WeasyPrint loads Pango, which only PDF downloads need (and may be missing).
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"{type(exc).__name__}: {exc}") from exc
    fetcher = _fetcher_class()()
    fonts = FontConfiguration()
    font_face = weasyprint.CSS(string=FONT_FACE_CSS, url_fetcher=fetcher, font_config=fonts)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    return bytes(document.write_pdf(stylesheets=[font_face], font_config=fonts))


def render_pdf(template: str, context: Mapping[str, Any]) -> bytes:
    """Render the Django template ``template`` with ``context`` and return the PDF bytes.

    Raises ``PdfUnavailable`` when WeasyPrint or Pango cannot be loaded.
    """
    return html_to_pdf(render_to_string(template, dict(context)))
