"""Browsers get the bundled Japanese font too (IPAexGothic from core/fonts, served as a static file and named
first in the stylesheet), so every machine renders the portal alike, even one without a Japanese font."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from django.conf import settings
from django.contrib.staticfiles import finders

FONT = Path(settings.BASE_DIR) / "core" / "fonts" / "ipaexg.ttf"


def test_the_bundled_font_is_a_static_file_of_its_own_folder_not_a_copy() -> None:
    found = finders.find("fonts/ipaexg.ttf")
    assert found is not None and Path(found).resolve() == FONT.resolve()
    licence = finders.find("fonts/IPA_Font_License_Agreement_v1.0.txt")
    assert licence is not None  # the licence travels with the font
    assert not (Path(settings.BASE_DIR) / "static" / "fonts").exists()


def test_the_stylesheet_declares_the_font_and_names_it_first() -> None:
    css_path = finders.find("css/portal.css")
    assert css_path is not None
    css = Path(css_path).read_text(encoding="utf-8")
    face = re.search(r"@font-face\s*{[^}]*}", css)
    assert face is not None and 'font-family: "IPAexGothic"' in face.group(0)
    assert 'url("../fonts/ipaexg.ttf")' in face.group(0)
    body = re.search(r"\bbody\s*{[^}]*font-family:\s*([^;]+);", css)
    assert body is not None and body.group(1).split(",")[0].strip() == '"IPAexGothic"'
    assert re.search(r"button, input, select, textarea[^{]*{\s*font-family: inherit;", css)


def test_the_font_is_served_to_browsers(live_server: Any) -> None:
    with urlopen(f"{live_server.url}/static/fonts/ipaexg.ttf") as response:  # noqa: S310 - the test's own server
        assert response.status == 200
        assert response.read() == FONT.read_bytes()
