"""``python manage.py export_zengin YYYY-MM --out FILE``: the 全銀 総合振込 file of a month's transfers.

Makes a batch of everything payable (statements of the month or earlier whose insurer has paid)
and writes its file. It never writes the same transfers twice by accident: when nothing new is
payable it stops; ``--batch ID`` writes an earlier batch's file again, on purpose.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.calendar import parse_period
from billing.models import BillingMonth, TransferBatch
from billing.services import BillingError, transfer_batch_create, transfer_file


class Command(BaseCommand):
    help = "Write the 全銀 transfer file (総合振込) for the institutions of a closed month whose insurers have paid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--out", required=True, help="file to write")
        parser.add_argument("--date", help="取組日 (transfer date) YYYY-MM-DD; default: the next business day")
        parser.add_argument("--no-crlf", action="store_true", help="fixed-length records without CR LF separators")
        parser.add_argument("--batch", type=int, help="write the file of this existing batch again")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = parse_period(options["month"])
            transfer_date = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        month = BillingMonth.objects.filter(period=period).first()
        if month is None or not month.is_closed:
            raise CommandError(f"{period:%Y-%m} is not closed")
        if options["batch"]:
            batch = TransferBatch.objects.filter(pk=options["batch"], month=month).first()
            if batch is None:
                raise CommandError(f"no transfer batch {options['batch']} for {period:%Y-%m}")
        else:
            try:
                result = transfer_batch_create(month=month, transfer_date=transfer_date)
            except BillingError as error:
                raise CommandError(str(error)) from None
            for held in result.held:
                self.stderr.write(f"held: {held.institution.number} {held.amount:,} yen: {held.reason}")
            if result.batch is None:
                earlier = list(month.transfer_batches.values_list("pk", flat=True))
                hint = f"; earlier batches: {earlier} (--batch ID writes one again)" if earlier else ""
                raise CommandError(f"nothing to transfer for {period:%Y-%m}{hint}")
            batch = result.batch
        data = transfer_file(batch, crlf=not options["no_crlf"])
        Path(options["out"]).write_bytes(data)
        self.stdout.write(
            f"batch {batch.pk}: {batch.line_count} transfers, {batch.total_amount:,} yen, "
            f"取組日 {batch.transfer_date:%Y-%m-%d} → {options['out']} ({len(data)} bytes)"
        )
