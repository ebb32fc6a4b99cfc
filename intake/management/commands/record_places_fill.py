"""Give records received before their members' places were kept those places (read from each archive's
directory), so that record views read them one member at a time too.

    python manage.py record_places_fill

Safe to run again: records that have their places are left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from intake.services.integrity import record_places_fill


class Command(BaseCommand):
    help = "Keep the members' places of records received before they were kept (read from each archive's directory)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{record_places_fill()} records given their members' places")
