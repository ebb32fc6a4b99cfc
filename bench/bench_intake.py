"""Intake throughput: generated archives through storage, every check and persistence.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench KENSHIN_XSD_DIR=../shared/mhlw/xsd \
        .venv/bin/python bench/bench_intake.py --records 10000 --per-archive 1000 --workers 2

Each worker process does what a Celery worker does for an archive that arrives: keep the bytes
(``submission_receive``), then level 0 and every level-1 chunk (``intake.pipeline.process_inline``, the
same services the tasks call). ``--workers`` defaults to the number of CPUs, as the worker's
prefork pool does.

Prints records/s end to end, the workers' peak RSS and — on the same files, in the same run, with
the same number of processes — the rate of a bare lxml parse + official-XSD validation of every
DATA/CLAIMS file, so the ratio shows how close the rule engine is to the parsing limit.
``--profile FILE`` (one worker) writes cProfile statistics of the intake phase.

Guidance (特定保健指導) archives follow the checkups (``--guidance-records``, 0 to leave them out): the
開始時 archives first, then the 実績評価時 archives of the same people (whose split claims need their 開始時),
each phase in the same worker processes; their rate is printed beside the checkup rate.

``--celery`` goes through the real thing instead: it starts ``celery worker --concurrency N`` on
the broker named in CELERY_BROKER_URL, receives every archive as the web process does (the check
is queued on commit) and waits until every submission has its verdict.
Needs an empty database in DATABASE_URL (it creates the schema, the demo data and the parties):
the same archives a second time would be answered as duplicates.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")
os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production: no query log kept in memory

class Archive(NamedTuple):
    filename: str
    data: bytes
    institution: str


# Filled in the parent before the worker processes fork, so that they share it without copying.
ARCHIVES: list[Archive] = []
XSD_DIR: Path | None = None


def _peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _intake_one(index: int) -> tuple[int, int, int]:
    """Receive and check one archive, as the web process and a Celery worker would."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from agency.models import Institution
    from intake import pipeline
    from intake.models import Channel
    from intake.services.receive import submission_receive

    archive = ARCHIVES[index]
    institution = Institution.objects.get(number=archive.institution)
    received = submission_receive(
        source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA, enqueue=False
    )
    submission = pipeline.process_inline(received.submission.pk)
    return submission.records_total, submission.records_accepted, submission.records_returned


