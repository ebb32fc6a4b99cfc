"""Synthetic archives besides the checkup archives: 特定保健指導 (実施区分 2), results-only (個別契約:
DATA and ix08 only) and 他の健診結果受領分 (事業者健診, 実施区分 4).

Guidance comes in pairs across months: for each institution an archive of 開始時 documents and claims
(報告区分 21, the first part of a split claim) made on ``start_on``, and an archive of 実績評価時
documents and claims (報告区分 22, the rest) for the same people made on ``evaluation_on``, at least
three months after each 初回面接. Named defects break the 第4期 rules one at a time
(`GUIDANCE_DEFECTS`); deterministic for a seed, like the checkup generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

from kenshin import guidance as G
from kenshin.assemble import agency_party, build_submission, institution_party, insurer_party
from kenshin.codes import (
    OID_GUIDANCE_TICKET,
    RATE_SCALE,
    SERVICE_CHECKUP,
    SERVICE_GUIDANCE,
    SERVICE_OTHER_CHECKUP,
    CopayCode,
)
from kenshin.copay import CopayRule, compute_guidance_claim
from kenshin.naming import ArchiveName, MemberName
from kenshin.records import (
    ChargeType,
    CheckupDocument,
    DocumentHeader,
    GuidanceClaim,
    GuidanceDocument,
    Member,
    Observation,
    Section,
    Subject,
    Ticket,
)
from kenshin.rules import fiscal_year_end
from kenshin.synth.defects import Defect, Stage
from kenshin.synth.generator import (
    GeneratedArchive,
    GeneratorConfig,
    InjectedDefect,
    _organization,
    _subject,
    default_parties,
    generate,
)
from kenshin.synth.parties import Parties, SynthInstitution
from kenshin.writer import pack, render_members, xsd_members

# The unit prices of a course when the contract states none (yen, tax included).
DEFAULT_GUIDANCE_PRICES = {G.LEVEL_ACTIVE: 45_000, G.LEVEL_MOTIVATIONAL: 18_000}
START_RATE = 20  # % of the unit price claimed at 開始時; the rest at 実績評価時

GUIDANCE_DEFECTS: dict[str, Defect] = {
    defect.name: defect
    for defect in (
        Defect("guidance_evaluation_too_early", Stage.RECORD, "実績評価が初回面接から3か月未満", intake_rule="GDN_EVALUATION_TOO_EARLY"),
        Defect("guidance_points_short", Stage.RECORD, "積極的支援の実績評価でポイントが180未満", intake_rule="GDN_POINTS_SHORT"),
        Defect("guidance_points_stated_wrong", Stage.RECORD, "支援の実施ポイントが第4期のポイントと異なる", intake_rule="GDN_POINTS_STATED"),
        Defect("guidance_amount_mismatch", Stage.RECORD, "保健指導の請求金額が再計算と一致しない", finding="GDN_AMOUNT_INCONSISTENT"),
        Defect("guidance_ticket_expired", Stage.RECORD, "利用券の有効期限が初回面接日より前", intake_rule="GDN_TICKET_EXPIRED"),
        Defect("guidance_start_missing", Stage.RECORD, "実績評価時の請求に対応する開始時がない（利用券番号が別）", intake_rule="GDN_START_MISSING"),
        Defect("guidance_level_mismatch", Stage.RECORD, "決済情報の保健指導区分が保健指導情報と異なる", finding="PAIR_GUIDANCE_MISMATCH"),
    )
}


@dataclass(frozen=True)
class GuidancePlan:
    """One person's course: who, which level, when, and what happened."""

    subject: Subject
    level: str
    ticket: Ticket
    first_date: date
    evaluation_date: date
    start_waist: Decimal
    start_weight: Decimal
    loss_waist: Decimal
    loss_weight: Decimal
    supports: tuple[G.Support, ...]
    unit_price: int
    copay: CopayRule
    payment_status: str


def _pq(code: str, value: Decimal | int, unit: str) -> Observation:
    return Observation(code=code, xml_type="PQ", value=str(value), unit=unit)


def _int(code: str, value: int) -> Observation:
    return Observation(code=code, xml_type="INT", value=str(value))


def _ts(code: str, value: date) -> Observation:
    return Observation(code=code, xml_type="TS", value=f"{value:%Y%m%d}")


