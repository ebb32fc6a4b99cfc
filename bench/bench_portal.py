"""The portal under load: gunicorn with the production worker settings on a year of data, driven by Locust.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench KENSHIN_XSD_DIR=../shared/mhlw/xsd \\
        .venv/bin/python bench/bench_portal.py --users 50 --seconds 60

What it does:

1. migrates the database in ``DATABASE_URL`` and, when it holds no year yet, builds one with ``build_year``
   (``--checkups``, default 50,000; build the full 500,000 beforehand with ``manage.py build_year`` to bench at
   the design size: a built year is used as it is);
2. creates the bench accounts (``bench-…``, a known password and TOTP key each, reused on later runs): insurers'
   and institutions' staff, clerks, administrators and auditors in the proportions of ``ROLE_MIX``, each with its
   main pages and downloads (record pages of its own records, lists, delivery archives, CSVs);
3. starts gunicorn with ``deploy/gunicorn.conf.py`` (its worker count and settings; ``agency.settings.dev`` with
   ``DJANGO_DEBUG=0``, because production settings want TLS in front) on a free loopback port;
4. runs Locust headless: ``--users`` people log in (password + TOTP), then each reads one page every
   ``--think`` seconds for ``--seconds``; statistics are taken after every user has started;
5. runs the same again while another process receives and checks a ``--intake-records`` archive (as a Celery
   worker would);
6. prints p50/p95/p99 and requests/s for each page, the personal-data pages together, and the totals.

``--smoke`` (for CI, seconds): a scratch database of its own (SQLite file, or a new PostgreSQL database next to
``DATABASE_URL``'s, dropped afterwards), a tiny year, five users, a few seconds per phase, an intake of 100
records; it checks that everything runs and that every request succeeded, not how fast.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")
os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production: no query log kept in memory

BENCH_PASSWORD = "Qv7!mZ3#rTk9wX"  # noqa: S105 - bench accounts on a bench database only
# Of every 50 users: insurers' staff read most (their deliveries and records), then institutions and clerks.
ROLE_MIX = (("insurer_staff", 20), ("institution_staff", 14), ("agency_clerk", 10), ("agency_admin", 3), ("auditor", 3))
PERSONAL = ("record page", "delivery archive", "error list CSV", "submission page", "statement CSV")
SAMPLE = 200  # records of each account's to read (a random sample of its own)


# --- the data and the accounts (in this process, with Django) -------------------------------------------------


def _year_exists() -> bool:
    from agency.demo import INSTITUTIONS  # Django is set up in main() first
    from intake.models import Submission  # the same

    return Submission.objects.exclude(institution__number__in=[number for number, *_ in INSTITUTIONS]).exists()


def _build_year(checkups: int, smoke: bool) -> None:
    from django.core.management import call_command  # Django is set up in main() first

    tiny = ["--months", "1", "--per-archive", "10", "--institutions", "2", "--insurers", "2", "--views-per-record", "1"]
    call_command("build_year", "--demo-agency", "--checkups", str(checkups), *(tiny if smoke else []), verbosity=0)


def _account(username: str, role: str, key: str, **tenant: Any) -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice  # Django is set up in main() first

    from agency.models import User  # the same
    from agency.services import user_create  # the same

    user = User.objects.filter(username=username).first()
    if user is None:
        user = user_create(username=username, password=BENCH_PASSWORD, role=role, actor=None,
                           fields={"email": f"{username}@example.jp"}, **tenant)
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="bench", confirmed=True, key=key)
    return user


def _sample(queryset: Any, n: int = SAMPLE) -> list[int]:
    return list(queryset.order_by("?").values_list("pk", flat=True)[:n])


def _plan(users: int) -> dict[str, Any]:
    """The bench accounts (created or refreshed) with the pages each reads."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from agency.models import Institution, Insurer
    from billing.models import ClaimsStatement, Invoice
    from intake.models import Record, RecordStatus, Submission
    from routing.models import Delivery

    insurers = list(Insurer.objects.filter(records__delivery_item__isnull=False).distinct().order_by("number"))
    institutions = list(Institution.objects.filter(submissions__isnull=False).distinct().order_by("number"))
    total = sum(share for _, share in ROLE_MIX)
    counts = {role: max(1, round(users * share / total)) for role, share in ROLE_MIX}
    accounts: list[dict[str, Any]] = []
    all_records = _sample(Record.objects.filter(status=RecordStatus.ACCEPTED), 1_000)
    all_submissions = _sample(Submission.objects.all())
    for role, count in counts.items():
        for n in range(count):
            username = f"bench-{role.replace('_', '-')}-{n + 1}"
            key = f"{n + 1:04x}{sum(map(ord, role)):04x}".ljust(40, "7")
            pages: list[dict[str, Any]] = [{"name": "home", "paths": ["/"]}]
            if role == "insurer_staff":
                insurer = insurers[n % len(insurers)]
                _account(username, role, key, insurer=insurer)
                records = _sample(Record.objects.filter(insurer=insurer, delivery_item__isnull=False))
                deliveries = _sample(Delivery.objects.filter(insurer=insurer), 20)
                statements = _sample(ClaimsStatement.objects.filter(insurer=insurer, total__gt=0), 20)
                pages += [
                    {"name": "record page", "paths": [f"/insurer/records/{pk}/" for pk in records], "weight": 6},
                    {"name": "record search", "paths": ["/insurer/records/"]},
                    {"name": "delivery list", "paths": ["/insurer/"]},
                    {"name": "delivery page", "paths": [f"/insurer/deliveries/{pk}/" for pk in deliveries]},
                    {"name": "delivery archive", "paths": [f"/insurer/deliveries/{pk}/download/" for pk in deliveries]},
                    {"name": "statement CSV", "paths": [f"/billing/statements/{pk}/statement.csv" for pk in statements]},
                ]
            elif role == "institution_staff":
                institution = institutions[n % len(institutions)]
                _account(username, role, key, institution=institution)
                records = _sample(Record.objects.filter(submission__institution=institution))
                submissions = _sample(Submission.objects.filter(institution=institution), 20)
                pages += [
                    {"name": "record page", "paths": [f"/intake/records/{pk}/" for pk in records], "weight": 4},
                    {"name": "submission list", "paths": ["/intake/"]},
                    {"name": "submission page", "paths": [f"/intake/submissions/{pk}/" for pk in submissions]},
                    {"name": "return list", "paths": ["/intake/returns/"]},
                    {"name": "error list CSV", "paths": [f"/intake/submissions/{pk}/errors.csv" for pk in submissions]},
                ]
            elif role == "agency_clerk":
                _account(username, role, key)
                pages += [
                    {"name": "record page", "paths": [f"/intake/records/{pk}/" for pk in all_records], "weight": 4},
                    {"name": "submission list", "paths": ["/intake/"]},
                    {"name": "submission page", "paths": [f"/intake/submissions/{pk}/" for pk in all_submissions]},
                    {"name": "warning queue", "paths": ["/intake/warnings/"]},
                    {"name": "workbench", "paths": ["/intake/workbench/"]},
                    {"name": "delivery list", "paths": ["/insurer/"]},
                ]
            elif role == "agency_admin":
                _account(username, role, key)
                invoices = _sample(Invoice.objects.filter(sequence__isnull=False), 20)
                pages += [
                    {"name": "month list", "paths": ["/billing/months/"]},
                    {"name": "invoice list", "paths": ["/billing/invoices/"]},
                    {"name": "statement list", "paths": ["/billing/statements/"]},
                    {"name": "invoice CSV", "paths": [f"/billing/invoices/{pk}/invoice.csv" for pk in invoices]},
                ]
            else:
                _account(username, role, key)
                pages += [
                    {"name": "audit log", "paths": ["/audit/", "/audit/?action=routing.record.view"], "weight": 2},
                    {"name": "audit reviews", "paths": ["/audit/reviews/"]},
                ]
            accounts.append({"username": username, "password": BENCH_PASSWORD, "totp_key": key, "role": role,
                             "pages": [page for page in pages if page["paths"]]})
    return {"accounts": accounts}


