"""Measure 階層化 and the 実施結果報告 archive on generated checkups (records per CPU-second, one core).

    python bench/bench_annual_report.py [--records 2000] [--guidance 500] [--validate]

階層化 reads each document's items and decides its level (``kenshin.stratification``); the report
anonymises every document — the checkups' h files and ``--guidance`` courses' 開始時 and 実績評価時 g files — and
writes the archive of 実施区分 3 (``kenshin.annual_report``). With
``--validate`` each file of the archive is validated against the official XSDs (``KENSHIN_XSD_DIR``).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import tracemalloc
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kenshin import annual_report, stratification
from kenshin.records import CheckupDocument, GuidanceDocument
from kenshin.rules import age_on, fiscal_year_end
from kenshin.schemas import FileKind, validate, xsd_dir_from_env
from kenshin.synth.generator import GeneratorConfig, generate
from kenshin.synth.guidance import generate_guidance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--guidance", type=int, default=500, help="guidance courses (開始時 + 実績評価時 g files each)")
    parser.add_argument("--validate", action="store_true", help="validate every file of the report archive")
    args = parser.parse_args()

    archive = next(generate(GeneratorConfig(year=2024, records=args.records, seed=args.seed)))
    documents = [member.record for member in archive.submission.checkups]
    ages = [age_on(d.subject.birth_date, fiscal_year_end(d.checkup_date or date(2024, 4, 1))) for d in documents]

    cpu = time.process_time()
    levels = Counter(
        stratification.stratify(stratification.measurements(d, a)).level.label for d, a in zip(documents, ages, strict=True)
    )
    stratify_cpu = time.process_time() - cpu
    agree = sum(stratification.reported_level(d) is stratification.stratify(stratification.measurements(d, a)).level
                for d, a in zip(documents, ages, strict=True))

    parts = []
    if args.guidance:
        pair = next(generate_guidance(GeneratorConfig(year=2024, records=args.guidance, seed=args.seed)))
        parts = [m.record for m in pair.start.submission.guidance]
        parts += [m.record for m in pair.evaluation.submission.guidance] if pair.evaluation is not None else []

    cpu = time.process_time()
    made = date(2025, 6, 30)
    anonymised = [annual_report.anonymise(d, f"{n:020d}", created_on=made) for n, d in enumerate(documents)]
    _name, data = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=made,
                                      documents=iter(anonymised), count=len(anonymised))
    report_cpu = time.process_time() - cpu
    cpu = time.process_time()
    guidance = [annual_report.anonymise(d, f"{n:020d}", created_on=made) for n, d in enumerate(parts)]
    _name, alone = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=made,
                                       documents=iter(guidance), count=len(guidance))
    guidance_cpu = time.process_time() - cpu
    both: list[CheckupDocument | GuidanceDocument] = [*anonymised, *guidance]
    _name, data = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=made,
                                      documents=iter(both), count=len(both))

    print(f"records: {len(documents)}  levels: {dict(levels)}  reported level = recomputed: {agree}/{len(documents)}")
    print(f"階層化: {len(documents) / stratify_cpu:,.0f} records per CPU-second")
    print(f"実施結果報告 archive: {len(documents) / report_cpu:,.0f} h files per CPU-second")
    if parts:
        print(f"  {len(parts)} g files alone: {len(parts) / guidance_cpu:,.0f} g files per CPU-second, {len(alone):,} bytes")
    print(f"the archive of {len(anonymised)} h + {len(guidance)} g files: {len(data):,} bytes")
    # Memory while streaming: documents anonymised one at a time as the archive takes them (as the service does).
    originals: list[CheckupDocument | GuidanceDocument] = [*documents, *parts]
    lazy = (annual_report.anonymise(d, f"{n:020d}", created_on=made) for n, d in enumerate(originals))
    tracemalloc.start()
    _name, streamed = annual_report.write(insurer_number="06139993", receiver="00000000", created_on=made,
                                          documents=lazy, count=len(documents) + len(parts))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"streamed write: peak {peak / 2**20:.1f} MiB traced for a {len(streamed) / 2**20:.1f} MiB archive "
          f"(peak beyond the archive: {(peak - len(streamed)) / 2**20:.1f} MiB)")
    if args.validate:
        xsd_dir = xsd_dir_from_env()
        if xsd_dir is None:
            sys.exit("KENSHIN_XSD_DIR is not set")
        errors = 0
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            for name in zipped.namelist():
                if name.endswith("/"):
                    continue
                kind = FileKind.INDEX if name.endswith("ix08_V08.xml") else (
                    FileKind.GUIDANCE if "/DATA/g" in name else FileKind.CHECKUP)
                errors += len(validate(xsd_dir, kind, etree.fromstring(zipped.read(name))))
        print(f"XSD errors in the report archive: {errors}")


if __name__ == "__main__":
    main()