def _cd(code: str, answer: str, oid: str) -> Observation:
    return Observation(code=code, xml_type="CD", answer_code=answer, answer_oid=oid)


def _support_observations(support: G.Support) -> tuple[Observation, ...]:
    """One support as the flat items of section 90040 (hg08 allows no coded-null group): its date first."""
    return (
        _ts(G.SUPPORT_DATE, support.on or date(2000, 1, 1)),
        _cd(G.SUPPORT_FORM, support.form or "1", G.OID_SUPPORT_FORM),
        _pq(G.SUPPORT_MINUTES, support.minutes or 0, "min"),
        _int(G.SUPPORT_POINTS, support.points if support.points is not None else G.support_points(support)),
    )


def guidance_document(plan: GuidancePlan, timing: str, *, created_on: date, institution: SynthInstitution) -> GuidanceDocument:
    """The 開始時 (timing 1) or 実績評価時 (timing 2) document of a course."""
    organization = _organization(institution)
    common = Section(G.SECTION_COMMON, None, (_cd(G.LEVEL, plan.level, G.OID_LEVEL),))
    first = Section(
        G.SECTION_FIRST,
        None,
        (
            _ts(G.FIRST_DATE, plan.first_date),
            _cd(G.FIRST_FORM, "1", G.OID_FIRST_FORM),
            _pq(G.FIRST_MINUTES, 30, "min"),
            _pq(G.START_WAIST, plan.start_waist, "cm"),
            _pq(G.START_WEIGHT, plan.start_weight, "kg"),
            _pq(G.PLANNED_WEEKS, 12, "wk"),
            _pq(G.TARGET_WAIST, plan.start_waist - 2, "cm"),
            _pq(G.TARGET_WEIGHT, plan.start_weight - 2, "kg"),
            _int(G.PLANNED_POINTS, sum(G.support_points(s) for s in plan.supports)),
        ),
    )
    sections = [common, first]
    service_date = plan.first_date
    if timing == G.TIMING_EVALUATION:
        service_date = plan.evaluation_date
        if plan.supports:
            sections.append(Section(G.SECTION_SUPPORT, None, tuple(o for s in plan.supports for o in _support_observations(s))))
        stated = sum(s.points if s.points is not None else G.support_points(s) for s in plan.supports)
        sections.append(
            Section(
                G.SECTION_FINAL,
                None,
                (
                    _ts(G.EVALUATION_DATE, plan.evaluation_date),
                    _cd(G.EVALUATION_FORM, "1", G.OID_EVALUATION_FORM),
                    _pq(G.EVALUATION_WAIST, plan.start_waist - plan.loss_waist, "cm"),
                    _pq(G.EVALUATION_WEIGHT, plan.start_weight - plan.loss_weight, "kg"),
                    _cd(G.IMPROVED_DIET, "1", G.OID_IMPROVEMENT),
                    _cd(G.IMPROVED_ACTIVITY, "0", G.OID_IMPROVEMENT),
                    _cd(G.SMOKING, "3", G.OID_SMOKING),
                    _int(G.PERFORMED_POINTS, stated),
                    _int(G.PERFORMED_COUNT, len(plan.supports)),
                ),
            )
        )
    header = DocumentHeader(
        report_category=G.REPORT_CATEGORY_OF_TIMING[timing],
        created_on=created_on,
        subject=plan.subject,
        author=organization,
        tickets=(plan.ticket,),
        program_code=None,
        service_date=service_date,
        performer=organization,
    )
    return GuidanceDocument(header=header, sections=tuple(sections))


def _charge(rule: CopayRule) -> tuple[ChargeType | None, int | None]:
    if rule.code is CopayCode.FIXED:
        charge = ChargeType(rule.code.value, amount=rule.amount)
    elif rule.code is CopayCode.RATE:
        charge = ChargeType(rule.code.value, rate=rule.rate)
    else:
        charge = ChargeType(rule.code.value)
    return charge, (rule.cap or None)


