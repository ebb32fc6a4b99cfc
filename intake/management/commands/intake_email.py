"""Take archives from e-mail: one RFC 822 message on standard input (an MTA pipe), or a Maildir.

    python manage.py intake_email [--quarantine DIR] [--json] < message.eml
    python manage.py intake_email --maildir /var/mail/intake [--quarantine DIR] [--json]

Every message, and every attachment in it, is handled on its own (``intake.email_channel``): one
refused never stops the others. A message with anything refused — an unregistered sender, no
archive, an attachment that is no ZIP archive, too large or already received from another
institution, a message over ``INTAKE_EMAIL_MAX_MESSAGE_BYTES`` — is audited, answered (to a
registered sender) and moved to the quarantine folder (``--quarantine``, else
``INTAKE_EMAIL_QUARANTINE_DIR``, else ``STORAGE_DIR/mail-quarantine``) as ``<time>-<id>.eml`` with
``<time>-<id>.json`` saying why. Messages received in full are marked seen in the Maildir; a message
read twice is answered as a duplicate, never counted twice.

Exit status: 0 everything was received; 1 something was refused (handled: audited, answered,
quarantined — nothing to retry); 75 a message could not be handled now (the database or the
storage failed) and stays in the Maildir for the next run (on standard input, the MTA retries it);
2 usage errors.
"""

from __future__ import annotations

import json
import logging
import mailbox
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from intake.email_channel import MessageOutcome, message_intake, message_too_large

logger = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024  # what is read of a message too large to take: enough for its header
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Receive archives attached to e-mail from registered institution addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--maildir", type=Path, help="process every new message of this Maildir")
        parser.add_argument("--quarantine", type=Path, help="folder for refused messages (default INTAKE_EMAIL_QUARANTINE_DIR)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object per message")

    def handle(self, *args: Any, maildir: Path | None, quarantine: Path | None, as_json: bool, **options: Any) -> None:
        self.as_json = as_json
        self.quarantine_dir = quarantine or Path(settings.INTAKE_EMAIL_QUARANTINE_DIR or Path(settings.STORAGE_DIR) / "mail-quarantine")
        self.refused = 0
        self.deferred = 0
        if maildir is None:
            self._one(lambda: self._from_stdin(), "(standard input)")
        else:
            if not (maildir / "new").is_dir():
                raise CommandError(f"not a Maildir: {maildir}", returncode=2)
            box = mailbox.Maildir(maildir, factory=None, create=False)
            for key in list(box.iterkeys()):
                self._one(lambda key=key: self._from_maildir(box, key), key)
        if self.deferred:
            raise CommandError(f"{self.deferred} message(s) could not be handled now and will be retried", returncode=EX_TEMPFAIL)
        if self.refused:
            raise CommandError(f"{self.refused} message(s) refused in whole or in part (answered and quarantined)", returncode=1)

    # --- one message ---------------------------------------------------------------------------------

    def _one(self, handle: Any, label: str) -> None:
        """Handle one message; whatever goes wrong with it, the others are handled."""
        try:
            handle()
        except (DatabaseError, OSError) as error:
            logger.exception("message %s could not be handled now", label)
            self.stderr.write(f"{label}: deferred ({type(error).__name__}: {error})")
            self.deferred += 1

    def _from_stdin(self) -> None:
        stream = sys.stdin.buffer
        limit = settings.INTAKE_EMAIL_MAX_MESSAGE_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            outcome = message_too_large(raw[:HEAD_BYTES], len(raw))
            self._report(outcome, self._quarantine(outcome, raw, rest=stream))
            return
        outcome = self._intake(raw, "(standard input)")
        self._report(outcome, self._quarantine(outcome, raw) if outcome.has_refusals else None)

    def _from_maildir(self, box: mailbox.Maildir, key: str) -> None:
        with box.get_file(key) as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(0)
            head = handle.read(HEAD_BYTES)
        if size > settings.INTAKE_EMAIL_MAX_MESSAGE_BYTES:
            outcome = message_too_large(head, size)
            with box.get_file(key) as handle:
                oversized = self._quarantine(outcome, b"", rest=handle)
            box.remove(key)
            self._report(outcome, oversized)
            return
        message = box.get_message(key)
        if "S" in message.get_flags():
            return
        raw = box.get_bytes(key)
        outcome = self._intake(raw, key)
        quarantined: Path | None = None
        if outcome.has_refusals:
            quarantined = self._quarantine(outcome, raw)
            box.remove(key)
        else:
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message
        self._report(outcome, quarantined)

    def _intake(self, raw: bytes, label: str) -> MessageOutcome:
        """The message through the channel; an unexpected failure refuses it (quarantined for a person to look at)."""
        try:
            return message_intake(raw)
        except (DatabaseError, OSError):
            raise
        except Exception as error:
            logger.exception("message %s could not be read", label)
            outcome = MessageOutcome(message_id="", sender="", refused="unreadable", refused_message=f"{type(error).__name__}: {error}"[:500])
            audit_record(
                action="intake.email_refused", outcome=Outcome.FAILURE, actor_label="(unknown)",
                detail={"reason": "unreadable", "error": outcome.refused_message},
            )
            return outcome

    def _quarantine(self, outcome: MessageOutcome, raw: bytes, *, rest: BinaryIO | Any = None) -> Path:
        """The message and why it was refused, side by side in the quarantine folder (audited)."""
        directory = self.quarantine_dir
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        eml = directory / f"{stem}.eml"
        with eml.open("xb") as target:
            target.write(raw)
            if rest is not None:
                shutil.copyfileobj(rest, target, 1024 * 1024)
        reasons = {**outcome.reasons(), "quarantined_at": timezone.now().isoformat(), "file": eml.name}
        (directory / f"{stem}.json").write_text(json.dumps(reasons, ensure_ascii=False, indent=2), encoding="utf-8")
        audit_record(
            action="intake.email_quarantined", outcome=Outcome.DENIED, actor_label=outcome.sender or "(unknown)",
            detail={"message_id": outcome.message_id, "file": eml.name, "reason": outcome.refused or "attachments_refused"},
        )
        self.refused += 1
        return eml

    def _report(self, outcome: MessageOutcome, quarantined: Path | None = None) -> None:
        summary = {
            **outcome.reasons(),
            "quarantined": str(quarantined) if quarantined is not None else "",
            "skipped": outcome.skipped,
            "submissions": [
                {"receipt_number": r.submission.receipt_number, "file_name": r.submission.file_name, "duplicate": r.duplicate}
                for r in outcome.received
            ],
        }
        if self.as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for item in summary["submissions"]:
            self.stdout.write(f"{item['file_name']}: 受領番号 {item['receipt_number']}{' (重複)' if item['duplicate'] else ''}")
        if outcome.refused:
            self.stdout.write(f"refused {outcome.sender or '(no sender)'}: {outcome.refused}")
        for refusal in outcome.refusals:
            self.stdout.write(f"refused {refusal.file_name}: {refusal.code}")
