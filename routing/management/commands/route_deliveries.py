"""Route accepted records to their insurers now (the daily batch does the same).

    python manage.py route_deliveries [--json]

Prints one line per delivery created: insurer number, archive file name, record count, SHA-256
(``--json``: one JSON object per line). Nothing to route prints nothing. Safe to run again: a record
is routed exactly once. An insurer whose delivery could not be built is named on standard error and
the exit status is 1 (the other insurers are routed).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.packing import RoutingError
from routing.services.deliveries import RoutingFailure, deliveries_route


class Command(BaseCommand):
    help = "Route accepted, not yet routed records into one standard-format delivery per insurer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object per delivery")

    def handle(self, *args: Any, as_json: bool, **options: Any) -> None:
        failures: list[RoutingFailure] = []
        try:
            created = deliveries_route(actor=None, failures=failures)
        except RoutingError as error:
            raise CommandError(str(error)) from error
        for delivery in created:
            row = {
                "id": delivery.pk,
                "insurer": delivery.insurer.number,
                "file_name": delivery.file_name,
                "records": delivery.record_count,
                "sha256": delivery.archive.sha256,
            }
            if as_json:
                self.stdout.write(json.dumps(row, ensure_ascii=False))
            else:
                self.stdout.write(f"{row['insurer']}\t{row['file_name']}\t{row['records']}\t{row['sha256']}")
        for failure in failures:
            self.stderr.write(f"{failure.insurer_number}\tFAILED\t{failure.message}")
        if failures:
            raise CommandError(f"{len(failures)} insurer(s) could not be routed", returncode=1)
