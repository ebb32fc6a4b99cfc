"""In a real browser: password, then TOTP, then the role's home page (screenshot kept)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from agency.models import Role

from ..factories import TEST_PASSWORD, InsurerFactory, UserFactory

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)"),
]


@pytest.mark.django_db(transaction=True)
def test_insurer_staff_logs_in_with_password_and_totp(live_server: Any) -> None:
    from playwright.sync_api import sync_playwright

    insurer = InsurerFactory(name="ブラウザ健康保険組合")
    user = UserFactory(username="browser-insurer", role=Role.INSURER_STAFF, insurer=insurer)
    device = TOTPDevice.objects.get(user=user)
    key, digits = device.bin_key, device.digits
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    screenshot = OUTPUT_DIR / "insurer-home.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(locale="ja-JP")
            page.goto(f"{live_server.url}/")
            assert "/accounts/login/" in page.url
            page.fill("#id_username", user.username)
            page.fill("#id_password", TEST_PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url("**/accounts/otp/**")
            page.fill("#id_token", f"{TOTP(key, digits=digits).token():0{digits}d}")
            page.click("main button[type=submit]")
            page.wait_for_selector("[data-testid=home-title]")
            assert "保険者 担当者" in page.inner_text("[data-testid=home-title]")
            assert "ブラウザ健康保険組合" in page.content()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 0