# --- the server and the load ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}",  # noqa: S603
                                                           "GUNICORN_LOG_LEVEL": "warning"}, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"gunicorn did not start; see {log}") from None
                    time.sleep(0.3)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=60)


def _locust(env: dict[str, str], port: int, users: int, seconds: int, out: Path) -> list[dict[str, str]]:
    """Ramp up in about five seconds (logins), then measure ``seconds`` (statistics reset once all have started)."""
    spawn_rate = max(1, users // 5)
    ramp = -(-users // spawn_rate) + 1
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locust_portal.py"), "--headless", "--only-summary",
        "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{seconds + ramp}s", "--reset-stats",
        "--host", f"http://127.0.0.1:{port}", "--csv", str(out), "--loglevel", "WARNING", "--stop-timeout", "5",
    ]
    subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL,  # noqa: S603 - our own interpreter
                   stderr=(out.parent / f"{out.name}.log").open("wb"))
    with (out.parent / f"{out.name}_stats.csv").open(encoding="utf-8") as stats:
        return list(csv.DictReader(stats))


def _intake(records: int, done: Any) -> None:
    """Receive and check one archive of ``records`` from the year's busiest institution, as a Celery worker
    would: its checkups in the last March of the year, new people and tickets on every run."""
    # Imported here, not at module level: this runs in a forked process after Django was set up.
    import datetime as dt

    from django.conf import settings
    from django.db import connections
    from django.db.models import Count
    from django.utils import timezone

    from agency.models import AgencyProfile, Institution
    from intake import pipeline
    from intake.models import Channel, Record
    from intake.services.receive import submission_receive
    from kenshin.synth.generator import GeneratorConfig, generate
    from portal.year import institution_parties, last_ended_fiscal_year

    connections.close_all()
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # made-up addresses: nothing to mail
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # tasks run inline: no line per task
    year = last_ended_fiscal_year(timezone.localdate())
    seen = Record.objects.count()
    institution = Institution.objects.annotate(n=Count("submissions")).order_by("-n", "number").first()
    assert institution is not None
    config = GeneratorConfig(
        year=year, institutions=1, records=records, seed=seen, defect_rate=0.0,
        agency_number=AgencyProfile.objects.values_list("agency_code", flat=True).get(),
        checkups_from=dt.date(year + 1, 3, 1), created_on=dt.date(year + 1, 3, 31) - dt.timedelta(days=seen % 20),
        ticket_offset=20_000_000 + seen * 2,
    )
    archive = next(generate(config, institution_parties(institution)))
    started = time.perf_counter()
    received = submission_receive(source=archive.data, file_name=archive.filename, channel=Channel.MEDIA,
                                  institution=institution, enqueue=False)
    submission = pipeline.process_inline(received.submission.pk)
    done.put((time.perf_counter() - started, submission.records_total, submission.records_accepted))