def guidance_claim(plan: GuidancePlan, timing: str, *, institution: SynthInstitution) -> GuidanceClaim:
    """The claim of one part: 開始時 START_RATE %, 実績評価時 the rest."""
    rate = START_RATE if timing == G.TIMING_START else 100 - START_RATE
    computed = compute_guidance_claim(
        unit_price=plan.unit_price, payment_rate=rate, rule=plan.copay, payment_status=plan.payment_status,
        first_part=timing == G.TIMING_START,
    )
    copayment, cap = _charge(plan.copay)
    course_points = None
    if timing == G.TIMING_EVALUATION:
        document = guidance_document(plan, timing, created_on=plan.evaluation_date, institution=institution)
        course_points = G.completed_points(G.course_of(document))
    return GuidanceClaim(
        service_event_type=SERVICE_GUIDANCE,
        guidance_level=plan.level,
        guidance_timing=timing,
        institution_number=institution.number,
        subject=replace(plan.subject, address=""),
        guidance_ticket_number=plan.ticket.number,
        checkup_ticket_number=None,
        ticket_expires_on=plan.ticket.expires_on,
        copayment=copayment,
        max_insurance_limit=cap,
        unit_price=plan.unit_price,
        payment_rate=rate,
        points_completed=course_points,
        points_intended=sum(G.support_points(s) for s in plan.supports) if plan.level == G.LEVEL_ACTIVE else None,
        calculated_amount=computed.calculated_amount,
        payment_status=plan.payment_status,
        payment_amount=computed.payment_amount,
        claim_amount=computed.claim_amount,
    )


