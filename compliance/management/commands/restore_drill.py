from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compliance.backup import BackupError
from compliance.services.backup import restore_drill_run


class Command(BaseCommand):
    help = "Restore the newest backup into a scratch database, verify the audit chain and row counts, record the drill."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            drill = restore_drill_run()
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        summary = (f"restore drill: {drill.duration_ms} ms, data age {drill.data_age_seconds} s, "
                   f"audit chain {'intact' if drill.chain_intact else 'NOT verified'}, "
                   f"row counts {'match' if drill.counts_match else 'DO NOT match'}")
        if not drill.succeeded:
            reason = drill.detail.get("error") or (drill.detail.get("chain_break") or {}).get("reason", "")
            raise CommandError(f"{summary}: {reason}".rstrip(": "))
        self.stdout.write(self.style.SUCCESS(summary))
