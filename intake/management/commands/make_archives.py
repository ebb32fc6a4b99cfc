"""Write synthetic submission archives for the parties in the database.

    python manage.py make_archives --out DIR --institutions N --records M --year 2024 --seed S
        [--defect NAME ...] [--defect-rate R] [--create-parties] [--insurers K]
        [--password P] [--xsd-dir DIR] [--kind checkup|guidance|results-only|other-checkup] [--guidance-defect NAME ...]
        [--insurer NUMBER [--insurer-defect not_own_insured]]

One archive per institution that has contracts, records priced under those contracts, and a
manifest.json naming every injected defect. ``--kind guidance`` writes each institution's 開始時 and
実績評価時 archives (特定保健指導, 実施区分 2); ``results-only`` DATA and ix08 only; ``other-checkup`` 事業者健診
(実施区分 4) sent by institutions, or with ``--insurer`` one archive the insurer uploads itself for its own
被保険者. With --create-parties, missing institutions (and
insurers, up to --insurers) are created through the party services, with synthetic contracts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from random import Random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q

from agency.models import AgencyProfile, Contract, Institution, Insurer
from agency.services import contract_from_terms, institution_save, insurer_save
from kenshin.copay import ContractTerms, terms_from_contract
from kenshin.schemas import xsd_dir_from_env
from kenshin.synth.defects import DEFECTS
from kenshin.synth.generator import DEFAULT_AGENCY_NUMBER, GeneratorConfig, write_archives
from kenshin.synth.guidance import (
    DEFAULT_GUIDANCE_PRICES,
    GUIDANCE_DEFECTS,
    INSURER_UPLOAD_DEFECTS,
    KINDS,
    write_kind_archives,
)
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer, make_parties


def _contracted_institutions(year: int) -> list[Institution]:
    start, end = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    return list(
        Institution.objects.filter(is_active=True, contracts__valid_from__lte=end)
        .filter(Q(contracts__valid_to__isnull=True) | Q(contracts__valid_to__gte=start))
        .distinct()
        .order_by("number")
    )


def _create_parties(*, institutions: int, insurers: int, year: int, seed: int) -> None:
    """Create synthetic institutions (and insurers when too few exist) with contracts."""
    existing_insurers = list(Insurer.objects.filter(is_active=True))
    synthetic = make_parties(
        Random(f"{seed}/db-parties"),  # noqa: S311 - synthetic data, not security
        institutions=institutions,
        insurers=max(insurers, 1),
        year=year,
    )
    with transaction.atomic():
        for made in synthetic.insurers[: max(0, insurers - len(existing_insurers))]:
            if not Insurer.objects.filter(number=made.number).exists():
                insurer_save(
                    insurer=Insurer(number=made.number, name=made.name, contract_start=dt.date(year, 4, 1)), actor=None
                )
        by_number = {insurer.number: insurer for insurer in Insurer.objects.filter(is_active=True)}
        numbers = sorted(by_number)
        for position, made in enumerate(synthetic.institutions):
            if Institution.objects.filter(number=made.number).exists():
                continue
            institution = institution_save(
                institution=Institution(
                    number=made.number,
                    name=made.name,
                    postal_code=made.postal_code or "",
                    address=made.address or "",
                    phone=made.telephone or "",
                ),
                actor=None,
            )
            skipped = numbers[position % len(numbers)] if len(numbers) > 1 else None
            terms = [contract.terms for contract in synthetic.contracts if contract.institution_number == made.number]
            for offset, number in enumerate(n for n in numbers if n != skipped):
                _save_contract(by_number[number], institution, terms[offset % len(terms)], year)


# Synthetic contracts cover every kind of archive the generator makes.
SYNTHETIC_COVERS = {
    "guidance_active_price": DEFAULT_GUIDANCE_PRICES["1"],
    "guidance_motivational_price": DEFAULT_GUIDANCE_PRICES["2"],
    "results_only": True,
    "other_checkups": True,
}


def _save_contract(insurer: Insurer, institution: Institution, terms: ContractTerms, year: int) -> None:
    contract_from_terms(
        insurer=insurer, institution=institution, terms=terms, valid_from=dt.date(year, 4, 1), covers=SYNTHETIC_COVERS
    )


def _parties(institutions: list[Institution]) -> Parties:
    contracts = Contract.objects.filter(institution__in=institutions).select_related("insurer", "institution")
    return Parties(
        insurers=tuple(
            SynthInsurer(i.number, i.name) for i in Insurer.objects.filter(is_active=True).order_by("number")
        ),
        institutions=tuple(
            SynthInstitution(i.number, i.name, i.postal_code or None, i.address or None, i.phone or None)
            for i in institutions
        ),
        contracts=tuple(
            SynthContract(c.insurer.number, c.institution.number, c.valid_from, c.valid_to, terms_from_contract(c))
            for c in contracts.prefetch_related("other_items")
        ),
    )


def _optional_path(value: str) -> Path | None:
    return Path(value) if value else None


class Command(BaseCommand):
    help = "Write synthetic 特定健診 submission archives (one per institution) and a manifest of injected defects."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="directory for the archives and manifest.json")
        parser.add_argument("--institutions", type=int, default=1, help="number of institutions (archives)")
        parser.add_argument("--records", type=int, default=100, help="records (persons) per archive")
        parser.add_argument("--year", type=int, required=True, help="fiscal year of the checkups, e.g. 2024")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--defect",
            action="append",
            default=[],
            choices=sorted(DEFECTS),
            metavar="NAME",
            help="inject this defect (repeatable); see kenshin.synth.defects",
        )
        parser.add_argument(
            "--defect-rate",
            type=float,
            default=0.0,
            help="probability that each further record/archive gets one of the defects",
        )
        parser.add_argument(
            "--create-parties", action="store_true", help="create missing institutions, insurers and contracts"
        )
        parser.add_argument("--insurers", type=int, default=3, help="insurers to have when creating parties")
        parser.add_argument("--password", help="lock the archives with this password (AES)")
        parser.add_argument(
            "--kind", choices=KINDS, default="checkup",
            help="checkup (特定健診, h/c), guidance (特定保健指導: 開始時 and 実績評価時 archives, g/p), "
            "results-only (DATA and ix08 only) or other-checkup (事業者健診, 実施区分 4)",
        )
        parser.add_argument(
            "--guidance-defect", action="append", default=[], choices=sorted(GUIDANCE_DEFECTS), metavar="NAME",
            help="with --kind guidance: inject this defect (repeatable); see kenshin.synth.guidance",
        )
        parser.add_argument(
            "--insurer", default="", metavar="NUMBER",
            help="with --kind other-checkup: one archive uploaded by this insurer (保険者番号) of its own 被保険者' 事業者健診 "
            "(種別 4, sender OID …6.101)",
        )
        parser.add_argument(
            "--insurer-defect", action="append", default=[], choices=sorted(INSURER_UPLOAD_DEFECTS), metavar="NAME",
            help="with --insurer: inject this defect (not_own_insured: one record of another insurer's 被保険者)",
        )
        parser.add_argument(
            "--xsd-dir",
            type=_optional_path,
            default=xsd_dir_from_env(),
            help="official XSD directory to copy into each archive (default: $KENSHIN_XSD_DIR; "
            "an empty value leaves the XSD folder out)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year, wanted = options["year"], options["institutions"]
        if options["xsd_dir"] is not None and not options["xsd_dir"].is_dir():
            raise CommandError(f"no XSD directory at {options['xsd_dir']}")
        institutions = _contracted_institutions(year)
        if len(institutions) < wanted:
            if not options["create_parties"]:
                raise CommandError(
                    f"{wanted} institutions with a contract in fiscal year {year} are needed, "
                    f"{len(institutions)} exist; use --create-parties to create the rest"
                )
            _create_parties(
                institutions=wanted - len(institutions), insurers=options["insurers"], year=year, seed=options["seed"]
            )
            institutions = _contracted_institutions(year)
        profile = AgencyProfile.objects.first()
        try:
            config = GeneratorConfig(
                year=year,
                institutions=wanted,
                records=options["records"],
                seed=options["seed"],
                defects=tuple(options["defect"]),
                defect_rate=options["defect_rate"],
                agency_number=profile.agency_code if profile else DEFAULT_AGENCY_NUMBER,
                xsd_dir=options["xsd_dir"],
                password=options["password"],
            )
            if options["kind"] != "checkup":
                written = write_kind_archives(
                    options["out"], config, _parties(institutions[:wanted]), kind=options["kind"],
                    defects=[*options["guidance_defect"], *options["insurer_defect"]], insurer=options["insurer"] or None,
                )
                records = sum(count for _file, count, _defects in written)
                injected = sum(len(found) for _file, _count, found in written)
                self.stdout.write(
                    f"wrote {len(written)} {options['kind']} archives, {records} records, {injected} injected defects "
                    f"to {options['out']} (manifest.json)"
                )
                return
            manifest = write_archives(options["out"], config, _parties(institutions[:wanted]))
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        injected = sum(len(entry.defects) for entry in manifest.archives)
        records = sum(entry.records for entry in manifest.archives)
        self.stdout.write(
            f"wrote {len(manifest.archives)} archives, {records} records, {injected} injected defects "
            f"to {options['out']} (manifest.json)"
        )
        if manifest.missing_defects:
            self.stderr.write(f"could not inject: {', '.join(manifest.missing_defects)}")
