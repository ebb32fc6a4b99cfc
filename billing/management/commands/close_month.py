"""``python manage.py close_month YYYY-MM [--json]``: close a billing month (safe to run twice)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.calendar import parse_period
from billing.services import BillingError
from billing.tasks import close_month_task


class Command(BaseCommand):
    help = "Close a billing month: claims statements, payment statements and fee invoices (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = parse_period(options["month"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            summary = close_month_task(f"{period:%Y-%m}")
        except BillingError as error:
            raise CommandError(str(error)) from None
        if summary is None:
            raise CommandError(f"{period:%Y-%m} is being closed by a worker now; run this again to see the result", returncode=1)
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        state = "closed now" if summary["closed_now"] else "already closed, nothing changed"
        self.stdout.write(f"{summary['period']}: {state} (cut-off {summary['cutoff_at']}, frozen {summary['frozen_at']})")
        self.stdout.write("insurers:")
        for row in summary["insurers"]:
            self.stdout.write(
                f"  {row['number']} {row['name']}: claims {row['claims_total']:,} yen"
                f" ({row['record_count']} records, {row['late_count']} late, {row['return_count']} returns)"
                f"; fee invoice {row['invoice_number'] or '-'} {row['invoice_total']:,} yen"
            )
        self.stdout.write("institutions:")
        for row in summary["institutions"]:
            self.stdout.write(f"  {row['number']} {row['name']}: payment {row['payment_total']:,} yen ({row['record_count']} records)")
