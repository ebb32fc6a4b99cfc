"""The one PDF renderer: Japanese text in the bundled font on any host, and nothing fetched but that font."""

from __future__ import annotations

import builtins
import io
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from agency.demo import AGENCY
from agency.models import Contract, Role
from core.pdf import (
    FONT_DIR,
    FONT_FAMILY,
    FONT_FILE,
    FONT_URL,
    PdfUnavailable,
    ResourceRefused,
    fetch_resource,
    html_to_pdf,
    render_pdf,
)
from intake.models import Submission

from ..factories import AgencyProfileFactory
from ..intake.helpers import make_archive, receive

BUNDLED_FAMILY = "IPAexGothic"  # the family name inside the bundled font file


def _fonts(data: bytes) -> list[tuple[str, str]]:
    """(PDF font name, family name read from the embedded font program) of every font the pages use."""
    fonts = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descendant = descendant.get_object()
                program = descendant["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
                family = TTFont(io.BytesIO(program))["name"].getDebugName(1)
                fonts.append((str(descendant["/BaseFont"]), family))
    return fonts


def _assert_set_in_the_bundled_font(data: bytes) -> None:
    fonts = _fonts(data)
    assert fonts
    for name, family in fonts:
        assert BUNDLED_FAMILY in name, name
        assert family == BUNDLED_FAMILY, (name, family)


# --- real documents through the pages that serve them ---------------------------------------------------------


@pytest.fixture
def submission(db: Any, contract_a: Contract, django_capture_on_commit_callbacks: Any) -> Submission:
    AgencyProfileFactory(**AGENCY)
    return receive(make_archive(contract_a), contract_a.institution, django_capture_on_commit_callbacks)


def test_receipt_pdf_shows_its_japanese_labels_in_the_bundled_font(
    user_client: Callable[..., Client], submission: Submission
) -> None:
    response = user_client(Role.INSTITUTION_STAFF).get(reverse("intake:receipt_pdf", args=[submission.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for label in ("受領書", "御中", "機関番号", "下記のとおり特定健診等データを受領しました。", submission.institution.name):
        assert label in text
    assert submission.receipt_number in text
    _assert_set_in_the_bundled_font(response.content)


def test_checklist_pdf_is_set_in_the_bundled_font(user_client: Callable[..., Client]) -> None:
    response = user_client(Role.AGENCY_ADMIN).get(reverse("compliance:export_pdf"))
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "チェック項目" in text
    _assert_set_in_the_bundled_font(response.content)


def test_every_pdf_template_names_the_bundled_family_first() -> None:
    root = Path(settings.BASE_DIR, "templates")
    declarations = [
        (str(template.relative_to(root)), value)
        for template in sorted(root.glob("*/pdf/*.html"))
        for value in re.findall(r"font-family:\s*([^;}]+)", template.read_text(encoding="utf-8"))
    ]
    assert len({name for name, _value in declarations}) == 3  # one _base.html per app
    for name, value in declarations:
        assert value.split(",")[0].strip() == f'"{FONT_FAMILY}"', (name, value)


def test_the_font_ships_with_its_licence() -> None:
    assert FONT_FILE.parent == FONT_DIR
    assert TTFont(FONT_FILE)["name"].getDebugName(1) == BUNDLED_FAMILY
    licence = (FONT_DIR / "IPA_Font_License_Agreement_v1.0.txt").read_text(encoding="utf-8-sig")
    assert "IPA Font License Agreement v1.0" in licence
    assert "ipaexg.ttf" in (FONT_DIR / "Readme_ipaexg00301.txt").read_bytes().decode("cp932")


# --- nothing is fetched but the bundled font -------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A server on loopback that records every request it receives."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_no_other_url_is_fetched(http_server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = http_server
    from PIL import Image

    image = tmp_path / "seal.png"
    Image.new("RGB", (8, 8), "red").save(image)
    html = f"""<html lang="ja"><head>
      <link rel="stylesheet" href="{base}/style.css">
      <link rel="attachment" href="file:///etc/passwd">
      <style>@import url("{base}/import.css"); body {{ background: url("{image.as_uri()}"); }}</style>
    </head><body style='font-family: "{FONT_FAMILY}"'>
      <p>受領書</p>
      <img src="{base}/logo.png"><img src="{image.as_uri()}"><img src="file:///etc/passwd">
      <a rel="attachment" href="{base}/file.txt">添付</a>
    </body></html>"""
    data = html_to_pdf(html)
    assert requests == []
    reader = PdfReader(io.BytesIO(data))
    assert all(not page.images for page in reader.pages)
    assert "/Names" not in reader.trailer["/Root"]  # no embedded files
    assert "受領書" in reader.pages[0].extract_text()
    _assert_set_in_the_bundled_font(data)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://example.com/ipaexg.ttf",
        "https://example.com/ipaexg.ttf",
        "data:font/ttf;base64,AAEAAA==",
        FONT_URL + "?v=2",
        FONT_URL + "#x",
        FONT_DIR.as_uri() + "/../fonts/ipaexg.ttf",
        FONT_DIR.as_uri() + "/IPA_Font_License_Agreement_v1.0.txt",
    ],
)
def test_the_fetcher_refuses_every_url_but_the_fonts(url: str) -> None:
    with pytest.raises(ResourceRefused):
        fetch_resource(url)


def test_the_fetcher_answers_the_fonts_exact_url() -> None:
    assert fetch_resource(FONT_URL) == FONT_FILE.read_bytes()


def test_pdf_unavailable_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_weasyprint(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    with pytest.raises(PdfUnavailable, match="libpango"):
        render_pdf("intake/pdf/receipt.html", {"receipt": {}})
