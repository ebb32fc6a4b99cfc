"""Level 1 rules of 特定保健指導 records (g/p files, 実施区分 2): the contract and its price, the 利用券,
the person's level against their checkup, the order of 開始時 and 実績評価時 and the time between them,
the points and the outcome of the 第4期 evaluation; and, against everything accepted, the same part
twice and two 積極的支援 courses of one person in one 年度. The claim arithmetic is the reader's
(``GDN_AMOUNT_INCONSISTENT``)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from kenshin import guidance as G
from kenshin.copay import CopayRule, compute_guidance_claim
from kenshin.findings import Finding

from ..models import EligibilityTicket, Record, RecordKind, RecordStatus
from .catalogue import ERROR, WARNING, R, rule
from .tickets import person_mismatches

if TYPE_CHECKING:
    from .pending import PendingRecord
    from .records import References

CONTRACTS = "当代行機関と保険者・保健指導機関との契約（特定保健指導の単価）"
RULES_4TH = "特定健康診査・特定保健指導の円滑な実施に向けた手引き（第4期）と標準的な健診・保健指導プログラム（令和6年度版）"
EVALUATION_SOURCE = (
    "第4期: 実績評価は初回面接から3か月以上経過後（保険者の公開資料が厚生労働省の手引きを引用: 岡山県貨物運送健康保険組合"
    "「特定保健指導」）。項目は XML用特定保健指導項目情報（初回面接の実施日付 1022000011・3か月後の評価の実施日付 1042000011）"
)

NO_CONTRACT = rule(
    "GDN_NO_CONTRACT", 1, ERROR, R.NOT_CONTRACTED, "初回面接日に有効な保険者との特定保健指導の契約（この保健指導区分の単価）がありません",
    "保険者との契約期間と、積極的支援・動機付け支援の契約の有無を確認してください。",
    source=CONTRACTS,
)
PRICE_MISMATCH = rule(
    "GDN_PRICE_MISMATCH", 1, ERROR, R.OTHER, "保健指導の単価が契約の単価と一致しません",
    "契約で定めた積極的支援・動機付け支援の単価（1人あたりの総額）を決済情報の単価にしてください。分割請求でも単価は総額です。",
    source=f"{CONTRACTS}と決済情報（gc08 unitPrice）",
)
TICKET_INVALID = rule(
    "GDN_TICKET_INVALID", 1, ERROR, R.TICKET_NUMBER, "利用券整理番号がないか11桁の数字ではありません",
    "利用券の整理番号（11桁）を保健指導情報と決済情報に入力してください。",
    source="co08_V08.xsd（利用券整理番号 11桁、OID …6.210）",
)
TICKET_EXPIRED = rule(
    "GDN_TICKET_EXPIRED", 1, ERROR, R.EXPIRED, "初回面接日が利用券の有効期限を過ぎています",
    "利用券の有効期限内に初回面接を実施したか確認してください。",
    source="利用券の有効期限（保健指導情報 participant/time/high・決済情報 healthGuidanceCard/effectiveTime）",
)
LEVEL_DIFFERS = rule(
    "GDN_LEVEL_DIFFERS", 1, WARNING, R.OTHER, "保健指導区分が同じ年度の特定健診の階層化の結果と異なります",
    "受理済みの特定健診の保健指導レベルと、請求した保健指導区分を確認してください。誤りでなければ確認済みとして受理できます。",
    source=f"{RULES_4TH}（階層化: 積極的支援・動機付け支援）、特定健診の保健指導レベル（9N506）",
)
EVALUATION_MISSING = rule(
    "GDN_EVALUATION_MISSING", 1, ERROR, R.MISSING, "実績評価時の保健指導情報に初回面接日または実績評価日がありません",
    "初回面接の実施日付（1022000011）と3か月後の評価の実施日付（1042000011）を記録してください。",
    source=EVALUATION_SOURCE,
)
EVALUATION_TOO_EARLY = rule(
    "GDN_EVALUATION_TOO_EARLY", 1, ERROR, R.OTHER, "実績評価が初回面接から3か月を経過していません（第4期）",
    "実績評価は初回面接から3か月以上経過した後に行ってください。日付の誤りであれば訂正して再提出してください。",
    source=EVALUATION_SOURCE,
)
EVALUATION_BEFORE_START = rule(
    "GDN_EVALUATION_BEFORE_START", 1, ERROR, R.OTHER, "実績評価日が初回面接日より前です",
    "初回面接日と実績評価日を確認してください。",
    source=EVALUATION_SOURCE,
)
START_MISSING = rule(
    "GDN_START_MISSING", 1, ERROR, R.MISSING, "分割請求の実績評価時に対応する開始時（同じ利用券）の受理済みデータがありません",
    "先に開始時（初回面接）の保健指導情報・決済情報を送付してください。分割しない場合は支払割合を100%にしてください。",
    source="決済情報（gc08 paymentRate・guidanceTiming: 開始時と実績評価時の分割請求）と利用券整理番号",
)
START_AFTER_EVALUATION = rule(
    "GDN_START_AFTER_EVALUATION", 1, ERROR, R.OTHER, "同じ利用券の実績評価時が既に受理されています（開始時は実績評価時より前）",
    "開始時の保健指導情報は実績評価時より前に送付してください。訂正の場合は返戻された受付の訂正データとして送付してください。",
    source="保健指導実施時点（別表11: 開始時 → 実績評価時）",
)
POINTS_STATED = rule(
    "GDN_POINTS_STATED", 1, ERROR, R.FORMAT, "支援の実施ポイントが第4期の支援形態ごとのポイントと一致しません",
    "個別支援・グループ支援は70ポイント、電話・電子メール等は30ポイント（最低時間を満たす支援）で記録してください。",
    source=f"{RULES_4TH}（プロセス評価: 個別70・グループ70・電話30・電子メール等30。最低時間は未確認）",
)
POINTS_SHORT = rule(
    "GDN_POINTS_SHORT", 1, ERROR, R.OTHER, "積極的支援の実績評価でアウトカム評価とプロセス評価の合計が180ポイントに達していません",
    "腹囲2cm・体重2kg減（180ポイント）を達成しない場合は、継続的支援と行動変容で180ポイント以上としてから実績評価してください。"
    "途中で終了した場合は途中終了時（実施時点3）として送付してください。",
    source=f"{RULES_4TH}（積極的支援は180ポイント以上、腹囲2cm・体重2kg減は180ポイント）",
)
POINTS_CLAIMED = rule(
    "GDN_POINTS_CLAIMED", 1, ERROR, R.FORMAT, "決済情報の実施ポイントが保健指導情報から計算したポイントと一致しません",
    "決済情報の pointCountCompleted を、保健指導情報のアウトカム評価とプロセス評価の合計にしてください。",
    source=f"決済情報（gc08 pointCountCompleted）と{RULES_4TH}",
)
CLAIM_MISSING = rule(
    "GDN_CLAIM_MISSING", 1, ERROR, R.MISSING, "保健指導情報に対応する決済情報ファイル（p…）がありません",
    "保健指導情報ファイルと対になる決済情報ファイルを含めてください。",
    source="送付用ファイルアーカイブ仕様（DATA の g… と CLAIMS の p… は 1対1）",
)
DUPLICATE_PART = rule(
    "GDN_DUPLICATE", 1, ERROR, R.OTHER, "同じ利用券・同じ実施時点の保健指導が既に受理されています",
    "再提出の場合は返戻された受付の訂正データとして送付してください。二重請求はできません。",
    source="二重請求の防止（保険者番号＋利用券整理番号＋保健指導実施時点）",
)
ACTIVE_TWICE = rule(
    "GDN_ACTIVE_TWICE", 1, ERROR, R.OTHER, "同じ利用者の積極的支援が同じ年度に別の利用券で既に開始されています",
    "同じ年度に同じ人の積極的支援を二つ実施することはできません。利用者と利用券整理番号を確認してください。",
    source=f"{RULES_4TH}（特定保健指導は年度ごとの特定健診の結果による）",
)

TICKET_DATA = "保険者が登録した利用券データ（券面種別2: 整理番号・利用者・有効期限・窓口負担）"
TICKET_UNKNOWN = rule(
    "GDN_TICKET_UNKNOWN", 1, ERROR, R.TICKET_NUMBER, "利用券整理番号が保険者の発行した利用券にありません",
    "利用券に記載の整理番号（11桁）を確認してください。保険者が利用券データを登録済みの場合に点検します。",
    source=TICKET_DATA,
)
PERSON_MISMATCH = rule(
    "GDN_PERSON_MISMATCH", 1, ERROR, R.TICKET_NUMBER, "利用者が利用券の被保険者（記号・番号・枝番・生年月日・性別）と一致しません",
    "利用券と被保険者証で、記号・番号・枝番・生年月日・性別を確認してください。",
    source=TICKET_DATA,
)
TICKET_DATA_EXPIRED = rule(
    "GDN_TICKET_DATA_EXPIRED", 1, ERROR, R.EXPIRED, "初回面接日が保険者登録の利用券の有効期限を過ぎています",
    "利用券の有効期限内に初回面接を実施したか確認してください。",
    source=TICKET_DATA,
)
COPAY_MISMATCH = rule(
    "GDN_COPAY_MISMATCH", 1, ERROR, R.COPAY, "保健指導の窓口負担・請求金額が保険者登録の利用券の負担条件による計算と一致しません",
    "保険者の利用券データの窓口負担（区分・額・率・上限額）で、窓口負担額と請求金額を計算してください。",
    source=f"{TICKET_DATA}と決済情報（gc08）の計算",
)

_PROBLEMS = {
    "evaluation_missing": EVALUATION_MISSING,
    "evaluation_too_early": EVALUATION_TOO_EARLY,
    "evaluation_before_start": EVALUATION_BEFORE_START,
    "points_stated": POINTS_STATED,
    "points_short": POINTS_SHORT,
}


def _contract_price(refs: References, record: Record, level: str, day: Any) -> tuple[Any, int | None]:
    """The contract valid on ``day`` between the institution and the insurer, and its price for the level."""
    field = "guidance_active_price" if level == G.LEVEL_ACTIVE else "guidance_motivational_price"
    candidates = [c for (number, _kind), contracts in refs.contracts.items() if number == record.insurer_number for c in contracts]
    for contract in candidates:
        if contract.is_valid_on(day) and getattr(contract, field) is not None:
            return contract, getattr(contract, field)
    return None, None


def guidance_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    """The agency's rules on one guidance record (its insurer is known and active)."""
    record, course, claim = pending.record, pending.course, pending.guidance_claim
    path = record.data_path
    found: list[Finding] = []
    if course is None:
        return found
    if claim is None:
        found.append(CLAIM_MISSING.at(file=path))
    number = record.ticket_number
    if not (number.isascii() and number.isdigit() and len(number) == 11):
        found.append(TICKET_INVALID.at(file=path, xpath="//participant/associatedEntity/id/@extension", detail=number or "なし"))
    ticket = pending.guidance.ticket if pending.guidance is not None else None
    expires = (ticket.expires_on if ticket else None) or (claim.ticket_expires_on if claim else None)
    first = course.first_date
    if expires is not None and first is not None and expires < first:
        found.append(TICKET_EXPIRED.at(
            file=path, xpath="//participant/time/high/@value", detail=f"有効期限 {expires:%Y-%m-%d}・初回面接 {first:%Y-%m-%d}"
        ))
    for problem, detail in G.course_problems(course):
        found.append(_PROBLEMS[problem].at(file=path, xpath="//section", detail=detail))
    level = record.guidance_level
    if claim is not None and first is not None:
        contract, price = _contract_price(refs, record, level, first)
        if contract is None:
            found.append(NO_CONTRACT.at(file=path, detail=f"{G.LEVELS.get(level, level)}・初回面接 {first:%Y-%m-%d}"))
        elif price != claim.unit_price:
            found.append(PRICE_MISMATCH.at(
                file=record.claim_path, xpath="/healthGuidanceClaim/settlement/unitPrice", detail=f"{claim.unit_price} ≠ 契約 {price}"
            ))
    if claim is not None and record.guidance_timing == G.TIMING_EVALUATION and level == G.LEVEL_ACTIVE:
        expected = G.completed_points(course)
        if claim.points_completed is not None and claim.points_completed != expected:
            found.append(POINTS_CLAIMED.at(
                file=record.claim_path, xpath="/healthGuidanceClaim/settlement/pointCountCompleted",
                detail=f"{claim.points_completed} ≠ {expected}",
            ))
    found += _order_findings(pending, refs)
    found += _ticket_data_findings(pending, refs)
    checkup_level = refs.checkup_levels.get((record.person_key, record.fiscal_year))
    if checkup_level in (G.LEVEL_ACTIVE, G.LEVEL_MOTIVATIONAL) and level in (G.LEVEL_ACTIVE, G.LEVEL_MOTIVATIONAL) and checkup_level != level:
        found.append(LEVEL_DIFFERS.at(
            file=path, xpath="//observation[code/@code='1020000001']",
            detail=f"特定健診 {G.LEVELS[checkup_level]}・保健指導 {G.LEVELS[level]}",
        ))
    return found


