"""Intake throughput: generated archives through storage, every check and persistence.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench KENSHIN_XSD_DIR=../shared/mhlw/xsd \
        .venv/bin/python bench/bench_intake.py --records 5000 --per-archive 1000

Prints records/s end to end, peak RSS, and — on the same files, in the same run — the rate of a bare
lxml parse + official-XSD validation of every DATA/CLAIMS file, so the ratio shows how close the
rule engine is to the parsing limit. Uses (and empties) the database named in DATABASE_URL.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw_parse_rate(archives: list[bytes], xsd_dir: Path) -> tuple[float, int]:
    from lxml import etree

    schemas = {
        "h": etree.XMLSchema(file=str(xsd_dir / "hc08_V08.xsd")),
        "c": etree.XMLSchema(file=str(xsd_dir / "cc08_V08.xsd")),
    }
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    files = 0
    started = time.perf_counter()
    for data in archives:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                kind = name.rsplit("/", 1)[-1][:1]
                if kind in schemas and name.endswith(".xml") and ("/DATA/" in name or "/CLAIMS/" in name):
                    schemas[kind].assertValid(etree.fromstring(archive.read(name), parser))
                    files += 1
    return time.perf_counter() - started, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--per-archive", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from agency.demo import seed_demo
    from agency.models import Institution
    from agency.services import synthetic_parties_load
    from intake.models import Channel
    from intake.services import submission_process_inline, submission_receive
    from intake.standard.synth.generator import GeneratorConfig, default_parties, generate

    call_command("migrate", verbosity=0)
    seed_demo()
    archives_needed = max(1, args.records // args.per_archive)
    config = GeneratorConfig(
        year=2024, institutions=archives_needed, records=args.per_archive, seed=args.seed, agency_number="91399055"
    )
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number="91399055")

    started = time.perf_counter()
    generated = list(generate(config, parties))
    generation_seconds = time.perf_counter() - started
    total_records = sum(len(a.submission.checkups) for a in generated)

    rss_before = _peak_rss_mib()
    started = time.perf_counter()
    accepted = returned = 0
    for archive in generated:
        institution = Institution.objects.get(number=archive.institution)
        received = submission_receive(
            source=archive.data, file_name=archive.filename, institution=institution, channel=Channel.MEDIA, enqueue=False
        )
        submission = submission_process_inline(submission_id=received.submission.pk)
        accepted += submission.records_accepted
        returned += submission.records_returned
    intake_seconds = time.perf_counter() - started
    rss_after = _peak_rss_mib()

    xsd_dir = Path(settings.KENSHIN_XSD_DIR) if settings.KENSHIN_XSD_DIR else None
    print(f"database            {connection.vendor}")
    print(f"records             {total_records} in {len(generated)} archives of {args.per_archive}")
    print(f"generation          {total_records / generation_seconds:,.0f} records/s")
    print(f"intake end to end   {total_records / intake_seconds:,.0f} records/s ({intake_seconds:.1f} s; accepted {accepted}, returned {returned})")
    print(f"peak RSS            {rss_before:,.0f} MiB before intake, {rss_after:,.0f} MiB after")
    if xsd_dir is None:
        print("raw parse + XSD     skipped: KENSHIN_XSD_DIR is not set")
        return
    raw_seconds, files = _raw_parse_rate([a.data for a in generated], xsd_dir)
    raw_rate = total_records / raw_seconds
    print(f"raw parse + XSD     {raw_rate:,.0f} records/s ({files} files in {raw_seconds:.1f} s)")
    print(f"ratio               intake runs at {total_records / intake_seconds / raw_rate:.2f} × the bare parse + XSD rate")
    print(f"a year (500,000)    {500_000 / (total_records / intake_seconds) / 60:.1f} minutes at this rate")


if __name__ == "__main__":
    main()