def _report(title: str, rows: list[dict[str, str]]) -> dict[str, float]:
    print(f"\n{title}")
    print(f"  {'page':<22} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    failures = requests = 0
    for row in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        name = "all requests" if row["Name"] == "Aggregated" else row["Name"]  # logins still finishing included
        print(f"  {name:<22} {int(row['Request Count']):>9,} {int(row['Failure Count']):>7} {row['50%']:>8} "
              f"{row['95%']:>8} {row['99%']:>8} {float(row['Requests/s']):>8.1f}")
        if row["Name"] == "Aggregated":
            failures, requests = int(row["Failure Count"]), int(row["Request Count"])
    personal = [row for row in rows if row["Name"] in PERSONAL]
    views = sum(int(row["Request Count"]) for row in personal)
    rate = sum(float(row["Requests/s"]) for row in personal)
    print(f"  personal-data pages and downloads: {views:,}, {rate:,.1f}/s")
    record_p95 = max((float(row["95%"]) for row in rows if row["Name"] == "record page"), default=0.0)
    total = sum(float(row["Requests/s"]) for row in rows if row["Name"] == "Aggregated")
    return {"requests": requests, "failures": failures, "personal": rate, "record_p95": record_p95, "total": total}


# --- main ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _scratch_database() -> Iterator[str]:
    """A database of its own for the smoke run: a new PostgreSQL database beside DATABASE_URL's, else SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg  # only when PostgreSQL is configured

        base, _, _name = url.rpartition("/")
        name = f"portal_bench_smoke_{os.getpid()}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}"
        finally:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60, help="measured time of each phase")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between one user's requests")
    parser.add_argument("--checkups", type=int, default=50_000, help="size of the year built when none is there")
    parser.add_argument("--intake-records", type=int, default=10_000, help="the archive checked during the second phase")
    parser.add_argument("--smoke", action="store_true", help="a scratch database, a tiny year, seconds: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.seconds, args.checkups, args.intake_records = 5, 4, 20, 100
        with _scratch_database() as url, tempfile.TemporaryDirectory(prefix="portal-bench-storage-") as storage:
            os.environ["DATABASE_URL"] = url
            os.environ["STORAGE_DIR"] = storage
            failures = _bench(args)
        if failures:
            raise SystemExit(f"smoke run: {failures} request(s) failed")
        print("\nsmoke run: every phase ran and every request succeeded")
        return
    _bench(args)


def _bench(args: argparse.Namespace) -> int:
    # Django is set up here, once the arguments and the database are known; what needs it is imported after.
    import django

    django.setup()
    from django.core.management import call_command  # needs the configured Django
    from django.db import connection, connections  # the same

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if not _year_exists():
        print(f"building a year of {args.checkups:,} checkups (build_year) …", flush=True)
        _build_year(args.checkups, args.smoke)
        print(f"  built in {time.perf_counter() - started:,.0f} s", flush=True)
    plan = _plan(args.users)
    from intake.models import Record  # needs the configured Django

    records = Record.objects.count()
    vendor = connection.vendor
    connections.close_all()
    with tempfile.TemporaryDirectory(prefix="portal-bench-run-") as folder:
        work = Path(folder)
        (work / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        env = {**os.environ, "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
               "BENCH_PORTAL_PLAN": str(work / "plan.json"), "BENCH_PORTAL_THINK": str(args.think), "PYTHONPATH": str(ROOT)}
        port = _free_port()
        with _gunicorn(env, port, work / "gunicorn.log"):
            print(f"database {vendor}, {records:,} records; gunicorn (deploy/gunicorn.conf.py) on 127.0.0.1:{port}; "
                  f"{args.users} users, {args.think:g} s think time, {args.seconds} s per phase; "
                  f"{os.cpu_count()} CPU(s) shared by server, load and intake")
            rows = _locust(env, port, args.users, args.seconds, work / "quiet")
            alone = _report("portal alone", rows)
            done: Any = multiprocessing.get_context("fork").Queue()
            intake = multiprocessing.get_context("fork").Process(target=_intake, args=(args.intake_records, done))
            intake.start()
            rows = _locust(env, port, args.users, args.seconds, work / "intake")
            during = _report(f"while an archive of {args.intake_records:,} records is checked", rows)
            failures = int(alone["failures"] + during["failures"])
            intake.join()
            if intake.exitcode != 0:
                raise SystemExit("the intake during the second phase failed")
            seconds, total, accepted = done.get()
            print(f"  the intake: {total:,} records ({accepted:,} accepted) in {seconds:.1f} s = "
                  f"{total / seconds:,.0f} records/s alongside the load")
    print(f"\nagainst the targets: personal-data views {alone['personal']:,.1f}/s alone, {during['personal']:,.1f}/s "
          f"during the intake (target ≥ 150/s); record page p95 {alone['record_p95']:,.0f} ms alone, "
          f"{during['record_p95']:,.0f} ms during the intake (target < 150 ms); throughput during the intake "
          f"{during['total'] / alone['total'] if alone['total'] else 0:.2f} × alone")
    return failures


if __name__ == "__main__":
    main()
