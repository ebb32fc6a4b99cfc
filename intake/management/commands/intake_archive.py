"""Register archives received outside the web (media by courier, files handed over) and check them.

    python manage.py intake_archive PATH... --channel media --institution NNNNNNNNNN
        [--password-file F] [--json]

Exit status 0 when every archive was processed, whatever the verdict; 2 on usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agency.models import Institution
from intake import pipeline
from intake.models import Channel
from intake.reports import refused_summary, submission_summary
from intake.services.receive import ReceiveRefused, submission_receive

USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Receive archives from files and run 事務点検 on them; print one result per archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--channel", choices=[Channel.MEDIA, Channel.EMAIL, Channel.UPLOAD, Channel.API], default=Channel.MEDIA)
        parser.add_argument("--institution", required=True, help="10-digit 機関番号 of the sender")
        parser.add_argument("--password-file", type=Path, help="file holding the archive password (first line)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object per archive on standard output")

    def handle(self, *args: Any, paths: list[str], channel: str, institution: str, password_file: Path | None,
               as_json: bool, **options: Any) -> None:
        sender = Institution.objects.filter(number=institution, is_active=True).first()
        if sender is None:
            raise CommandError(f"no active institution with number {institution}", returncode=USAGE_ERROR)
        files = [Path(p) for p in paths]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise CommandError(f"not a file: {', '.join(missing)}", returncode=USAGE_ERROR)
        password = ""
        if password_file is not None:
            try:
                password = password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read the password file: {error}", returncode=USAGE_ERROR) from error
        for path in files:
            try:
                with path.open("rb") as stream:
                    received = submission_receive(
                        source=stream, file_name=path.name, institution=sender, channel=channel,
                        password=password, enqueue=False,
                    )
            except ReceiveRefused as refused:
                self._refused(path, refused, as_json)
                continue
            submission = received.submission
            if not received.duplicate:
                submission = pipeline.process_inline(submission.pk)
            summary = submission_summary(submission, archive=str(path), duplicate=received.duplicate)
            if as_json:
                self.stdout.write(_dumps(summary))
            else:
                records = summary["records"]
                self.stdout.write(
                    f"{path.name}: {summary['status']} 受領番号 {submission.receipt_number} "
                    f"受理 {records['accepted']} / 返戻 {records['returned']} / 計 {records['total']}"
                )


    def _refused(self, path: Path, refused: ReceiveRefused, as_json: bool) -> None:
        summary = refused_summary(archive=str(path), code=refused.code, message=str(refused))
        self.stdout.write(_dumps(summary) if as_json else f"{path.name}: rejected {refused.code} {refused}")


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
