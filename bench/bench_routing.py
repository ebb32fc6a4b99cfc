"""Record pages, routing, the month close and the audit log at size, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres portal_bench_routing
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_routing KENSHIN_XSD_DIR=../shared/mhlw/xsd \
        .venv/bin/python bench/bench_routing.py --records 50000 --page-sizes 1000,20000 --pending 100000

What it prints, each measured in this one run:

- the record page (``/intake/records/<id>/`` as a clerk, Django's test client in-process, so server time
  without the network): median and p95 ms over ``--page-views`` views of records of stored archives of
  each of ``--page-sizes`` records, and the part of it that reads the record (its two members read from
  the stored archive and parsed);
- the routing page (``/insurer/routing/``, the next run's plan) in ms with ``--records`` records pending,
  and again with ``--pending`` records pending in all;
- ``manage.py route_deliveries`` in its own process: records/s and its peak RSS, every record going to one
  insurer (``--records`` records: deliveries of at most 20,000);
- the month close (``billing.services.closing.month_close``): records billed per second;
- the audit log: appends per second (one event per transaction, as a request writes it; one process and
  two), the whole log verified (events/s, after ``--audit-events`` more events written), and the
  auditor's searches (``/audit/`` with typical filters) in ms.

The records are made on a bulk path, not through intake's checks (``bench/bench_intake.py`` measures
those): generated archives are stored as received and their records saved accepted, with their members'
places, as intake leaves them. Needs an empty database in DATABASE_URL (it creates the schema).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")
os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production: no query log kept in memory

AGENCY_NUMBER = "91399055"
# ``manage.py route_deliveries --json`` in a process of its own, which reports its own peak RSS (VmHWM: the
# high-water mark of this program's memory, not of the bench's that it was forked from) on standard error.
ROUTE_CHILD = """
import cProfile, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")
import django
django.setup()
from django.core.management import call_command
profile = sys.argv[1] if len(sys.argv) > 1 else ""
if profile:
    cProfile.runctx("call_command('route_deliveries', '--json')", globals(), locals(), profile)
else:
    call_command("route_deliveries", "--json")
with open("/proc/self/status") as status:
    print(next(line for line in status if line.startswith("VmHWM:")).strip(), file=sys.stderr)
"""
BATCH = 2_000


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms ({len(ordered)} views)"


def _store_submission(generated: Any, *, checked_at: dt.datetime, serial: int) -> int:
    """Keep a generated archive as intake keeps it, its records accepted with their members' places."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from agency.models import Institution, Insurer
    from intake import storage
    from intake.checks import RULE_SET_VERSION
    from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus
    from kenshin.rules import person_key
    from kenshin.zipguard import MemberPlace

    stored = storage.store(generated.data)
    archive, _created = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
    parsed = generated.submission
    root = parsed.name.stem
    with zipfile.ZipFile(io.BytesIO(generated.data)) as opened:
        places = {info.filename[len(root) + 1 :]: MemberPlace.of(info).as_list() for info in opened.infolist()}
    claims = {member.stem: member for member in parsed.claims}
    institution = Institution.objects.get(number=generated.institution)
    insurers = {insurer.number: insurer for insurer in Insurer.objects.all()}
    total = sum(member.record.settlement.claim_amount for member in parsed.claims)
    submission = Submission.objects.create(
        receipt_number=f"B{serial:09d}", archive=archive, file_name=generated.filename, institution=institution,
        channel=Channel.MEDIA, received_at=checked_at, status=SubmissionStatus.ACCEPTED, rule_set=RULE_SET_VERSION,
        interaction_type="1", service_event_type="1", file_count=len(places), records_total=len(parsed.checkups),
        records_checked=len(parsed.checkups), records_accepted=len(parsed.checkups), amount_claimed=total,
        amount_accepted=total, checked_at=checked_at,
    )
    rows = []
    for position, member in enumerate(parsed.checkups, start=1):
        document, claim = member.record, claims[member.stem]
        subject, settlement = document.subject, claim.record.settlement
        rows.append(Record(
            submission=submission, position=position, data_path=member.path, claim_path=claim.path,
            status=RecordStatus.ACCEPTED, institution=institution, insurer_number=subject.insurer_number,
            insurer=insurers.get(subject.insurer_number), ticket_number=(document.ticket.number if document.ticket else "") or "",
            # No 年度: generated archives of one insurer repeat people, which the checks would return.
            checkup_date=document.checkup_date, fiscal_year=None,
            person_key=person_key(subject.insurer_number, subject.card_symbol, subject.card_number, subject.card_branch)[:64],
            card_symbol=subject.card_symbol or "", card_number=subject.card_number, card_branch=subject.card_branch or "",
            name_kana=subject.name_kana, sex=subject.sex, birth_date=subject.birth_date, claim_type=settlement.claim_type,
            unit_amount=settlement.unit_amount, payment_amount=settlement.payment_amount,
            claim_amount=settlement.claim_amount, checked_at=checked_at,
            member_places={member.path: places[member.path], claim.path: places[claim.path]},
        ))
        if len(rows) >= BATCH:
            Record.objects.bulk_create(rows)
            rows = []
    Record.objects.bulk_create(rows)
    return submission.pk


