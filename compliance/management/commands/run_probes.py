from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance import probes
from compliance.models import ProbeResult, ProbeStatus
from compliance.services.checklist import probes_run


class Command(BaseCommand):
    help = "Run the compliance probes now (all, or those named) and store their results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("keys", nargs="*", help=f"probes to run (default: all): {', '.join(probes.PROBES)}")
        parser.add_argument("--fail-on-fail", action="store_true", help="exit non-zero when a probe fails")

    def handle(self, *args: Any, **options: Any) -> None:
        unknown = [k for k in options["keys"] if k not in probes.PROBES]
        if unknown:
            raise CommandError(f"unknown probes: {', '.join(unknown)}")
        results = probes_run(keys=options["keys"] or None, trigger=ProbeResult.Trigger.MANUAL)
        for result in results:
            self.stdout.write(f"{result.status:8} {result.probe:20} {result.value}")
        failed = [r.probe for r in results if r.status == ProbeStatus.FAIL]
        if failed and options["fail_on_fail"]:
            raise CommandError(f"probes failed: {', '.join(failed)}")
