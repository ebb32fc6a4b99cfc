"""The e-mail channel: registered senders' ZIP attachments are received, everything else refused."""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from agency.models import InstitutionEmailSender
from audit.models import AuditEvent, Outcome
from intake.email_channel import message_intake
from intake.models import Channel, Submission

pytestmark = pytest.mark.django_db

ZIP = b"PK\x05\x06" + b"\x00" * 18  # an empty ZIP: received, then rejected by the checks


def _message(sender: str, attachments: list[tuple[str, bytes]]) -> bytes:
    message = EmailMessage()
    message["From"] = f"健診センター <{sender}>"
    message["To"] = "intake@agency.example.jp"
    message["Subject"] = "特定健診データ"
    message["Message-ID"] = f"<{sender}-{len(attachments)}@example.jp>"
    message.set_content("送付します。")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="zip", filename=name)
    return bytes(message)


@pytest.fixture
def sender(institution_a: Any) -> str:
    InstitutionEmailSender.objects.create(institution=institution_a, address="kenshin@clinic.example.jp")
    return "kenshin@clinic.example.jp"


def test_registered_sender_archive_is_received(sender: str, institution_a: Any) -> None:
    outcome = message_intake(_message("Kenshin@Clinic.example.jp", [("a.zip", ZIP)]), enqueue=False)
    assert outcome.refused == "" and outcome.institution == institution_a.number
    submission = Submission.objects.get()
    assert submission.channel == Channel.EMAIL and submission.institution == institution_a
    assert AuditEvent.objects.get(action="intake.received").actor_label == sender


def test_unregistered_sender_is_refused_and_audited(sender: str) -> None:
    outcome = message_intake(_message("someone@elsewhere.example.jp", [("a.zip", ZIP)]), enqueue=False)
    assert outcome.refused == "unregistered_sender"
    assert not Submission.objects.exists()
    event = AuditEvent.objects.get(action="intake.email_refused")
    assert event.outcome == Outcome.DENIED and event.detail["reason"] == "unregistered_sender"


def test_non_zip_attachments_are_refused(sender: str) -> None:
    outcome = message_intake(_message(sender, [("macro.xlsm", b"PK\x03\x04xx"), ("run.exe", b"MZ\x90\x00")]), enqueue=False)
    assert outcome.skipped == ["macro.xlsm", "run.exe"] and not Submission.objects.exists()
    assert AuditEvent.objects.filter(action="intake.email_attachment_refused").count() == 2


def test_maildir_is_processed_once(sender: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(_message(sender, [("a.zip", ZIP)]))
    box.add(_message("stranger@example.jp", [("b.zip", ZIP + b"\x00")]))
    out = StringIO()
    call_command("intake_email", "--maildir", str(tmp_path / "mail"), "--json", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(bool(line["refused"]) for line in lines) == [False, True]
    assert Submission.objects.count() == 1
    again = StringIO()
    call_command("intake_email", "--maildir", str(tmp_path / "mail"), stdout=again)
    assert again.getvalue() == "" and Submission.objects.count() == 1


def test_standard_input_message(sender: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = BytesIO(_message(sender, [("a.zip", ZIP)]))

    monkeypatch.setattr("sys.stdin", Stdin())
    out = StringIO()
    call_command("intake_email", stdout=out)
    assert "受領番号" in out.getvalue() and Submission.objects.count() == 1
