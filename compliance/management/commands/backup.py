from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.backup import BackupError
from compliance.services.backup import backup_create, backup_keep


class Command(BaseCommand):
    help = "Write an encrypted pg_dump -Fc generation of the database and keep the newest N generations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, help="directory of the backup files (default: BACKUP_DIR)")
        parser.add_argument("--keep", type=int, help=f"generations to keep (default: {backup_keep()})")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            generation = backup_create(directory=options["dir"], keep=options["keep"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"backup written: {generation.path} ({generation.size} bytes, sha256 {generation.sha256})"
        ))