def _raw_parse_one(index: int) -> int:
    """Bare lxml parse + official-XSD validation of one archive's DATA/CLAIMS files."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from lxml import etree

    from kenshin.schemas import FileKind, schema

    assert XSD_DIR is not None
    schemas = {"h": schema(XSD_DIR, FileKind.CHECKUP), "c": schema(XSD_DIR, FileKind.CLAIM)}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    files = 0
    with zipfile.ZipFile(io.BytesIO(ARCHIVES[index].data)) as archive:
        for name in archive.namelist():
            kind = name.rsplit("/", 1)[-1][:1]
            if kind in schemas and name.endswith(".xml") and ("/DATA/" in name or "/CLAIMS/" in name):
                with contextlib.suppress(etree.XMLSyntaxError):  # a defective record's malformed file
                    schemas[kind].validate(etree.fromstring(archive.read(name), parser))
                files += 1
    return files


def _run(function: Any, workers: int) -> tuple[float, list[Any], float]:
    """Run ``function`` over every archive in ``workers`` forked processes: seconds, results, peak RSS."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.db import connections

    connections.close_all()  # each worker opens its own connection
    started = time.perf_counter()
    if workers == 1:
        results = [function(index) for index in range(len(ARCHIVES))]
        peak = _peak_rss_mib()
    else:
        with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=None) as pool:
            results = pool.map(function, range(len(ARCHIVES)), chunksize=1)
            pool.close()
            pool.join()
        peak = _peak_rss_mib(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, results, peak


def _worker_peak_rss_mib(worker: subprocess.Popen[bytes]) -> float:
    """The largest peak RSS among the Celery worker's pool processes (Linux /proc), 0 if unknown."""
    peak = 0.0
    try:
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        for pid in children:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    except OSError:
        return 0.0
    return peak


def _run_celery(workers: int) -> tuple[float, list[Any], float]:
    """Start a Celery worker, receive every archive with checks queued on commit, wait for the verdicts."""
    # Imported here, not at module level: Django is set up in main(), after the arguments are read.
    from django.conf import settings
    from django.db import transaction

    from agency.celery import app
    from agency.models import Institution
    from intake.models import Channel, Submission
    from intake.services.receive import submission_receive

    if not settings.CELERY_BROKER_URL:
        raise SystemExit("--celery needs CELERY_BROKER_URL (and a database the worker can reach: DATABASE_URL)")
    app.control.purge()
    command = [sys.executable, "-m", "celery", "--quiet", "-A", "agency", "worker", "--pool", "prefork",
               f"--concurrency={workers}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
               "-n", f"bench-{os.getpid()}@%h"]
    worker = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1])  # noqa: S603 - our own interpreter
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the Celery worker did not start")
        started = time.perf_counter()
        ids = []
        for archive in ARCHIVES:
            institution = Institution.objects.get(number=archive.institution)
            with transaction.atomic():
                received = submission_receive(
                    source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA
                )
            ids.append(received.submission.pk)
        while Submission.objects.filter(pk__in=ids, checked_at__isnull=True).exists():
            if worker.poll() is not None:
                raise SystemExit("the Celery worker stopped")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        peak = _worker_peak_rss_mib(worker)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        app.pool.force_close_all()  # no broker connection may be inherited by the processes forked later
    results = list(Submission.objects.filter(pk__in=ids).values_list("records_total", "records_accepted", "records_returned"))
    return seconds, results, peak


