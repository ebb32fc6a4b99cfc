"""Write a delivery's archive to a directory.

    python manage.py export_delivery ID --out DIR

The file is written as ``DIR/<archive name>`` from the stored bytes (verified against their SHA-256)
and the export is audited. Prints the path and the SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import audit_record
from intake import storage
from routing.models import Delivery

USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Write the archive of one delivery into a directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("delivery_id", type=int, metavar="ID")
        parser.add_argument("--out", type=Path, required=True, help="target directory (created when missing)")

    def handle(self, *args: Any, delivery_id: int, out: Path, **options: Any) -> None:
        delivery = Delivery.objects.select_related("archive", "insurer").filter(pk=delivery_id).first()
        if delivery is None:
            raise CommandError(f"no delivery with id {delivery_id}", returncode=USAGE_ERROR)
        if out.exists() and not out.is_dir():
            raise CommandError(f"not a directory: {out}", returncode=USAGE_ERROR)
        out.mkdir(parents=True, exist_ok=True)
        data = storage.read(delivery.archive.sha256)
        target = out / delivery.file_name
        target.write_bytes(data)
        audit_record(
            action="routing.delivery.exported",
            actor_label="manage.py export_delivery",
            object_type="delivery",
            object_ids=[delivery.pk],
            detail={"insurer": delivery.insurer.number, "file_name": delivery.file_name, "sha256": delivery.archive.sha256,
                    "records": delivery.record_count, "target": str(target)},
        )
        self.stdout.write(f"{target}\t{delivery.archive.sha256}")
