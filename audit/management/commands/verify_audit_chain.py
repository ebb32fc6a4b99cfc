from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.selectors import audit_integrity_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log: recompute the hash chain, check every row's seal (AUDIT_HMAC_KEY) and compare "
        "the log with the checkpoints outside the database. Exit non-zero and name each problem "
        "(deleted, rewritten, forged, truncated, checkpoint)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_integrity_verify()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            for warning in report.warnings:
                self.stderr.write(self.style.WARNING(f"warning: {warning}"))
            for problem in report.problems:
                where = f"seq {problem.seq}" if problem.seq is not None else "checkpoint file"
                self.stderr.write(f"{problem.kind} at {where}: {problem.message}")
        first = report.first
        if first is not None:
            raise CommandError(
                f"audit log verification failed: {len(report.problems)} problem(s); first: {first.kind} at seq {first.seq}"
            )
        if not options["json"]:
            checkpoint = report.checkpoint
            against = f", checkpoint seq {checkpoint.seq} of {checkpoint.at}" if checkpoint else ", no checkpoint yet"
            self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.events} events{against}"))
