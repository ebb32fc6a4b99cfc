"""``python manage.py build_year [--checkups N] …``: a year of the agency's work at size (``portal.year``)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agency import demo as agency_demo
from core.exceptions import ApplicationError
from portal.year import YearPlan, year_build


class Command(BaseCommand):
    help = (
        "Build one fiscal year of work through the services: generated archives received and checked, returns "
        "resubmitted, deliveries routed and fetched, months closed with invoices, and the portal's reading in the "
        "audit log (chained and sealed). Refuses to run twice on the same database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        plan = YearPlan()
        parser.add_argument("--checkups", type=int, default=plan.checkups, help="checkups in the year (default 500,000)")
        parser.add_argument("--fiscal-year", type=int, default=None, help="年度 (default: the last one that has ended)")
        parser.add_argument("--months", type=int, default=plan.months, help="months from April (default 12)")
        parser.add_argument("--per-archive", type=int, default=plan.per_archive, help="records per archive")
        parser.add_argument("--institutions", type=int, default=plan.institutions)
        parser.add_argument("--insurers", type=int, default=plan.insurers)
        parser.add_argument("--defect-rate", type=float, default=plan.defect_rate,
                            help="share of records with a record-level defect (returned, or a warning)")
        parser.add_argument("--views-per-record", type=int, default=plan.views_per_record,
                            help="audit events of reading per accepted record (record views, with the day's logins)")
        parser.add_argument("--insurer-return-rate", type=float, default=plan.insurer_return_rate,
                            help="share of each month's routed records returned by the insurer (過誤; one at least)")
        parser.add_argument("--seed", type=int, default=plan.seed)
        parser.add_argument("--demo-agency", action="store_true",
                            help="first load the demo's agency profile, parties and logins (PORTAL_DEMO only)")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            plan = YearPlan(
                checkups=options["checkups"], fiscal_year=options["fiscal_year"], months=options["months"],
                per_archive=options["per_archive"], institutions=options["institutions"], insurers=options["insurers"],
                defect_rate=options["defect_rate"], views_per_record=options["views_per_record"],
                insurer_return_rate=options["insurer_return_rate"], seed=options["seed"],
            )
            if options["demo_agency"]:
                agency_demo.seed_demo()
            quiet = options["json"] or options["verbosity"] == 0
            # Tasks run inline without a broker; their one line each would bury the progress.
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
            summary = year_build(plan, progress=(lambda line: None) if quiet else self.stdout.write)
        except ApplicationError as error:
            raise CommandError(f"{error.code}: {error}") from None
        elapsed = time.perf_counter() - started
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(summary), "elapsed_seconds": round(elapsed, 1)}, ensure_ascii=False))
            return
        self.stdout.write(
            f"年度 {summary.fiscal_year}: {summary.checkups:,} records checked in {summary.submissions:,} archives "
            f"(accepted {summary.accepted:,}, returned {summary.returned:,}, resubmitted and accepted {summary.resubmitted:,}); "
            f"{summary.deliveries:,} deliveries; {summary.insurer_returns:,} returned by insurers; "
            f"{summary.months_closed} months closed; {summary.invoices:,} invoices; "
            f"{summary.audit_events:,} audit events; {elapsed:,.0f} s"
        )
        phases = ", ".join(f"{phase} {seconds:,.0f} s" for phase, seconds in summary.seconds.items())
        self.stdout.write(f"time by phase: {phases}")