def _stored_archives(config: Any, parties: Any, *, checked_at: dt.datetime, first_serial: int) -> tuple[list[int], float]:
    """Generate and keep archives; (submission ids, records per second of generation and saving)."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from kenshin.synth.generator import generate

    started = time.perf_counter()
    ids, records = [], 0
    for serial, generated in enumerate(generate(config, parties), start=first_serial):
        ids.append(_store_submission(generated, checked_at=checked_at, serial=serial))
        records += len(generated.submission.checkups)
    return ids, records / (time.perf_counter() - started)


def _clerk_client(role: str) -> Any:
    """A test client logged in with both factors as a new user of ``role``."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from agency.models import User

    user = User.objects.create_user(username=f"bench-{role}-{time.monotonic_ns()}", password=None, role=role)
    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _timed_get(client: Any, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return seconds


def _record_pages(client: Any, submission_id: int, views: int) -> list[float]:
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.urls import reverse

    from intake.models import Record

    ids = list(Record.objects.filter(submission_id=submission_id).order_by("?").values_list("pk", flat=True)[: views + 3])
    for pk in ids[:3]:  # first views load templates, translations and the item master
        _timed_get(client, reverse("intake:record_detail", args=[pk]))
    return [_timed_get(client, reverse("intake:record_detail", args=[pk])) for pk in ids[3:]]


def _record_reads(submission_id: int, views: int) -> list[float]:
    """The record's content alone, read from the stored archive and parsed (``outputs.record_content``)."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from intake import outputs
    from intake.models import Record

    samples = []
    for record in Record.objects.filter(submission_id=submission_id).select_related("submission__archive").order_by("?")[:views]:
        started = time.perf_counter()
        if not outputs.record_content(record)["available"]:
            raise SystemExit(f"record {record.pk} could not be read back")
        samples.append(time.perf_counter() - started)
    return samples


def _routing_page(client: Any, views: int = 10) -> list[float]:
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.urls import reverse

    url = reverse("insurer:routing_run")
    _timed_get(client, url)
    return [_timed_get(client, url) for _ in range(views)]


def _pending_rows(count: int, *, checked_at: dt.datetime) -> None:
    """``count`` more pending records (rows only, for the routing page's aggregates), in one archive."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from agency.models import Institution, Insurer
    from intake.checks import RULE_SET_VERSION
    from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus

    archive = StoredArchive.objects.create(sha256=f"{count:064x}", size=0)
    submission = Submission.objects.create(
        receipt_number=f"P{count:09d}", archive=archive, file_name="pending.zip", institution=Institution.objects.earliest("pk"),
        channel=Channel.MEDIA, received_at=checked_at, status=SubmissionStatus.ACCEPTED, rule_set=RULE_SET_VERSION,
        checked_at=checked_at,
    )
    insurers = list(Insurer.objects.order_by("pk"))
    for first in range(0, count, 10_000):
        Record.objects.bulk_create(
            Record(submission=submission, position=n + 1, data_path=f"DATA/h{n}.xml", claim_path=f"CLAIMS/c{n}.xml",
                   status=RecordStatus.ACCEPTED, institution_id=submission.institution_id,
                   insurer=insurers[n % len(insurers)], claim_amount=7_000, unit_amount=9_000, checked_at=checked_at)
            for n in range(first, min(first + 10_000, count))
        )


def _audit_append(count: int) -> None:
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.db import connections, transaction

    from audit.services import audit_record

    connections.close_all()
    for n in range(count):
        with transaction.atomic():
            audit_record(action="intake.record.view", actor_label="bench", object_type="record", object_ids=[n],
                         detail={"bench": True})
    connections.close_all()


def _audit_bulk(count: int) -> None:
    """``count`` more events chained and sealed as ``audit_record`` would, saved in batches (past events)."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.db import transaction
    from django.utils import timezone

    from audit import chain
    from audit.checkpoints import configured_key
    from audit.models import AuditEvent

    key = configured_key()
    actions = ("intake.record.view", "routing.delivery.downloaded", "intake.submission.view", "auth.login", "billing.month.closed")
    roles = ("agency_clerk", "insurer_staff", "institution_staff", "auditor")
    start = timezone.now() - dt.timedelta(days=365)
    with transaction.atomic():
        last = AuditEvent.objects.order_by("-seq").values("seq", "row_hash").first()
        seq, prev = (last["seq"], last["row_hash"]) if last else (0, chain.GENESIS_HASH)
        rows = []
        for n in range(count):
            seq += 1
            fields = {
                "seq": seq, "occurred_at": start + dt.timedelta(seconds=n * 6), "actor_id": None,
                "actor_label": f"user{n % 400:03d}", "actor_role": roles[n % len(roles)], "tenant": f"insurer:{n % 40}",
                "action": actions[n % len(actions)], "outcome": "success", "object_type": "record",
                "object_ids": [str(n)], "ip": "192.0.2.1", "method": "GET", "path": f"/intake/records/{n}/",
                "request_id": "", "session_hash": "", "detail": {},
            }
            digest = chain.row_hash(prev, fields)
            rows.append(AuditEvent(**fields, prev_hash=prev, row_hash=digest, row_mac=chain.row_mac(key, digest) if key else ""))
            prev = digest
            if len(rows) >= 5_000:
                AuditEvent.objects.bulk_create(rows)
                rows = []
        AuditEvent.objects.bulk_create(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="records routed, billed (one insurer)")
    parser.add_argument("--per-archive", type=int, default=1_000)
    parser.add_argument(
        "--page-sizes", default="1000,20000",
        help="archive sizes (records) of the record pages; intake takes at most 50,000 members (24,990 records)",
    )
    parser.add_argument("--page-views", type=int, default=50)
    parser.add_argument("--pending", type=int, default=0, help="records pending in all for the second routing page figure")
    parser.add_argument("--audit-appends", type=int, default=2_000)
    parser.add_argument("--audit-events", type=int, default=200_000, help="events added before verify and search")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--profile", metavar="FILE", help="write cProfile statistics of the month close")
    parser.add_argument("--profile-routing", metavar="FILE", help="write cProfile statistics of route_deliveries")
    args = parser.parse_args()

    # Django is set up here, once the arguments are read; what needs it is imported after.
    import django

    django.setup()
    # The rest needs the configured Django.
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    # The models are imported once the database is migrated.
    from agency.demo import seed_demo
    from agency.models import Role
    from agency.services import synthetic_parties_load
    from audit.models import AuditEvent
    from audit.selectors import audit_integrity_verify
    from billing import calendar
    from billing.services.closing import month_close
    from intake.models import Submission
    from kenshin.synth.generator import GeneratorConfig, default_parties

    if Submission.objects.exists():
        raise SystemExit(f"{connection.settings_dict['NAME']} already holds submissions: give the bench an empty database")
    seed_demo()
    now = timezone.now()
    checked_at = now - dt.timedelta(hours=1)
    print(f"database            {connection.vendor}, {os.cpu_count()} CPU(s)")

    # Record pages at each archive size.
    clerk = _clerk_client(Role.AGENCY_CLERK)
    serial = 1
    for size in [int(text) for text in args.page_sizes.split(",") if text]:
        config = GeneratorConfig(year=2024, institutions=1, records=size, seed=args.seed + size, insurers=1,
                                 agency_number=AGENCY_NUMBER, ticket_offset=serial * 100_000)
        parties = default_parties(config)
        synthetic_parties_load(parties=parties, agency_number=AGENCY_NUMBER)
        [submission_id], _rate = _stored_archives(config, parties, checked_at=checked_at, first_serial=serial)
        serial += 1
        size_mib = Submission.objects.get(pk=submission_id).archive.size / 2**20
        print(f"record page         archive of {size:,} records ({size_mib:,.1f} MiB): {_ms(_record_pages(clerk, submission_id, args.page_views))}")
        print(f"record read         archive of {size:,} records, the two members read and parsed: "
              f"{_ms(_record_reads(submission_id, args.page_views))}")
    # Those records are routed too: leave them out of what follows.
    from intake.models import Record

    Record.objects.update(status="returned")

    # The routing set: every record to one insurer.
    archives = max(1, args.records // args.per_archive)
    config = GeneratorConfig(year=2024, institutions=archives, records=args.per_archive, seed=args.seed, insurers=1,
                             agency_number=AGENCY_NUMBER, ticket_offset=9_000_000)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY_NUMBER)
    _ids, rate = _stored_archives(config, parties, checked_at=checked_at, first_serial=serial)
    pending = Record.objects.filter(status="accepted").count()
    print(f"records made        {pending:,} in {archives} archives ({rate:,.0f} records/s, bulk path)")
    print(f"routing page        {pending:,} pending: {_ms(_routing_page(clerk))}")

    connection.close()
    started = time.perf_counter()
    routed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", ROUTE_CHILD, args.profile_routing or ""], cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, check=True,
    )
    seconds = time.perf_counter() - started
    deliveries = [json.loads(line) for line in routed.stdout.splitlines() if line.startswith("{")]
    records = sum(int(d["records"]) for d in deliveries)
    peak = int(next(line for line in routed.stderr.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    print(f"route_deliveries    {records:,} records in {len(deliveries)} deliveries: {records / seconds:,.0f} records/s "
          f"({seconds:.1f} s, process start included); peak RSS {peak:,.0f} MiB")

    period = calendar.month_start(timezone.localdate(checked_at))
    cutoff = calendar.cutoff_for(period)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    closed = month_close(period=period, now=max(cutoff, now) + dt.timedelta(minutes=1))
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    billed = sum(insurer.record_count for insurer in closed.insurers)
    print(f"close_month         {billed:,} records billed: {billed / seconds:,.0f} records/s ({seconds:.2f} s)")

    if args.pending > pending:
        _pending_rows(args.pending, checked_at=checked_at)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE intake_record")  # as autovacuum would after so many rows
        print(f"routing page        {args.pending:,} pending: {_ms(_routing_page(clerk))}")

    # The audit log.
    started = time.perf_counter()
    _audit_append(args.audit_appends)
    one = args.audit_appends / (time.perf_counter() - started)
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_audit_append, [args.audit_appends // 2] * 2)
    two = args.audit_appends / (time.perf_counter() - started)
    print(f"audit append        {one:,.0f} events/s (one process), {two:,.0f} events/s (two processes)")
    _audit_bulk(args.audit_events)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")  # as autovacuum would after so many rows
    connection.close()
    started, cpu = time.perf_counter(), time.process_time()
    report = audit_integrity_verify()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"audit verify        {report.events:,} events: {report.events / seconds:,.0f} events/s "
          f"({report.events / cpu:,.0f} per CPU second of this process; {'intact' if report.intact else report.first})")
    auditor = _clerk_client(Role.AUDITOR)
    total = AuditEvent.objects.count()
    day = (timezone.localdate() - dt.timedelta(days=200)).isoformat()
    for label, query in (
        ("no filter", ""),
        ("actor", "actor=user123"),
        ("action prefix", "action=routing."),
        ("object id", "object_id=4242"),
        ("tenant + date", f"tenant=insurer%3A7&date_from={day}&date_to={day}"),
    ):
        samples = [_timed_get(auditor, f"/audit/?{query}") for _ in range(6)][1:]
        print(f"auditor search      {total:,} events, {label}: {_ms(samples)}")


if __name__ == "__main__":
    main()
