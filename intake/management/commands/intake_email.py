"""Take archives from e-mail: one RFC 822 message on standard input (an MTA pipe), or a Maildir.

    python manage.py intake_email < message.eml
    python manage.py intake_email --maildir /var/mail/intake [--json]

Messages from unregistered senders are refused (audited). Processed Maildir messages are marked
seen; a message read twice is answered as a duplicate, never counted twice.
"""

from __future__ import annotations

import json
import mailbox
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from intake.email_channel import MessageOutcome, message_intake


class Command(BaseCommand):
    help = "Receive archives attached to e-mail from registered institution addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--maildir", type=Path, help="process every new message of this Maildir")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object per message")

    def handle(self, *args: Any, maildir: Path | None, as_json: bool, **options: Any) -> None:
        if maildir is None:
            self._report(message_intake(sys.stdin.buffer.read()), as_json)
            return
        if not (maildir / "new").is_dir():
            raise CommandError(f"not a Maildir: {maildir}", returncode=2)
        box = mailbox.Maildir(maildir, factory=None, create=False)
        for key in list(box.iterkeys()):
            message = box.get_message(key)
            if "S" in message.get_flags():
                continue
            self._report(message_intake(box.get_bytes(key)), as_json)
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message

    def _report(self, outcome: MessageOutcome, as_json: bool) -> None:
        summary = {
            "message_id": outcome.message_id,
            "sender": outcome.sender,
            "institution": outcome.institution,
            "refused": outcome.refused,
            "skipped": outcome.skipped,
            "submissions": [
                {"receipt_number": r.submission.receipt_number, "file_name": r.submission.file_name, "duplicate": r.duplicate}
                for r in outcome.received
            ],
        }
        if as_json:
            self.stdout.write(_dumps(summary))
        elif outcome.refused:
            self.stdout.write(f"refused {outcome.sender or '(no sender)'}: {outcome.refused}")
        else:
            for item in summary["submissions"]:
                self.stdout.write(f"{item['file_name']}: 受領番号 {item['receipt_number']}{' (重複)' if item['duplicate'] else ''}")


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)
