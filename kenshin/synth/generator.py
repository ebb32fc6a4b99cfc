"""Synthetic submission archives: one archive per institution, h/c pairs priced by contract.

Deterministic for a seed: every archive draws from its own ``random.Random`` seeded with
``"<seed>/<archive index>"`` and the parties from ``"<seed>/parties"``; no global state.

Each requested defect is injected at least once (where it can apply); with ``defect_rate`` > 0,
further records and archives receive one of the requested defects (all defects when none was
named) with that probability. What was injected where is returned, and written to
``manifest.json`` by `write_archives`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from random import Random

from kenshin.assemble import agency_party, build_submission, institution_party
from kenshin.codes import PROGRAM_SPECIFIC_CHECKUP, REPORT_CHECKUP, SERVICE_CHECKUP, DetailItem
from kenshin.copay import ClaimComputation, compute_claim
from kenshin.naming import ArchiveName, MemberName
from kenshin.records import (
    CheckupDocument,
    Claim,
    DocumentHeader,
    Member,
    Organization,
    Subject,
    Submission,
    Ticket,
)
from kenshin.rules import age_on, fiscal_year_end
from kenshin.synth import kana
from kenshin.synth.defects import (
    DEFECTS,
    RecordCase,
    Stage,
    apply_members_defect,
    apply_record_defect,
    apply_submission_defect,
    defect,
)
from kenshin.synth.parties import (
    Parties,
    SynthContract,
    SynthInstitution,
    make_parties,
    with_check_digit,
)
from kenshin.synth.values import ResultBuilder, checkup_results
from kenshin.writer import pack, render_members, xsd_members

DEFAULT_AGENCY_NUMBER = with_check_digit("9913001")
_AGE_WEIGHTS = [1.0 + 0.06 * (age - 40) for age in range(40, 75)]


@dataclass(frozen=True)
class GeneratorConfig:
    year: int
    institutions: int = 1
    records: int = 100
    seed: int = 0
    defects: tuple[str, ...] = ()
    defect_rate: float = 0.0
    insurers: int = 5
    agency_number: str = DEFAULT_AGENCY_NUMBER
    xsd_dir: Path | None = None
    password: str | None = None
    compresslevel: int = 1
    # The day the archives are made (default: a day drawn within the fiscal year ``year``).
    created_on: date | None = None
    # The earliest checkup date (default: the first day of the fiscal year).
    checkups_from: date | None = None
    # Added to the serial of every 受診券整理番号, so that archives generated separately for the same
    # insurers and year do not share tickets.
    ticket_offset: int = 0

    def __post_init__(self) -> None:
        for name in self.defects:
            defect(name)
        if not 0.0 <= self.defect_rate <= 1.0:
            raise ValueError("defect_rate is a probability between 0 and 1")
        if self.institutions < 1 or self.records < 1:
            raise ValueError("at least one institution and one record per archive")
        if self.ticket_offset < 0:
            raise ValueError("ticket_offset is not negative")
        if self.created_on is not None and self.checkups_from is not None and self.checkups_from >= self.created_on:
            raise ValueError("checkups_from must come before created_on")


@dataclass(frozen=True)
class InjectedDefect:
    defect: str
    archive: str
    member: str | None
    finding: str | None
    intake_rule: str | None
    warning: bool = False


@dataclass(frozen=True)
class GeneratedArchive:
    filename: str
    data: bytes
    submission: Submission
    institution: str
    defects: tuple[InjectedDefect, ...] = ()


@dataclass
class _Plan:
    """Which defects go to which archive and record."""

    record: dict[tuple[int, int], str] = field(default_factory=dict)
    archive: dict[int, list[str]] = field(default_factory=dict)


def _plan(config: GeneratorConfig, archives: int) -> _Plan:
    plan = _Plan()
    rng = Random(f"{config.seed}/defects")  # noqa: S311 - synthetic data, not security
    forced_records = [name for name in config.defects if DEFECTS[name].stage is Stage.RECORD]
    forced_archives = [name for name in config.defects if DEFECTS[name].stage is not Stage.RECORD]
    for position, name in enumerate(forced_records):
        archive, record = position % archives, position // archives
        if record < config.records:
            plan.record[(archive, record)] = name
    for position, name in enumerate(forced_archives):
        plan.archive.setdefault(position % archives, []).append(name)
    if config.defect_rate > 0:
        pool = list(config.defects) or list(DEFECTS)
        record_pool = [name for name in pool if DEFECTS[name].stage is Stage.RECORD]
        archive_pool = [name for name in pool if DEFECTS[name].stage is not Stage.RECORD]
        for archive in range(archives):
            if archive_pool and archive not in plan.archive and rng.random() < config.defect_rate:
                plan.archive[archive] = [rng.choice(archive_pool)]
            for record in range(config.records):
                if record_pool and (archive, record) not in plan.record and rng.random() < config.defect_rate:
                    plan.record[(archive, record)] = rng.choice(record_pool)
    return plan


def _organization(institution: SynthInstitution) -> Organization:
    return Organization(
        number=institution.number,
        name=institution.name,
        telephone=institution.telephone,
        postal_code=institution.postal_code,
        address=institution.address,
    )


def _subject(rng: Random, insurer_number: str, checkup_date: date) -> Subject:
    sex = "1" if rng.random() < 0.52 else "2"
    age = rng.choices(range(40, 75), _AGE_WEIGHTS)[0]
    year_end = fiscal_year_end(checkup_date)
    birth = year_end - timedelta(days=365 * age + age // 4 + rng.randrange(1, 365))
    postal_code, address = kana.address(rng)
    return Subject(
        insurer_number=insurer_number,
        card_symbol=str(rng.randint(1, 99_999_999)) if rng.random() < 0.9 else None,
        card_number=str(rng.randint(1, 9_999_999)),
        card_branch=f"{rng.randint(0, 3):02d}" if rng.random() < 0.7 else None,
        name_kana=kana.person_name(rng, sex),
        sex=sex,
        birth_date=birth,
        postal_code=postal_code,
        address=address,
    )


def _contract_windows(
    contracts: Sequence[SynthContract], fiscal_start: date, created_on: date
) -> list[tuple[SynthContract, tuple[date, date]]]:
    """Each contract with the checkup dates it covers before the files are created."""
    windows = []
    for contract in contracts:
        first = max(fiscal_start, contract.valid_from)
        last = created_on - timedelta(days=1)
        if contract.valid_to is not None:
            last = min(last, contract.valid_to)
        if first <= last:
            windows.append((contract, (first, last)))
    return windows


class _ArchiveMaker:
    def __init__(self, config: GeneratorConfig, parties: Parties, builder: ResultBuilder) -> None:
        self.config = config
        self.parties = parties
        self.builder = builder
        self._claims: dict[tuple[int, frozenset[DetailItem], tuple[str, ...], int], ClaimComputation] = {}
        self._organizations: dict[str, Organization] = {}

    def _computation(
        self, contract: SynthContract, details: frozenset[DetailItem], others: tuple[str, ...], other_program: int
    ) -> ClaimComputation:
        """Claims repeat for the same contract and items; computations are immutable, so shared."""
        key = (id(contract), details, others, other_program)
        found = self._claims.get(key)
        if found is None:
            found = compute_claim(
                contract.terms, detail_items=details, other_items=others, paid_by_other_program=other_program
            )
            self._claims[key] = found
        return found

    def record(
        self,
        rng: Random,
        institution: SynthInstitution,
        contract: SynthContract,
        serial: int,
        ticket_serial: int,
        created_on: date,
        window: tuple[date, date],
    ) -> tuple[MemberName, CheckupDocument, Claim]:
        first, last = window
        checkup_date = first + timedelta(days=rng.randrange((last - first).days + 1))
        subject = _subject(rng, contract.insurer_number, checkup_date)
        age = age_on(subject.birth_date, checkup_date)
        results = checkup_results(
            rng, self.builder, sex=subject.sex, age=age, other_item_choices=contract.terms.other_prices,
            year_end_age=age_on(subject.birth_date, fiscal_year_end(checkup_date)),
        )
        ticket = Ticket(
            number=f"{self.config.year % 100:02d}1{ticket_serial:08d}",
            expires_on=fiscal_year_end(checkup_date),
            insurer_number=subject.insurer_number,
        )
        organization = self._organizations.get(institution.number)
        if organization is None:
            organization = self._organizations.setdefault(institution.number, _organization(institution))
        document = CheckupDocument(
            header=DocumentHeader(
                report_category=REPORT_CHECKUP,
                created_on=created_on,
                subject=subject,
                author=organization,
                tickets=(ticket,),
                program_code=PROGRAM_SPECIFIC_CHECKUP,
                service_date=checkup_date,
                performer=organization,
            ),
            sections=results.sections,
        )
        other_program = rng.choice((500, 1000)) if rng.random() < 0.02 else 0
        computation = self._computation(contract, results.detail_items, results.other_items, other_program)
        claim = Claim(
            institution_number=institution.number,
            subject=subject,
            ticket_number=ticket.number,
            ticket_expires_on=ticket.expires_on,
            charges=computation.charges,
            settlement=computation.settlement,
        )
        member = MemberName("h", institution.number, created_on, 0, SERVICE_CHECKUP, serial)
        return member, document, claim

    def archive(self, index: int, institution: SynthInstitution, plan: _Plan) -> GeneratedArchive:
        config = self.config
        rng = Random(f"{config.seed}/{index}")  # noqa: S311 - synthetic data, not security
        fiscal_start = date(config.year, 4, 1)
        drawn = fiscal_start + timedelta(days=rng.randrange(60, 330))  # drawn always: the same seed, the same people
        created_on = config.created_on or drawn
        first_checkup = max(fiscal_start, config.checkups_from or fiscal_start)
        windows = _contract_windows(self.parties.contracts_for(institution.number), first_checkup, created_on)
        if not windows:
            raise ValueError(
                f"institution {institution.number} has no contract valid between {fiscal_start} and {created_on}"
            )
        name = ArchiveName(institution.number, config.agency_number, created_on, 0, SERVICE_CHECKUP)
        injected: list[InjectedDefect] = []
        checkups: list[Member[CheckupDocument]] = []
        claims: list[Member[Claim]] = []
        earlier_tickets: dict[str, str] = {}
        earlier_people: list[tuple[Subject, date]] = []
        pending: list[str] = []  # record defects that could not apply yet move on to the next record
        for serial in range(config.records):
            contract, window = rng.choice(windows)
            member, document, claim = self.record(
                rng,
                institution,
                contract,
                serial + 1,
                config.ticket_offset + index * config.records + serial + 1,
                created_on,
                window,
            )
            planned = plan.record.get((index, serial))
            if planned is not None:
                pending.append(planned)
            for defect_name in pending:
                case = RecordCase(
                    rng, document, claim, self.parties, institution.number, dict(earlier_tickets),
                    terms=contract.terms, earlier_people=tuple(earlier_people),
                )
                changed = apply_record_defect(defect_name, case)
                if changed is not None:
                    document, claim = changed
                    injected.append(self._injected(defect_name, name, member.path))
                    pending.remove(defect_name)
                    break
            earlier_tickets.setdefault(claim.subject.insurer_number, claim.ticket_number or "")
            if document.checkup_date is not None and len(earlier_people) < 50:
                earlier_people.append((claim.subject, document.checkup_date))
            checkups.append(Member(member.path, document))
            claims.append(Member(member.with_prefix("c").path, claim))
        submission = build_submission(
            name=name,
            interaction_type="1",
            sender=institution_party(institution.number),
            receiver=agency_party(config.agency_number),
            checkups=checkups,
            claims=claims,
        )
        archive_defects = plan.archive.get(index, [])
        for defect_name in archive_defects:
            if DEFECTS[defect_name].stage is Stage.SUBMISSION:
                changed_submission = apply_submission_defect(defect_name, submission, rng)
                if changed_submission is not None:
                    submission = changed_submission
                    injected.append(self._injected(defect_name, name, None))
        members = render_members(submission)
        if config.xsd_dir is not None:
            members.update(xsd_members(config.xsd_dir))
        for defect_name in archive_defects:
            if DEFECTS[defect_name].stage is Stage.MEMBERS:
                changed_members = apply_members_defect(defect_name, members, rng)
                if changed_members is not None:
                    members = changed_members
                    injected.append(self._injected(defect_name, name, None))
        data = pack(
            name.stem, members, created_on=created_on, password=config.password, compresslevel=config.compresslevel
        )
        return GeneratedArchive(name.filename, data, submission, institution.number, tuple(injected))

    @staticmethod
    def _injected(defect_name: str, name: ArchiveName, member: str | None) -> InjectedDefect:
        spec = DEFECTS[defect_name]
        return InjectedDefect(defect_name, name.filename, member, spec.finding, spec.intake_rule, spec.warning)


def default_parties(config: GeneratorConfig) -> Parties:
    rng = Random(f"{config.seed}/parties")  # noqa: S311 - synthetic data, not security
    return make_parties(rng, institutions=config.institutions, insurers=config.insurers, year=config.year)


def generate(config: GeneratorConfig, parties: Parties | None = None) -> Iterator[GeneratedArchive]:
    """Yield one archive per institution (the first ``config.institutions`` of ``parties``)."""
    parties = parties or default_parties(config)
    institutions: Sequence[SynthInstitution] = parties.institutions[: config.institutions]
    if len(institutions) < config.institutions:
        raise ValueError(f"{config.institutions} institutions requested, {len(institutions)} available")
    plan = _plan(config, len(institutions))
    maker = _ArchiveMaker(config, parties, ResultBuilder())
    for index, institution in enumerate(institutions):
        yield maker.archive(index, institution, plan)


def resubmission(
    archive: GeneratedArchive,
    checkups: Iterable[str],
    *,
    created_on: date,
    agency_number: str = DEFAULT_AGENCY_NUMBER,
    same_day_count: int = 0,
    compresslevel: int = 1,
) -> GeneratedArchive:
    """The corrected resubmission (訂正再提出) of some people of ``archive``: their DATA and CLAIMS files,
    made again on ``created_on``, in an archive of their own.

    ``checkups`` names the people by the path of their DATA file in ``archive``. Pass an archive generated
    with the same configuration but without the defects: the same people, their records corrected.
    """
    wanted = list(dict.fromkeys(checkups))
    documents = {member.path: member for member in archive.submission.checkups}
    claims = {member.stem: member for member in archive.submission.claims}
    missing = [path for path in wanted if path not in documents]
    if missing:
        raise ValueError(f"not in {archive.filename}: {', '.join(missing)}")
    institution = archive.institution
    name = ArchiveName(institution, agency_number, created_on, same_day_count, SERVICE_CHECKUP)
    new_checkups: list[Member[CheckupDocument]] = []
    new_claims: list[Member[Claim]] = []
    for serial, path in enumerate(wanted, start=1):
        member = MemberName("h", institution, created_on, same_day_count, SERVICE_CHECKUP, serial)
        document = documents[path].record
        document = replace(document, header=replace(document.header, created_on=created_on))
        new_checkups.append(Member(member.path, document))
        new_claims.append(Member(member.with_prefix("c").path, claims[documents[path].stem].record))
    submission = build_submission(
        name=name,
        interaction_type="1",
        sender=institution_party(institution),
        receiver=agency_party(agency_number),
        checkups=new_checkups,
        claims=new_claims,
    )
    data = pack(name.stem, render_members(submission), created_on=created_on, compresslevel=compresslevel)
    return GeneratedArchive(name.filename, data, submission, institution)


@dataclass(frozen=True)
class ManifestEntry:
    file: str
    institution: str
    records: int
    defects: tuple[InjectedDefect, ...]


@dataclass(frozen=True)
class Manifest:
    """What `write_archives` wrote: every archive with the defects injected into it."""

    seed: int
    year: int
    agency_number: str
    archives: tuple[ManifestEntry, ...]
    requested_defects: tuple[str, ...]
    missing_defects: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def write_archives(out_dir: Path | str, config: GeneratorConfig, parties: Parties | None = None) -> Manifest:
    """Write every archive into ``out_dir`` and a ``manifest.json`` describing them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries: list[ManifestEntry] = []
    injected: set[str] = set()
    for archive in generate(config, parties):
        (out / archive.filename).write_bytes(archive.data)
        injected.update(item.defect for item in archive.defects)
        entries.append(
            ManifestEntry(archive.filename, archive.institution, len(archive.submission.checkups), archive.defects)
        )
    manifest = Manifest(
        seed=config.seed,
        year=config.year,
        agency_number=config.agency_number,
        archives=tuple(entries),
        requested_defects=config.defects,
        missing_defects=tuple(name for name in config.defects if name not in injected),
    )
    (out / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