def _plan_course(
    rng: Random, insurer_number: str, first_date: date, ticket_serial: int, year: int, prices: dict[str, int]
) -> GuidancePlan:
    subject = _subject(rng, insurer_number, first_date)
    level = G.LEVEL_ACTIVE if rng.random() < 0.4 else G.LEVEL_MOTIVATIONAL
    waist, weight = Decimal(rng.randint(860, 1050)) / 10, Decimal(rng.randint(620, 950)) / 10
    achieved = rng.random() < 0.6
    loss_waist = Decimal(rng.randint(20, 45)) / 10 if achieved else Decimal(rng.randint(0, 15)) / 10
    loss_weight = Decimal(rng.randint(20, 40)) / 10 if achieved else Decimal(rng.randint(0, 15)) / 10
    evaluation = G.earliest_evaluation(first_date) + timedelta(days=rng.randrange(0, 20))
    supports: list[G.Support] = []
    if level == G.LEVEL_ACTIVE:
        # Enough process points that the course reaches 180 even without the outcome.
        day = first_date
        for form, minutes in (("1", 20), ("4", 10), ("6", 0), ("1", 20), ("4", 10)):
            day += timedelta(days=14)
            supports.append(G.Support(on=day, form=form, minutes=minutes, points=None))
    copay = rng.choice((
        CopayRule(CopayCode.NONE),
        CopayRule(CopayCode.FIXED, amount=1000),
        CopayRule(CopayCode.RATE, rate=10 * RATE_SCALE // 100),
    ))
    return GuidancePlan(
        subject=subject,
        level=level,
        ticket=Ticket(
            number=f"{year % 100:02d}2{ticket_serial:08d}",
            expires_on=fiscal_year_end(first_date) + timedelta(days=365),
            insurer_number=insurer_number,
            kind="2",
            base_oid=OID_GUIDANCE_TICKET,
        ),
        first_date=first_date,
        evaluation_date=evaluation,
        start_waist=waist,
        start_weight=weight,
        loss_waist=loss_waist,
        loss_weight=loss_weight,
        supports=tuple(supports),
        unit_price=prices.get(level, DEFAULT_GUIDANCE_PRICES[level]),
        copay=copay,
        payment_status=rng.choice((G.PAYMENT_ALL_AT_FIRST, G.PAYMENT_OTHERWISE)),
    )


def _apply_defect(name: str, plan: GuidancePlan) -> GuidancePlan | None:
    """A plan changed so that its documents break one rule (None when the defect cannot apply)."""
    if name == "guidance_evaluation_too_early":
        return replace(plan, evaluation_date=plan.first_date + timedelta(days=60))
    if name == "guidance_points_short":
        if plan.level != G.LEVEL_ACTIVE:
            plan = replace(plan, level=G.LEVEL_ACTIVE, unit_price=DEFAULT_GUIDANCE_PRICES[G.LEVEL_ACTIVE])
        return replace(plan, supports=plan.supports[:1], loss_waist=Decimal("0.5"), loss_weight=Decimal("0.5"))
    if name == "guidance_points_stated_wrong":
        if not plan.supports:
            return None
        first = plan.supports[0]
        return replace(plan, supports=(replace(first, points=G.support_points(first) + 10), *plan.supports[1:]))
    if name == "guidance_ticket_expired":
        return replace(plan, ticket=replace(plan.ticket, expires_on=plan.first_date - timedelta(days=1)))
    return plan  # the others change the files, not the plan


@dataclass(frozen=True)
class GuidancePair:
    """The 開始時 and 実績評価時 archives of one institution (the second may be None)."""

    start: GeneratedArchive
    evaluation: GeneratedArchive | None
    plans: tuple[GuidancePlan, ...]


def _archive(
    config: GeneratorConfig,
    institution: SynthInstitution,
    created_on: date,
    service: str,
    *,
    guidance: Sequence[Member[GuidanceDocument]] = (),
    guidance_claims: Sequence[Member[GuidanceClaim]] = (),
    checkups: Sequence[Member[CheckupDocument]] = (),
    defects: Sequence[InjectedDefect] = (),
) -> GeneratedArchive:
    name = ArchiveName(institution.number, config.agency_number, created_on, 0, service)
    submission = build_submission(
        name=name,
        interaction_type="1",
        sender=institution_party(institution.number),
        receiver=agency_party(config.agency_number),
        checkups=checkups,
        guidance=guidance,
        guidance_claims=guidance_claims,
    )
    members = render_members(submission)
    if config.xsd_dir is not None:
        members.update(xsd_members(config.xsd_dir))
    data = pack(name.stem, members, created_on=created_on, password=config.password, compresslevel=config.compresslevel)
    renamed = [replace(d, archive=name.filename) for d in defects]
    return GeneratedArchive(name.filename, data, submission, institution.number, tuple(renamed))


def generate_guidance(
    config: GeneratorConfig,
    parties: Parties | None = None,
    *,
    start_on: date | None = None,
    evaluation_on: date | None = None,
    defects: Sequence[str] = (),
    prices: dict[str, int] | None = None,
) -> Iterator[GuidancePair]:
    """One pair of guidance archives per institution: 開始時 made on ``start_on`` (初回面接 in the month
    before), 実績評価時 made on ``evaluation_on`` (default: 4 months later). Every named defect is
    injected once, into the first institution's archives. ``evaluation_on`` earlier than every
    evaluation leaves the second archive out."""
    for name in defects:
        if name not in GUIDANCE_DEFECTS:
            raise ValueError(f"unknown guidance defect {name!r}; known: {', '.join(sorted(GUIDANCE_DEFECTS))}")
    parties = parties or default_parties(config)
    start_day = start_on or date(config.year, 6, 10)
    evaluation_day = evaluation_on or start_day + timedelta(days=125)
    for index, institution in enumerate(parties.institutions[: config.institutions]):
        rng = Random(f"{config.seed}/guidance/{index}")  # noqa: S311 - synthetic data, not security
        insurers = sorted({c.insurer_number for c in parties.contracts_for(institution.number)})
        if not insurers:
            raise ValueError(f"institution {institution.number} has no contract")
        plans: list[GuidancePlan] = []
        injected: dict[int, str] = {}
        wanted = list(defects) if index == 0 else []
        for serial in range(config.records):
            first = start_day - timedelta(days=rng.randrange(1, 28))
            plan = _plan_course(
                rng, rng.choice(insurers), first, config.ticket_offset + index * config.records + serial + 1,
                config.year, prices or {},
            )
            for name in wanted:  # the first defect that applies to this person
                changed = _apply_defect(name, plan)
                if changed is not None:
                    plan = changed
                    injected[serial] = name
                    wanted.remove(name)
                    break
            plans.append(plan)
        start_docs, start_claims, eval_docs, eval_claims = [], [], [], []
        start_defects: list[InjectedDefect] = []
        eval_defects: list[InjectedDefect] = []
        for serial, plan in enumerate(plans, start=1):
            defect_name = injected.get(serial - 1)
            member = MemberName("g", institution.number, start_day, 0, SERVICE_GUIDANCE, serial)
            start_docs.append(Member(member.path, guidance_document(plan, G.TIMING_START, created_on=start_day, institution=institution)))
            start_claim = guidance_claim(plan, G.TIMING_START, institution=institution)
            if defect_name == "guidance_ticket_expired":
                start_defects.append(_injected(defect_name, member.path))
            start_claims.append(Member(member.with_prefix("p").path, start_claim))
            if plan.evaluation_date > evaluation_day:
                continue
            eval_plan = plan
            if defect_name == "guidance_start_missing":
                eval_plan = replace(plan, ticket=replace(plan.ticket, number=f"{config.year % 100:02d}29{serial:07d}"))
            member = MemberName("g", institution.number, evaluation_day, 0, SERVICE_GUIDANCE, serial)
            document = guidance_document(eval_plan, G.TIMING_EVALUATION, created_on=evaluation_day, institution=institution)
            claim = guidance_claim(eval_plan, G.TIMING_EVALUATION, institution=institution)
            if defect_name == "guidance_amount_mismatch":
                claim = replace(claim, claim_amount=claim.claim_amount + 100)
            elif defect_name == "guidance_level_mismatch":
                other = G.LEVEL_MOTIVATIONAL if claim.guidance_level == G.LEVEL_ACTIVE else G.LEVEL_ACTIVE
                claim = replace(claim, guidance_level=other)
            if defect_name is not None and defect_name != "guidance_ticket_expired":
                eval_defects.append(_injected(defect_name, member.path))
            eval_docs.append(Member(member.path, document))
            eval_claims.append(Member(member.with_prefix("p").path, claim))
        start = _archive(config, institution, start_day, SERVICE_GUIDANCE, guidance=start_docs, guidance_claims=start_claims,
                         defects=start_defects)
        evaluation = None
        if eval_docs:
            evaluation = _archive(config, institution, evaluation_day, SERVICE_GUIDANCE, guidance=eval_docs,
                                  guidance_claims=eval_claims, defects=eval_defects)
        yield GuidancePair(start, evaluation, tuple(plans))


def _injected(name: str, member: str) -> InjectedDefect:
    spec = GUIDANCE_DEFECTS[name]
    return InjectedDefect(name, "", member, spec.finding, spec.intake_rule, spec.warning)


def generate_results_only(config: GeneratorConfig, parties: Parties | None = None) -> Iterator[GeneratedArchive]:
    """Results-only archives (個別契約 without claims): the checkup generator's DATA files and ix08, no
    CLAIMS and no su08, 実施区分 1."""
    parties = parties or default_parties(config)
    institutions = {i.number: i for i in parties.institutions}
    for archive in generate(replace(config, defects=(), defect_rate=0.0), parties):
        created = archive.submission.name.submitted_on
        yield _archive(config, institutions[archive.institution], created, SERVICE_CHECKUP, checkups=archive.submission.checkups)


EMPLOYER_PROGRAM = "030"  # 健診プログラムサービスコード: 事業者健診


def generate_employer(config: GeneratorConfig, parties: Parties | None = None) -> Iterator[GeneratedArchive]:
    """他の健診結果受領分 (事業者健診, 実施区分 4): checkup documents with プログラム種別 030 sent by the
    institution on behalf of the employer, no claims."""
    parties = parties or default_parties(config)
    institutions = {i.number: i for i in parties.institutions}
    for archive in generate(replace(config, defects=(), defect_rate=0.0), parties):
        created = archive.submission.name.submitted_on
        checkups = []
        for serial, member in enumerate(archive.submission.checkups, start=1):
            name = MemberName("h", archive.institution, created, 0, SERVICE_OTHER_CHECKUP, serial)
            document = member.record
            header = replace(document.header, program_code=EMPLOYER_PROGRAM)
            checkups.append(Member(name.path, replace(document, header=header)))
        yield _archive(config, institutions[archive.institution], created, SERVICE_OTHER_CHECKUP, checkups=checkups)


NOT_OWN_INSURED = "not_own_insured"  # a record of another insurer's 被保険者 in an insurer's own upload
INSURER_UPLOAD_DEFECTS = (NOT_OWN_INSURED,)


def generate_insurer_employer(
    config: GeneratorConfig, parties: Parties, insurer: str, *, defects: Sequence[str] = ()
) -> GeneratedArchive:
    """An insurer's own upload of 事業者健診 results it received from employers (実施区分 4, 種別 4 保険者 →
    代行機関, sender OID …6.101 = ``insurer``): the generated checkups of its 被保険者, each still named
    by the institution that performed it, プログラム種別 030, no claims. ``not_own_insured`` adds one
    record of another insurer's 被保険者 (a copy of one of its records under the other insurer's number: the
    agency returns it)."""
    unknown = set(defects) - set(INSURER_UPLOAD_DEFECTS)
    if unknown:
        raise ValueError(f"unknown defect(s) {sorted(unknown)}")
    own: list[tuple[str, CheckupDocument]] = []
    created: date | None = None
    for archive in generate(replace(config, defects=(), defect_rate=0.0), parties):
        created = max(created, archive.submission.name.submitted_on) if created else archive.submission.name.submitted_on
        own += [(archive.institution, m.record) for m in archive.submission.checkups if m.record.subject.insurer_number == insurer]
    if not own or created is None:
        raise ValueError(f"no checkup of insurer {insurer} in the generated data")
    chosen = list(own)
    if NOT_OWN_INSURED in defects:
        other = next((i.number for i in parties.insurers if i.number != insurer), None)
        if other is None:
            raise ValueError("not_own_insured needs a second insurer")
        institution, document = own[-1]  # the same person's result, filed under the other insurer's number
        header = replace(document.header, subject=replace(document.subject, insurer_number=other))
        chosen.append((institution, replace(document, header=header)))
    injected: list[InjectedDefect] = []
    checkups = []
    for serial, (institution, document) in enumerate(chosen, start=1):
        name = MemberName("h", institution, created, 0, SERVICE_OTHER_CHECKUP, serial)
        header = replace(document.header, program_code=EMPLOYER_PROGRAM)
        checkups.append(Member(name.path, replace(document, header=header)))
        if document.subject.insurer_number != insurer:
            injected.append(InjectedDefect(NOT_OWN_INSURED, "", name.path, None, "REC_NOT_OWN_INSURED"))
    archive_name = ArchiveName(insurer, config.agency_number, created, 0, SERVICE_OTHER_CHECKUP)
    submission = build_submission(
        name=archive_name, interaction_type="4", sender=insurer_party(insurer), receiver=agency_party(config.agency_number),
        checkups=checkups,
    )
    members = render_members(submission)
    if config.xsd_dir is not None:
        members.update(xsd_members(config.xsd_dir))
    data = pack(archive_name.stem, members, created_on=created, password=config.password, compresslevel=config.compresslevel)
    return GeneratedArchive(archive_name.filename, data, submission, insurer, tuple(replace(d, archive=archive_name.filename) for d in injected))


KINDS = ("checkup", "guidance", "results-only", "other-checkup")


def write_kind_archives(
    out_dir: Path | str, config: GeneratorConfig, parties: Parties, *, kind: str, defects: Sequence[str] = (),
    insurer: str | None = None,
) -> list[tuple[str, int, tuple[InjectedDefect, ...]]]:
    """Write the archives of one kind other than checkups into ``out_dir`` (guidance: both parts of each
    pair) and a ``manifest.json``; returns (file, records, defects) per archive. ``other-checkup`` with
    ``insurer``: that insurer's own upload of its 被保険者' 事業者健診 (one archive)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archives: list[GeneratedArchive] = []
    if kind == "guidance":
        for pair in generate_guidance(config, parties, defects=defects):
            archives += [pair.start, *([pair.evaluation] if pair.evaluation else [])]
    elif kind == "results-only":
        archives = list(generate_results_only(config, parties))
    elif kind == "other-checkup" and insurer:
        archives = [generate_insurer_employer(config, parties, insurer, defects=defects)]
    elif kind == "other-checkup":
        archives = list(generate_employer(config, parties))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    written = []
    for archive in archives:
        (out / archive.filename).write_bytes(archive.data)
        count = len(archive.submission.checkups) + len(archive.submission.guidance)
        written.append((archive.filename, count, archive.defects))
    manifest = {
        "seed": config.seed, "year": config.year, "kind": kind, "agency_number": config.agency_number,
        "archives": [{"file": f, "records": n, "defects": [asdict(d) for d in found]} for f, n, found in written],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return written
