"""The e-mail channel: registered senders' ZIP attachments are received, everything else refused."""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DatabaseError

from agency.models import InstitutionEmailSender
from audit.models import AuditEvent, Outcome
from intake.email_channel import message_intake
from intake.models import Channel, StoredArchive, Submission
from intake.services.receive import submission_receive

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


def _maildir(tmp_path: Path, *messages: bytes) -> mailbox.Maildir:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    for message in messages:
        box.add(message)
    return box


def _run(*args: str) -> tuple[int, list[dict[str, Any]]]:
    """The command's exit status and its JSON lines."""
    out = StringIO()
    try:
        call_command("intake_email", *args, "--json", stdout=out, stderr=StringIO())
        status = 0
    except CommandError as error:
        status = error.returncode
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def _quarantined(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def test_maildir_is_processed_once(sender: str, tmp_path: Path) -> None:
    _maildir(tmp_path, _message(sender, [("a.zip", ZIP)]), _message("stranger@example.jp", [("b.zip", ZIP + b"\x00")]))
    status, lines = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))
    assert status == 1  # one message refused (the stranger's), handled
    assert sorted(bool(line["refused"]) for line in lines) == [False, True]
    assert Submission.objects.count() == 1
    assert _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q")) == (0, [])
    assert Submission.objects.count() == 1


def test_an_attachment_received_from_another_institution_blocks_nothing(
    sender: str, institution_b: Any, tmp_path: Path
) -> None:
    other = ZIP + b"other institution"
    submission_receive(source=other, file_name="b.zip", institution=institution_b, channel=Channel.MEDIA, enqueue=False)
    mixed_message = _message(sender, [("same-as-b.zip", other), ("fresh.zip", ZIP + b"fresh")])
    box = _maildir(tmp_path, mixed_message, _message(sender, [("next.zip", ZIP + b"next")]))
    quarantine = tmp_path / "q"

    status, lines = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(quarantine))

    assert status == 1
    assert {s.file_name for s in Submission.objects.filter(institution__email_senders__address=sender)} == {"fresh.zip", "next.zip"}
    [mixed] = [line for line in lines if line["attachments"]]
    assert mixed["attachments"] == [
        {"file_name": "same-as-b.zip", "code": "duplicate_archive", "message": "同じ内容のアーカイブが既に受付済みです。"}
    ]
    assert [r["file_name"] for r in mixed["received"]] == ["fresh.zip"] and mixed["answered"] is True
    [reasons] = _quarantined(quarantine)
    assert reasons["attachments"][0]["code"] == "duplicate_archive" and reasons["sender"] == sender
    assert (quarantine / reasons["file"]).read_bytes() == mixed_message
    assert len(box) == 1  # the refused message left the Maildir; the received one is marked seen
    [answer] = mail.outbox
    assert answer.to == [sender] and answer.extra_headers["In-Reply-To"] == mixed["message_id"] != ""
    assert "same-as-b.zip" in answer.body and "受付済み" in answer.body and "受領番号" in answer.body
    assert AuditEvent.objects.filter(action="intake.email_attachment_refused", detail__reason="duplicate_archive").count() == 1
    assert AuditEvent.objects.filter(action="intake.email_quarantined").count() == 1
    assert AuditEvent.objects.filter(action="intake.email_answered").count() == 1
    assert _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(quarantine)) == (0, [])


def test_an_oversized_attachment_is_refused_and_the_others_received(sender: str, tmp_path: Path, settings: Any) -> None:
    settings.INTAKE_MAX_ARCHIVE_BYTES = 100
    _maildir(tmp_path, _message(sender, [("big.zip", ZIP + b"\x00" * 200), ("small.zip", ZIP)]))

    status, [line] = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))

    assert status == 1
    assert [(a["file_name"], a["code"]) for a in line["attachments"]] == [("big.zip", "ARC_TOO_LARGE")]
    assert [s.file_name for s in Submission.objects.all()] == ["small.zip"]
    assert "big.zip" in mail.outbox[0].body
    assert StoredArchive.objects.count() == 1  # nothing of the refused one was kept


