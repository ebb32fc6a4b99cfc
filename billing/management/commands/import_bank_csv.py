"""``python manage.py import_bank_csv FILE [--json]``: record insurer payments from a bank's receipts CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services import BillingError, bank_csv_import


class Command(BaseCommand):
    help = "Import insurer payments from a receipts CSV (入金日, 金額, 振込依頼人名, 摘要[, 取引番号]); re-importing is safe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            result = bank_csv_import(data=path.read_bytes(), file_name=path.name)
        except (OSError, BillingError) as error:
            raise CommandError(str(error)) from None
        summary = {
            "recorded": [
                {"id": p.pk, "amount": p.amount, "target": p.claims_statement.number if p.claims_statement else p.invoice.number}
                for p in result.recorded
            ],
            "duplicates": [row.line for row in result.duplicates],
            "unmatched": [{"line": row.line, "amount": row.amount, "reason": reason} for row, reason in result.unmatched],
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"recorded {len(result.recorded)}, already imported {len(result.duplicates)}, unmatched {len(result.unmatched)}")
        for row in summary["unmatched"]:
            self.stdout.write(f"  line {row['line']}: {row['amount']:,} yen: {row['reason']}")