def _ticket_data_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    """Against the 利用券 the insurer uploaded (only for insurers that uploaded any): known, the same person,
    valid on the 初回面接 date, and the copay of the claim computed with its terms."""
    record, course, claim = pending.record, pending.course, pending.guidance_claim
    if record.insurer_number not in refs.guidance_ticket_insurers:
        return []
    path = record.data_path
    ticket = refs.guidance_tickets.get((record.insurer_number, record.ticket_number))
    if ticket is None:
        return [TICKET_UNKNOWN.at(file=path, xpath="//participant/associatedEntity/id/@extension", detail=record.ticket_number or "なし")]
    found: list[Finding] = []
    mismatched = person_mismatches(record, ticket)
    if mismatched:
        found.append(PERSON_MISMATCH.at(file=path, xpath="//recordTarget/patientRole", detail="・".join(mismatched)))
    first = course.first_date if course is not None else None
    if first is not None and first > ticket.expires_on:
        found.append(TICKET_DATA_EXPIRED.at(file=path, detail=f"有効期限 {ticket.expires_on:%Y-%m-%d}・初回面接 {first:%Y-%m-%d}"))
    if claim is not None and 0 <= claim.payment_rate <= 100:
        rule_of_ticket = CopayRule.from_fields(
            ticket.basic_copay_code, ticket.basic_copay_amount, ticket.basic_copay_rate, ticket.basic_copay_cap
        )
        computed = compute_guidance_claim(
            unit_price=claim.unit_price, payment_rate=claim.payment_rate, rule=rule_of_ticket,
            payment_status=claim.payment_status, first_part=claim.guidance_timing == G.TIMING_START,
        )
        if (computed.payment_amount, computed.claim_amount) != (claim.payment_amount, claim.claim_amount):
            found.append(COPAY_MISMATCH.at(
                file=record.claim_path, xpath="/healthGuidanceClaim/healthGuidanceCard",
                detail=f"窓口負担額 {claim.payment_amount} ≠ {computed.payment_amount}, 請求額 {claim.claim_amount} ≠ {computed.claim_amount}",
            ))
    return found