def test_an_oversized_message_is_refused_from_its_header(sender: str, tmp_path: Path, settings: Any) -> None:
    settings.INTAKE_EMAIL_MAX_MESSAGE_BYTES = 2_000
    big = _message(sender, [("a.zip", ZIP + bytes(range(256)) * 20)])
    _maildir(tmp_path, big, _message(sender, [("small.zip", ZIP)]))

    status, lines = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))

    assert status == 1
    [refused] = [line for line in lines if line["refused"]]
    assert refused["refused"] == "message_too_large" and refused["sender"] == sender and refused["answered"]
    assert [s.file_name for s in Submission.objects.all()] == ["small.zip"]
    [reasons] = _quarantined(tmp_path / "q")
    assert (tmp_path / "q" / reasons["file"]).read_bytes() == big
    assert "大きすぎます" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="intake.email_refused")
    assert event.detail["reason"] == "message_too_large" and event.detail["size"] == len(big)


def test_an_unregistered_sender_is_quarantined_and_never_answered(sender: str, tmp_path: Path) -> None:
    _maildir(tmp_path, _message("forged@clinic.example.jp", [("a.zip", ZIP)]))

    status, [line] = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))

    assert status == 1 and line["refused"] == "unregistered_sender" and line["answered"] is False
    assert mail.outbox == []
    assert _quarantined(tmp_path / "q")[0]["refused"] == "unregistered_sender"


def test_a_message_that_breaks_the_reader_is_quarantined_and_the_others_go_on(
    sender: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def intake(raw: bytes, **kwargs: Any) -> Any:
        if b"poison.zip" in raw:
            raise ValueError("unexpected structure")
        return message_intake(raw, **kwargs)

    monkeypatch.setattr("intake.management.commands.intake_email.message_intake", intake)
    _maildir(tmp_path, _message(sender, [("poison.zip", ZIP + b"p")]), _message(sender, [("good.zip", ZIP + b"g")]))

    status, lines = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))

    assert status == 1
    assert sorted(line["refused"] for line in lines) == ["", "unreadable"]
    assert [s.file_name for s in Submission.objects.all()] == ["good.zip"]
    assert "unexpected structure" in _quarantined(tmp_path / "q")[0]["refused_message"]


def test_a_database_failure_leaves_the_message_for_the_next_run(
    sender: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def intake(raw: bytes, **kwargs: Any) -> Any:
        if b"later.zip" in raw:
            raise DatabaseError("server closed the connection unexpectedly")
        return message_intake(raw, **kwargs)

    monkeypatch.setattr("intake.management.commands.intake_email.message_intake", intake)
    box = _maildir(tmp_path, _message(sender, [("later.zip", ZIP + b"l")]), _message(sender, [("now.zip", ZIP + b"n")]))

    status, lines = _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))

    assert status == 75
    assert [line["received"][0]["file_name"] for line in lines] == ["now.zip"]
    assert len(box) == 2 and not (tmp_path / "q").exists()
    monkeypatch.undo()
    assert _run("--maildir", str(tmp_path / "mail"), "--quarantine", str(tmp_path / "q"))[0] == 0
    assert sorted(s.file_name for s in Submission.objects.all()) == ["later.zip", "now.zip"]


def test_a_refused_message_on_standard_input_is_quarantined(sender: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = BytesIO(_message(sender, [("run.exe", b"MZ\x90\x00")]))

    monkeypatch.setattr("sys.stdin", Stdin())
    status, [line] = _run("--quarantine", str(tmp_path / "q"))

    assert status == 1 and line["quarantined"].endswith(".eml")
    assert line["attachments"][0]["code"] == "not_a_zip_archive" and line["answered"]


def test_standard_input_message(sender: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = BytesIO(_message(sender, [("a.zip", ZIP)]))

    monkeypatch.setattr("sys.stdin", Stdin())
    out = StringIO()
    call_command("intake_email", stdout=out)
    assert "受領番号" in out.getvalue() and Submission.objects.count() == 1
