"""The development e-mail backend prints to standard error, leaving standard output to the commands."""

from __future__ import annotations

import os

import pytest
from django.core import mail
from django.test import override_settings

from agency.settings import base


@override_settings(EMAIL_BACKEND="core.mail.StderrEmailBackend")
def test_messages_are_printed_to_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    sent = mail.send_mail("受付の点検が完了しました", "受領番号 R2026-000001", "portal@example.jp", ["staff@example.jp"])
    assert sent == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "To: staff@example.jp" in captured.err


@pytest.mark.skipif("EMAIL_BACKEND" in os.environ, reason="EMAIL_BACKEND is set in the environment")
def test_it_is_the_default_backend_and_logs_go_to_standard_error_too() -> None:
    assert base.EMAIL_BACKEND == "core.mail.StderrEmailBackend"
    assert base.LOGGING["handlers"]["console"]["stream"] == "ext://sys.stderr"