def _order_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    """開始時 before 実績評価時: a split 実績評価時 needs its 開始時; a 開始時 after its 実績評価時 is refused."""
    record = pending.record
    key = (record.insurer_number, record.ticket_number)
    parts = refs.guidance_parts.get(key, {})
    if record.guidance_timing == G.TIMING_EVALUATION:
        split = record.payment_rate is not None and record.payment_rate < 100
        if split and G.TIMING_START not in parts:
            return [START_MISSING.at(file=record.data_path, detail=f"利用券 {record.ticket_number}・支払割合 {record.payment_rate}%")]
    if record.guidance_timing == G.TIMING_START and G.TIMING_EVALUATION in parts:
        return [START_AFTER_EVALUATION.at(file=record.data_path, detail=f"利用券 {record.ticket_number}")]
    return []


def load_guidance_references(refs: References, pending: Sequence[PendingRecord]) -> None:
    """The accepted parts of the batch's 利用券 (and those earlier in the batch), and the levels of the
    people's accepted checkups of the same 年度."""
    guidance = [p.record for p in pending if p.record.kind == RecordKind.GUIDANCE]
    if not guidance:
        return
    tickets = {(r.insurer_number, r.ticket_number) for r in guidance if r.ticket_number}
    for insurer, ticket, timing in Record.objects.filter(
        kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED,
        insurer_number__in={t[0] for t in tickets}, ticket_number__in={t[1] for t in tickets},
    ).values_list("insurer_number", "ticket_number", "guidance_timing"):
        if (insurer, ticket) in tickets:
            refs.guidance_parts.setdefault((insurer, ticket), {})[timing] = True
    for record in guidance:  # the same archive may hold the 開始時 before its 実績評価時
        if record.guidance_timing == G.TIMING_START and record.ticket_number:
            refs.guidance_parts.setdefault((record.insurer_number, record.ticket_number), {}).setdefault(G.TIMING_START, True)
    numbers = {r.insurer_number for r in guidance}
    uploaded = EligibilityTicket.objects.filter(kind=EligibilityTicket.Kind.GUIDANCE, insurer__number__in=numbers)
    refs.guidance_ticket_insurers |= set(uploaded.values_list("insurer__number", flat=True).distinct())
    for issued in uploaded.filter(ticket_number__in={t[1] for t in tickets}).select_related("insurer"):
        refs.guidance_tickets[(issued.insurer.number, issued.ticket_number)] = issued
    people = {r.person_key for r in guidance if r.person_key}
    years = {r.fiscal_year for r in guidance if r.fiscal_year is not None}
    for who, year, level in Record.objects.filter(
        kind__in=[RecordKind.CHECKUP, RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP], status=RecordStatus.ACCEPTED,
        person_key__in=people, fiscal_year__in=years,
    ).exclude(guidance_level="").values_list("person_key", "fiscal_year", "guidance_level"):
        refs.checkup_levels.setdefault((who, year), level)


