from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.checkpoints import CheckpointError
from audit.services import audit_checkpoint_write


class Command(BaseCommand):
    help = "Seal the audit chain's head into the checkpoint file outside the database (AUDIT_CHECKPOINT_DIR)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--note", default="", help="a note kept with the checkpoint (e.g. a ticket number)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = audit_checkpoint_write(reason="manual", note=options["note"])
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"checkpoint written: seq {checkpoint.seq} ({checkpoint.row_hash})"))