def main() -> None:
    global XSD_DIR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--per-archive", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--defect-rate", type=float, default=0.02,
        help="share of records carrying one of the generator's record-level defects (returned with findings)",
    )
    parser.add_argument("--profile", metavar="FILE", help="write cProfile statistics of the intake (one worker)")
    parser.add_argument("--celery", action="store_true", help="run the checks on a real Celery worker (needs a broker)")
    parser.add_argument(
        "--guidance-records", type=int, default=2000,
        help="guidance courses (each a 開始時 and a 実績評価時 record) after the checkups; 0 leaves them out",
    )
    args = parser.parse_args()
    if args.profile and (args.workers != 1 or args.celery):
        parser.error("--profile needs --workers 1 without --celery")

    # Django is set up here, once the arguments are read; what needs it is imported after.
    import django

    django.setup()
    # The rest needs the configured Django.
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from agency.celery import prepare_worker_process
    from agency.demo import seed_demo
    from agency.services import synthetic_parties_load
    from kenshin.synth.defects import DEFECTS, Stage
    from kenshin.synth.generator import GeneratorConfig, default_parties, generate
    from kenshin.synth.guidance import DEFAULT_GUIDANCE_PRICES, generate_guidance

    call_command("migrate", verbosity=0)
    # The models are imported once the database is migrated.
    from intake.models import Submission

    if Submission.objects.exists():
        raise SystemExit(f"{connection.settings_dict['NAME']} already holds submissions: give the bench an empty database")
    seed_demo()
    archives_needed = max(1, args.records // args.per_archive)
    record_defects = tuple(name for name, defect in DEFECTS.items() if defect.stage is Stage.RECORD)
    config = GeneratorConfig(
        year=2024, institutions=archives_needed, records=args.per_archive, seed=args.seed, agency_number="91399055",
        defects=record_defects if args.defect_rate else (), defect_rate=args.defect_rate,
    )
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number="91399055")
    # The models are there once migrated; the contracts cover guidance at the generator's prices.
    from agency.models import Contract

    Contract.objects.update(
        guidance_active_price=DEFAULT_GUIDANCE_PRICES["1"], guidance_motivational_price=DEFAULT_GUIDANCE_PRICES["2"]
    )
    guidance_phases: list[list[Archive]] = [[], []]
    if args.guidance_records and not args.celery:
        per_archive = min(args.per_archive, args.guidance_records)
        guidance_config = GeneratorConfig(
            year=2024, institutions=min(archives_needed, max(1, args.guidance_records // per_archive)), records=per_archive,
            seed=args.seed, agency_number="91399055",
        )
        for pair in generate_guidance(guidance_config, parties):
            guidance_phases[0].append(Archive(pair.start.filename, pair.start.data, pair.start.institution))
            if pair.evaluation is not None:
                guidance_phases[1].append(Archive(pair.evaluation.filename, pair.evaluation.data, pair.evaluation.institution))

    started = time.perf_counter()
    total_records = 0
    for generated in generate(config, parties):
        total_records += len(generated.submission.checkups)
        ARCHIVES.append(Archive(generated.filename, generated.data, generated.institution))  # the bytes only
    generation_seconds = time.perf_counter() - started
    XSD_DIR = Path(settings.KENSHIN_XSD_DIR) if settings.KENSHIN_XSD_DIR else None
    prepare_worker_process()  # as each Celery worker process does at start (the pool forks from here)
    vendor = connection.vendor
    rss_before = _peak_rss_mib()

    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    if args.celery:
        intake_seconds, results, intake_rss = _run_celery(args.workers)
    else:
        intake_seconds, results, intake_rss = _run(_intake_one, args.workers)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    checked = sum(total for total, _, _ in results)
    accepted = sum(ok for _, ok, _ in results)
    returned = sum(back for _, _, back in results)
    if checked != total_records:
        raise SystemExit(f"{checked} records checked, {total_records} generated")
    rate = total_records / intake_seconds

    print(f"database            {vendor}")
    print(f"records             {total_records} in {len(ARCHIVES)} archives of {args.per_archive}")
    print(f"workers             {args.workers} {'Celery worker' if args.celery else 'forked'} process(es) on {os.cpu_count()} CPU(s)")
    print(f"generation          {total_records / generation_seconds:,.0f} records/s (one process)")
    print(f"intake end to end   {rate:,.0f} records/s ({intake_seconds:.1f} s; accepted {accepted}, returned {returned})")
    print(f"peak RSS            {rss_before:,.0f} MiB before intake; {intake_rss:,.0f} MiB per worker at most")
    if guidance_phases[0]:
        checkup_archives = list(ARCHIVES)
        seconds = 0.0
        guidance_results: list[Any] = []
        for phase in guidance_phases:  # every 開始時 before any 実績評価時
            ARCHIVES[:] = phase
            phase_seconds, phase_results, _ = _run(_intake_one, args.workers)
            seconds += phase_seconds
            guidance_results += phase_results
        parts = sum(total for total, _, _ in guidance_results)
        taken = sum(ok for _, ok, _ in guidance_results)
        print(
            f"guidance end to end {parts / seconds:,.0f} records/s ({parts} parts in {seconds:.1f} s; accepted {taken}) "
            f"beside checkups {rate:,.0f} records/s: {parts / seconds / rate:.2f} ×"
        )
        ARCHIVES[:] = checkup_archives  # the bare parse below is measured on the checkup files
    elif args.guidance_records:
        print("guidance            skipped with --celery")
    if XSD_DIR is None:
        print("raw parse + XSD     skipped: KENSHIN_XSD_DIR is not set")
        return
    raw_seconds, files, _ = _run(_raw_parse_one, args.workers)
    raw_rate = total_records / raw_seconds
    print(f"raw parse + XSD     {raw_rate:,.0f} records/s ({sum(files)} files in {raw_seconds:.1f} s, same workers)")
    print(f"ratio               intake runs at {rate / raw_rate:.2f} × the bare parse + XSD rate")
    print(f"a year (500,000)    {500_000 / rate / 60:.1f} minutes at this rate")


if __name__ == "__main__":
    main()