def guidance_duplicates(records: Sequence[Record], blocked: AbstractSet[int]) -> dict[int, list[Finding]]:
    """Guidance records that repeat an accepted part (same 利用券 and 実施時点) or start a second 積極的支援
    of the same person in the same 年度 (against everything accepted and the batch so far)."""
    guidance = [r for r in records if r.kind == RecordKind.GUIDANCE]
    if not guidance:
        return {}
    accepted = Record.objects.filter(kind=RecordKind.GUIDANCE, status=RecordStatus.ACCEPTED)
    parts = {
        (insurer, ticket, timing)
        for insurer, ticket, timing in accepted.filter(ticket_number__in={r.ticket_number for r in guidance if r.ticket_number})
        .values_list("insurer_number", "ticket_number", "guidance_timing")
    }
    active: dict[tuple[str, int | None], str] = {
        (who, year): ticket
        for who, year, ticket in accepted.filter(
            guidance_level=G.LEVEL_ACTIVE, guidance_timing=G.TIMING_START, person_key__in={r.person_key for r in guidance}
        ).values_list("person_key", "fiscal_year", "ticket_number")
    }
    found: dict[int, list[Finding]] = {}
    for record in guidance:
        part = (record.insurer_number, record.ticket_number, record.guidance_timing)
        course = (record.person_key, record.fiscal_year)
        if record.ticket_number and part in parts:
            found.setdefault(record.pk, []).append(DUPLICATE_PART.at(file=record.data_path, detail=f"利用券 {record.ticket_number}"))
        elif (
            record.guidance_level == G.LEVEL_ACTIVE and record.guidance_timing == G.TIMING_START and record.person_key
            and course in active and active[course] != record.ticket_number
        ):
            found.setdefault(record.pk, []).append(
                ACTIVE_TWICE.at(file=record.data_path, detail=f"{record.fiscal_year}年度・開始済みの利用券 {active[course]}")
            )
        if record.pk in blocked or record.pk in found:
            continue
        parts.add(part)
        if record.guidance_level == G.LEVEL_ACTIVE and record.guidance_timing == G.TIMING_START and record.person_key:
            active.setdefault(course, record.ticket_number)
    return found
