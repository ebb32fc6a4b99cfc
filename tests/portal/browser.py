"""Driving Debian's Chromium through Playwright as people use the portal: log in with the password and the
TOTP code, walk pages, keep a screenshot of every page passed, and check each page for words of the
software (internal names) and for a horizontal scroll bar at 1280 and 1366 px."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..factories import TEST_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "browser-flows"
WIDTH = 1280
WIDTHS = (WIDTH, 1366)  # the common office screens: every page fits both without a sideways scroll bar

# Names of the software that must never reach a page people read.
INTERNAL_WORDS = (
    "agency_admin", "agency_clerk", "institution_staff", "insurer_staff", "maintenance_window",
    "success", "denied", "failure", "None", "Traceback", "NoReverseMatch",
    "payment_basic", "payment_detail", "payment_other", "payment_amount", "claim_amount", "unit_amount",
    "unitAmount", "paymentAmount", "claimAmount", "chargeType", "unitPrice", "hdl",
    "intake.workbench.view", "intake.record.view", "auth.login", "Premature end", "No such file",
    "XML_SCHEMA_UNAVAILABLE", "lxml",
)
_WORD = re.compile(r"(?<![A-Za-z_.])(" + "|".join(re.escape(w) for w in INTERNAL_WORDS) + r")(?![A-Za-z_])")


@dataclass
class Walk:
    """One person's walk: the Playwright page, where screenshots go, and every page passed."""

    page: Any
    base_url: str
    name: str
    passed: list[str] = field(default_factory=list)

    def check(self, label: str) -> None:
        """Screenshot the page, then fail on an internal word or a horizontal scroll bar."""
        self.page.wait_for_load_state("networkidle")
        number = len(self.passed) + 1
        path = OUTPUT_DIR / self.name / f"{number:02d}-{label}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        self.passed.append(self.page.url)
        text = self.page.inner_text("body")
        found = sorted(set(_WORD.findall(text)))
        assert found == [], f"{self.name} {label} ({self.page.url}) shows internal names: {found}"
        height = self.page.viewport_size["height"]
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": height})
            overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{self.name} {label} ({self.page.url}) scrolls sideways by {overflow}px at {width}px"
        self.page.set_viewport_size({"width": WIDTH, "height": height})

    def goto(self, path: str, label: str) -> None:
        self.page.goto(self.base_url + path)
        self.check(label)

    def click(self, selector: str, label: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.check(label)


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    )


def log_in(browser: Any, base_url: str, user: Any, name: str, *, password: str = TEST_PASSWORD) -> Walk:
    device = TOTPDevice.objects.get(user=user)
    context = browser.new_context(locale="ja-JP", viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/otp/**")
    page.fill("#id_token", f"{TOTP(device.bin_key, digits=device.digits).token():0{device.digits}d}")
    page.click("main button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")
    walk = Walk(page, base_url, name)
    walk.check("home")
    return walk
