"""Resume interrupted background work now (the beat sweeper does the same every WORK_SWEEP_SECONDS).

    python manage.py resume_work [--include-failed] [--list] [--json]

Queues again every unit of work (level 0 of an archive, a level-1 chunk, a routing run, a month
close) whose lease expired before it finished. ``--include-failed`` also queues the units that were
given up after WORK_MAX_ATTEMPTS starts, with a fresh count (once their cause has been removed).
``--list`` prints the open and failed units without changing anything. Exit status 0.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from agency.leases import leases_retry_failed, leases_sweep
from agency.models import LeaseState, WorkLease


class Command(BaseCommand):
    help = "Queue again the background work whose worker died (expired leases)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--include-failed", action="store_true", help="also retry units given up after too many starts")
        parser.add_argument("--list", action="store_true", dest="list_only", help="list open and failed units only")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object")

    def handle(self, *args: Any, include_failed: bool, list_only: bool, as_json: bool, **options: Any) -> None:
        if list_only:
            now = timezone.now()
            rows = [
                {
                    "key": lease.key, "state": lease.state, "subject": lease.subject, "attempts": lease.attempts,
                    "resumed": lease.resumed, "expired": lease.expires_at < now, "holder": lease.holder,
                    "last_error": lease.last_error,
                }
                for lease in WorkLease.objects.exclude(state=LeaseState.DONE).order_by("queued_at", "pk")
            ]
            if as_json:
                self.stdout.write(json.dumps({"units": rows}, ensure_ascii=False))
            else:
                for row in rows:
                    expired = " expired" if row["expired"] and row["state"] != LeaseState.FAILED else ""
                    self.stdout.write(f"{row['state']}{expired}\t{row['key']}\tattempts={row['attempts']}\t{row['holder']}")
            return
        retried = leases_retry_failed() if include_failed else []
        result = leases_sweep()
        summary = {**result.as_dict(), "retried": retried}
        if as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for key in retried:
            self.stdout.write(f"retried\t{key}")
        for key in result.resumed:
            self.stdout.write(f"resumed\t{key}")
        for key in result.failed:
            self.stdout.write(f"failed\t{key}")
