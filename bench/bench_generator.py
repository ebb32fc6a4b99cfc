"""Measure the synthetic archive generator (records per CPU-second on one core).

    python bench/bench_generator.py [--records 2000] [--institutions 2] [--validate]

A record is one person: a DATA/h… file and its CLAIMS/c… file, zipped. With ``--validate`` the
archives are also read back with XSD validation (``KENSHIN_XSD_DIR``) and that rate is printed.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kenshin.reader import read_archive
from kenshin.schemas import FileKind, validate, xsd_dir_from_env
from kenshin.synth.generator import GeneratorConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000, help="records per archive")
    parser.add_argument("--institutions", type=int, default=2, help="archives (one per institution)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--validate", action="store_true", help="also read back with XSD validation")
    args = parser.parse_args()

    list(generate(GeneratorConfig(year=2024, records=5, seed=args.seed)))  # warm up: item master, code paths
    config = GeneratorConfig(year=2024, institutions=args.institutions, records=args.records, seed=args.seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    archives = list(generate(config))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    total = args.records * args.institutions
    size = sum(len(archive.data) for archive in archives)
    print(
        f"generated {total} records in {elapsed:.2f} s wall / {cpu:.2f} s CPU: "
        f"{total / cpu:,.0f} records per CPU-second ({total / elapsed:,.0f}/s wall), "
        f"{size / total:,.0f} bytes per record zipped"
    )

    if args.validate:
        xsd_dir = xsd_dir_from_env()
        if xsd_dir is None:
            print("KENSHIN_XSD_DIR is not set: skipping the read-back")
            return
        read_archive(archives[0].data, filename=archives[0].filename, xsd_dir=xsd_dir)  # compile the schemas once
        started, cpu_started = time.perf_counter(), time.process_time()
        findings = 0
        for archive in archives:
            result = read_archive(archive.data, filename=archive.filename, xsd_dir=xsd_dir)
            findings += len(result.findings)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"read back with XSD validation: {total / cpu:,.0f} records per CPU-second "
            f"({total / elapsed:,.0f}/s wall), {findings} findings"
        )
        cpu_started = time.process_time()
        documents = 0
        for archive in archives:
            documents += _validate_members(archive.data, xsd_dir)
        cpu = time.process_time() - cpu_started
        print(f"bare parse + XSD validation: {total / cpu:,.0f} records per CPU-second ({documents} files)")


def _validate_members(data: bytes, xsd_dir: Path) -> int:
    """Parse and validate every DATA/CLAIMS file with the official schemas, nothing else."""
    kinds = {"h": FileKind.CHECKUP, "c": FileKind.CLAIM}
    count = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if name and ("/DATA/" in info.filename or "/CLAIMS/" in info.filename):
                errors = validate(xsd_dir, kinds[name[0]], etree.fromstring(archive.read(info)))
                if errors:
                    raise SystemExit(f"{info.filename}: {errors}")
                count += 1
    return count


if __name__ == "__main__":
    main()
